"""What the life-cycle (tags, notes, archive, rm folded from events/ on the ref) costs a listing, side by side.

    python benchmarks/bench_lifecycle.py [--runs 2000] [--synthetic 100000]

1. A real store of ``--runs`` runs in a temporary repository: ``Store.table()`` and ``gitxp ls --limit 5`` (a
   fresh process) with no life-cycle events, then after tagging every run, noting 10% and archiving 10% (three
   event files), each with the fold's caches warm; the ratio is the price of the overlay.
2. The overlay alone on a synthetic table of ``--synthetic`` runs, every one tagged and 10% archived: the worst case
   for ``gitxp ls`` at that size (the fold itself is cached per ref commit).
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


def _best(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def _ls_wall(repo: Path) -> float:
    times = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gitxp", "ls", "--limit", "5"], cwd=repo, check=True, capture_output=True
        )
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def real_store(runs: int) -> None:
    import gitxp

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "init"], cwd=repo, check=True)
        os.chdir(repo)
        for i in range(runs):
            with gitxp.start("bench", params={"i": i}) as run:
                run.result(acc=i / runs)
        store = gitxp.Store.open()
        store.table()
        plain, plain_ls = _best(lambda: store.table()), _ls_wall(repo)
        gitxp.tag(experiment="bench", name="all")
        gitxp.note(experiment="bench", where="acc < 0.1", text="early")
        gitxp.archive(experiment="bench", where="acc >= 0.9")
        store.table()
        overlaid, overlaid_ls = _best(lambda: store.table()), _ls_wall(repo)
        print(
            f"{runs} runs   Store.table(): {plain * 1000:7.1f} ms plain, {overlaid * 1000:7.1f} ms with life-cycle "
            f"(x{overlaid / plain:.2f})"
        )
        print(
            f"{runs} runs   gitxp ls --limit 5 (wall, median of 5): {plain_ls:.3f} s plain, {overlaid_ls:.3f} s "
            f"with life-cycle (x{overlaid_ls / plain_ls:.2f})"
        )
        os.chdir("/")


def synthetic(n: int) -> None:
    import pyarrow as pa

    from gitxp.store.ids import new_run_id
    from gitxp.store.lifecycle import State, overlay

    ids = [new_run_id() for _ in range(n)]
    table = pa.table({"run_id": ids, "x": list(range(n))})
    state = State()
    for i, run in enumerate(ids):
        state.fields[run] = {"tag:all": [[1, "c", "p", 0], True]}
        if i % 10 == 0:
            state.fields[run]["archived"] = [[1, "c", "p", 1], True]
    view = state.view()
    took = _best(lambda: overlay(table, view), 3)
    print(
        f"{n} runs   overlay, every run tagged, 10% archived: {took * 1000:.0f} ms "
        f"(view built once per ref commit: {_best(state.view, 1) * 1000:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--synthetic", type=int, default=100_000)
    args = parser.parse_args()
    real_store(args.runs)
    synthetic(args.synthetic)


if __name__ == "__main__":
    main()
