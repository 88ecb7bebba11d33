"""Issue 26 item 5: the slow places at 100,000 runs, timed for one or more checkouts of gitxp in the same run.

    python benchmarks/bench_slow_places.py [--runs 100000] [--repeat 2] [--store DIR] [CHECKOUT ...]

Builds a store with ``store_fixture.build_store`` (real run files whose meta is what a real run records, an
``argv`` list among it; two versions v1 and v2 of half the runs each; packed) or reuses ``--store DIR``, then for
each checkout (a directory put first on ``PYTHONPATH``; default: this one), alternating, times in fresh
processes: ``gitxp ls --format json``, ``gitxp compare v1 v2`` with and without ``--code``, the dashboard's
compare answer (``Dashboard.compare``, its size too), and a first ``gitxp pull`` of the store into a fresh clone
beside a bare ``git fetch`` of the ref. Prints every measurement (the machine's load swings: compare within a
round).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = (
    "import json, time\n"
    "from gitxp.store import Store\n"
    "from gitxp.ui.api import Dashboard\n"
    "d = Dashboard(Store.open())\n"
    "s = time.perf_counter(); r = d.compare({'a': 'v1', 'b': 'v2'})\n"
    "print(time.perf_counter() - s, len(json.dumps(r)))\n"
)


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(checkout: Path, store: Path, scratch: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    gitxp = [sys.executable, "-m", "gitxp"]
    timed([*gitxp, "ls", "--limit", "1"], store, env)  # the read cache is warm, as after any earlier command
    out = {
        "ls --format json": f"{timed([*gitxp, 'ls', '--format', 'json'], store, env):.2f} s",
        "compare v1 v2": f"{timed([*gitxp, 'compare', 'v1', 'v2'], store, env):.2f} s",
        "compare v1 v2 --code": f"{timed([*gitxp, 'compare', 'v1', 'v2', '--code'], store, env):.2f} s",
    }
    answer = subprocess.run(
        [sys.executable, "-c", DASHBOARD], cwd=store, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    out["dashboard compare"] = f"{float(answer[0]):.2f} s, {int(answer[1]) / 1000:,.1f} kB"
    for name, command in (
        ("first gitxp pull", [*gitxp, "pull", str(store)]),
        (
            "git fetch of the ref",
            ["git", "fetch", "-q", str(store), "refs/gitxp/runs:refs/gitxp/remotes/x/runs"],
        ),
    ):
        clone = scratch / "clone"
        shutil.rmtree(clone, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", str(store), str(clone)], check=True)
        out[name] = f"{timed(command, clone, env):.2f} s"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--store", type=Path, help="reuse a store built by an earlier run")
    parser.add_argument("checkouts", nargs="*", type=Path, default=[ROOT])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-slow-") as tmp:
        scratch = Path(tmp)
        store = args.store
        if store is None:
            from store_fixture import build_store

            store = build_store(scratch, "store", args.runs, versions=2)
        for round_ in range(args.repeat):
            load = os.getloadavg()[0]
            for checkout in args.checkouts:
                for name, value in measure(checkout.resolve(), store, scratch).items():
                    print(f"round {round_ + 1} (load {load:.1f})  {checkout}  {name:22} {value}", flush=True)


if __name__ == "__main__":
    main()
