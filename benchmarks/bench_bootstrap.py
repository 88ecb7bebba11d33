"""compare's bootstrap CI: gitxp's numpy version side by side with the pure-Python loop it replaced, in one run.

python benchmarks/bench_bootstrap.py [--n 30000] [--samples 5000]
"""

from __future__ import annotations

import argparse
import random
import time

from gitxp.compare import bootstrap_ci


def pure_python(a: list[float], b: list[float], samples: int, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    diffs = []
    for _ in range(samples):
        ra = [a[rng.randrange(len(a))] for _ in a]
        rb = [b[rng.randrange(len(b))] for _ in b]
        diffs.append(sum(rb) / len(rb) - sum(ra) / len(ra))
    diffs.sort()
    return diffs[int(0.025 * samples)], diffs[min(samples - 1, int(0.975 * samples))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30_000, help="values per group")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument(
        "--python-samples", type=int, default=50, help="resamples timed for the pure-Python loop"
    )
    args = parser.parse_args()
    rng = random.Random(1)
    a = [rng.gauss(0.80, 0.05) for _ in range(args.n)]
    b = [rng.gauss(0.81, 0.05) for _ in range(args.n)]
    start = time.perf_counter()
    ci = bootstrap_ci(a, b, samples=args.samples)
    numpy_s = time.perf_counter() - start
    start = time.perf_counter()
    pure_python(a, b, args.python_samples)
    python_s = (
        (time.perf_counter() - start) * args.samples / args.python_samples
    )  # extrapolated, linear in samples
    print(
        f"bootstrap {args.samples} resamples of 2x{args.n}: gitxp (numpy) {numpy_s:.2f}s | pure Python "
        f"{python_s:.1f}s (from {args.python_samples} resamples) | ratio {python_s / numpy_s:.0f}x | CI {ci}"
    )


if __name__ == "__main__":
    main()
