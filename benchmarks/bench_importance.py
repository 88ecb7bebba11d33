"""Param importance and printed ids at scale (issues 26.4 and 20.2).

- the dashboard's sweep page of a 2,000-run experiment: time to answer (importance is not computed in the
  request) and time until ``/api/importance`` has the result (computed in a child process);
- ``gitxp show -e bench --importance`` at 50,000 runs: uncached (a sample of 1,000 runs) and cached; floor: a
  bare ``python -c "import optuna.importance._fanova._fanova"`` (the imports fANOVA needs);
- ``gitxp ls`` at 100,000 runs (ids printed as the shortest unique prefixes); floor: pyarrow reading the read
  cache's Parquet file in a fresh interpreter.

Stores are built by ``store_fixture.build_store`` (seconds, not minutes). CLI timings run with bytecode caching on
(``PYTHONPYCACHEPREFIX`` in the scratch directory, ``PYTHONDONTWRITEBYTECODE`` unset: see BENCHMARKS.md) after one
warm-up call. Usage: ``python benchmarks/bench_importance.py [--root DIR] [--repeat 3] [--skip-ls]``.
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

sys.path.insert(0, str(Path(__file__).parent))
from store_fixture import build_store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _env(scratch: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timed(args: list[str], cwd: Path, env: dict[str, str], repeat: int, before: object = None) -> float:
    subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)  # warm-up: bytecode, page cache
    times = []
    for _ in range(repeat):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sweep_page(repo: Path) -> dict[str, float]:
    """Seconds to the sweep page's answer and to the importance that follows, in-process (Starlette's client)."""
    from starlette.testclient import TestClient

    from gitxp.store import Store
    from gitxp.ui.server import create_app

    query = {"experiment": "bench", "metric": "valid_acc:max"}
    subprocess.run(["rm", "-rf", str(repo / ".git" / "gitxp" / "cache" / "importance")], check=True)
    with TestClient(create_app(Store.open(repo))) as client:
        start = time.perf_counter()
        page = client.get("/api/sweep", params=query).json()
        answered = time.perf_counter() - start
        assert page["trials"], page
        while client.get("/api/importance", params=query).json().get("pending"):
            time.sleep(0.2)
        ready = time.perf_counter() - start
    return {"sweep page answered s": answered, "importance ready s": ready}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="scratch directory (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-ls", action="store_true", help="no 100,000-run store (it takes a minute)")
    options = parser.parse_args()
    scratch = options.root or Path(tempfile.mkdtemp(prefix="gitxp-bench-importance-"))
    scratch.mkdir(parents=True, exist_ok=True)
    env = _env(scratch)
    gitxp = [sys.executable, "-m", "gitxp"]
    print(f"load: {os.getloadavg()[0]:.1f}", flush=True)

    small = scratch / "k2" if (scratch / "k2").exists() else build_store(scratch, "k2", 2_000)
    for key, value in sweep_page(small).items():
        print(f"2,000 runs: {key} {value:.2f}", flush=True)

    large = scratch / "k50" if (scratch / "k50").exists() else build_store(scratch, "k50", 50_000)
    show = [*gitxp, "show", "-e", "bench", "--importance", "--metric", "valid_acc:max"]
    subprocess.run(
        [*gitxp, "ls", "--limit", "1"], cwd=large, env=env, check=True, capture_output=True
    )  # warm

    def forget() -> None:
        subprocess.run(["rm", "-rf", str(large / ".git" / "gitxp" / "cache" / "importance")], check=True)

    floor = _timed(
        [sys.executable, "-c", "import optuna.importance._fanova._fanova"], large, env, options.repeat
    )
    uncached = _timed(show, large, env, options.repeat, before=forget)
    cached = _timed(show, large, env, options.repeat)
    print(
        f"50,000 runs: show --importance {uncached:.2f} s uncached, {cached:.2f} s cached; import floor {floor:.2f} s"
    )

    if not options.skip_ls:
        huge = (
            scratch / "k100"
            if (scratch / "k100").exists()
            else build_store(scratch, "k100", 100_000, unpacked=100)
        )
        subprocess.run([*gitxp, "ls"], cwd=huge, env=env, check=True, capture_output=True)  # warm the cache
        cache = huge / ".git" / "gitxp" / "cache" / "runs.parquet"
        read = f"import pyarrow.parquet as pq; pq.ParquetFile({str(cache)!r}).read()"
        floor = _timed([sys.executable, "-c", read], huge, env, options.repeat)
        listing = _timed([*gitxp, "ls"], huge, env, options.repeat)
        print(
            f"100,000 runs: ls {listing:.2f} s (unique id prefixes); floor (pyarrow reads the cache) {floor:.2f} s"
        )
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
