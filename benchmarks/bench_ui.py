"""Dashboard speed at scale: first page and a sort by a result over a store of N runs (default 100,000).

Builds the store with ``store_fixture.build_store`` (real run files with the meta a real run records, an
``argv`` list among it, over two versions v1 and v2, packed as ``gitxp gc`` would), starts ``gitxp ui --port 0``
as a real server and times real HTTP requests, the compare page of v1 against v2 among them (its time and size);
``gitxp ls --limit 100`` on the same store is timed alongside as the terminal's equivalent. Targets (issue 11):
first page < 1 s, sort by a result < 0.5 s.

    python benchmarks/bench_ui.py [--runs 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from store_fixture import build_store  # noqa: E402
from ui_helpers import start_ui, stop  # noqa: E402

from gitxp.store import Store  # noqa: E402


def get(url: str) -> tuple[float, dict]:
    elapsed, data, _size = get_sized(url)
    return elapsed, data


def get_sized(url: str) -> tuple[float, dict, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url) as resp:
        body = resp.read()
    return time.perf_counter() - start, json.loads(body), len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        repo = build_store(Path(tmp), "ui", args.runs, versions=2)
        store = Store.open(repo)
        store.table()  # the on-disk cache a user's earlier `gitxp ls` leaves
        print(f"built a store of {args.runs} runs in {time.perf_counter() - t0:.1f}s")
        proc, url = start_ui(repo)
        try:
            first_cold, data = get(f"{url}/api/runs?limit=100")
            assert data["total"] == args.runs, data["total"]
            firsts, sorts, wheres = [], [], []
            for _ in range(args.repeat):
                time.sleep(1.1)  # past the one-second table cache: every request re-reads the store
                firsts.append(get(f"{url}/api/runs?limit=100")[0])
                time.sleep(1.1)
                elapsed, data = get(f"{url}/api/runs?limit=100&sort=-results.valid_acc")
                values = [r["results.valid_acc"] for r in data["rows"]]
                assert values == sorted(values, reverse=True)
                sorts.append(elapsed)
                time.sleep(1.1)
                wheres.append(get(f"{url}/api/runs?limit=100&where=valid_acc%20%3E%200.5&sort=params.f0")[0])
            cached = statistics.median(
                get(f"{url}/api/runs?limit=100&offset=500&sort=-results.valid_acc")[0]
                for _ in range(args.repeat)
            )
            compares, size = [], 0
            for _ in range(args.repeat):
                elapsed, data, size = get_sized(f"{url}/api/compare?a=v1&b=v2")
                assert [g["runs"] for g in data["groups"]] == [args.runs // 2] * 2, data["groups"]
                compares.append(elapsed)
        finally:
            stop(proc)
        ls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "gitxp", "ls", "--limit", "100"],
                cwd=repo,
                check=True,
                capture_output=True,
            )
            ls.append(time.perf_counter() - start)
    print(f"runs in store                     {args.runs}")
    print(f"first page, first request         {first_cold * 1000:8.0f} ms   (target < 1000 ms)")
    print(
        f"first page (store re-read)        {statistics.median(firsts) * 1000:8.0f} ms   (target < 1000 ms)"
    )
    print(f"sort by a result (store re-read)  {statistics.median(sorts) * 1000:8.0f} ms   (target < 500 ms)")
    print(f"where + sort (store re-read)      {statistics.median(wheres) * 1000:8.0f} ms")
    print(f"sort, next page (cached table)    {cached * 1000:8.0f} ms")
    print(f"`gitxp ls --limit 100` (process)  {statistics.median(ls) * 1000:8.0f} ms   (terminal equivalent)")
    print(
        f"compare v1 v2 ({args.runs // 2:,} runs each)  {statistics.median(compares) * 1000:8.0f} ms, {size / 1e3:.1f} kB"
    )


if __name__ == "__main__":
    main()
