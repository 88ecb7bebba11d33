"""What recording one run adds to a short script: a fresh process running ``with gitxp.start(): ...`` against
the same process without gitxp, and against gitxp as it ran while pyarrow imported pandas (forced here by
importing pandas first, which is what ``pa.array`` did on gitxp's first array), alternating.

    python benchmarks/bench_one_run.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """
import sys
if sys.argv[1] == "pandas":
    import pandas  # noqa: F401  (what pyarrow's first pa.array call imported)
if sys.argv[1] != "bare":
    import gitxp
    with gitxp.start(params={"lr": 0.1, "layers": 3, "optim": "adam"}) as run:
        for step in range(10):
            run.log(step=step, loss=1.0 / (step + 1))
        run.result(acc=0.9)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        repo = Path(tmp) / "one"
        repo.mkdir()
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@b"]
        subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
        (repo / "one.py").write_text(SCRIPT)
        subprocess.run([*git, "add", "."], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-qm", "one"], cwd=repo, check=True)
        times: dict[str, list[float]] = {"bare": [], "gitxp": [], "pandas": []}
        for k in range(args.repeat + 1):
            for mode in times:
                start = time.perf_counter()
                subprocess.run([sys.executable, "one.py", mode], cwd=repo, env=env, check=True)
                if k:  # the first round warms the byte-code caches
                    times[mode].append(time.perf_counter() - start)
        bare, gitxp, pandas = (statistics.median(times[m]) for m in ("bare", "gitxp", "pandas"))
        print(
            f"one run in a fresh process: bare {bare * 1000:.0f} ms | gitxp +{(gitxp - bare) * 1000:.0f} ms | "
            f"gitxp with pandas imported +{(pandas - bare) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
