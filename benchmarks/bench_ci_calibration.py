"""How often `gitxp compare`'s interval calls an unchanged metric different (its false-positive rate).

Both sides are drawn from the same normal distribution, so every "significant" verdict is a false one; the nominal
rate of a 95% interval is 2.5% per direction. Printed side by side: the bare percentile bootstrap and gitxp's
interval (the bootstrap widened to Welch's t interval when that is wider).

    python benchmarks/bench_ci_calibration.py [--trials 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

from gitxp.compare import _percentiles, _resampled_means, bootstrap_ci


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap resamples per interval")
    args = parser.parse_args()
    print(f"{'runs a side':>11}  {'percentile bootstrap':>20}  {'gitxp':>8}   (called worse; nominal 0.025)")
    for k in (3, 5, 10, 30):
        rng = np.random.default_rng(k)
        bare = ours = 0
        for trial in range(args.trials):
            a, b = rng.normal(size=k), rng.normal(size=k)
            inner = np.random.default_rng(trial)
            low, high = _percentiles(
                _resampled_means(b, args.samples, inner) - _resampled_means(a, args.samples, inner),
                args.samples,
            )
            bare += high < 0
            ours += bootstrap_ci(a.tolist(), b.tolist(), samples=args.samples, seed=trial)[1] < 0
        print(f"{k:>11}  {bare / args.trials:>20.3f}  {ours / args.trials:>8.3f}")


if __name__ == "__main__":
    main()
