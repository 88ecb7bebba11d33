"""Store benchmarks W1, W2, W3, W5 of shared/BENCHMARKS.md: gitxp side by side with its floor, in one run.

    python benchmarks/bench_store.py            # full sizes (W3 at 1,000 and 100,000 runs)
    python benchmarks/bench_store.py --quick    # smaller sizes, a smoke test

Every figure is the median of ``--repeat`` repetitions; the ratio is gitxp / floor measured in the same run.
MLflow and Optuna columns are filled when those packages are installed (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import gitxp
from gitxp.ids import new_run_id
from gitxp.store import Store, flush_all, record_table, run_path


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fresh_repo(root: Path, name: str) -> Path:
    repo = root / name
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "t.py").write_text("print(1)\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)
    return repo


def params_of(i: int) -> dict[str, object]:
    return {
        **{f"f{k}": random.random() for k in range(4)},
        **{f"i{k}": i + k for k in range(3)},
        **{f"s{k}": f"value{i % 7}" for k in range(3)},
    }


# ---------------------------------------------------------------------- W1


def w1(root: Path, n: int, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}

    def gitxp_runs() -> None:
        repo = fresh_repo(root, f"w1-{new_run_id()}")
        for i in range(n):
            with gitxp.start(params=params_of(i), meta={f"m{k}": "x" for k in range(5)}, path=repo) as run:
                run.result({f"r{k}": random.random() for k in range(5)})
        flush_all()  # until every run is committed to the ref

    def floor() -> None:
        folder = root / f"w1-floor-{new_run_id()}"
        folder.mkdir()
        for i in range(n):
            row = {
                **params_of(i),
                **{f"m{k}": "x" for k in range(5)},
                **{f"r{k}": random.random() for k in range(5)},
            }
            pq.write_table(pa.table({k: [v] for k, v in row.items()}), folder / f"{i}.parquet")

    out["gitxp"] = median_time(gitxp_runs, repeat)
    out["floor"] = median_time(floor, repeat)
    try:
        import mlflow  # noqa: F401

        def mlflow_runs() -> None:

            mlflow.set_tracking_uri(f"sqlite:///{root / ('mlflow-' + new_run_id() + '.db')}")
            for i in range(n):
                with mlflow.start_run():
                    mlflow.log_params(params_of(i))
                    mlflow.set_tags({f"m{k}": "x" for k in range(5)})
                    mlflow.log_metrics({f"r{k}": random.random() for k in range(5)})

        out["mlflow"] = median_time(mlflow_runs, 1)
    except ImportError:
        pass
    return out


# ---------------------------------------------------------------------- W2


def w2(root: Path, steps: int, repeat: int) -> dict[str, float]:
    repo = fresh_repo(root, "w2")

    def gitxp_log() -> None:
        with gitxp.start(path=repo) as run:
            for step in range(steps):
                run.log(step=step, loss=0.5, acc=0.25, lr=0.1)

    def floor() -> None:
        cols: dict[str, list[object]] = {"step": [], "name": [], "value": []}
        for step in range(steps):
            for name, value in (("loss", 0.5), ("acc", 0.25), ("lr", 0.1)):
                cols["step"].append(step)
                cols["name"].append(name)
                cols["value"].append(value)
        pq.write_table(pa.table(cols), root / f"w2-{new_run_id()}.parquet")

    return {"gitxp": median_time(gitxp_log, repeat), "floor": median_time(floor, repeat)}


# ---------------------------------------------------------------------- W3 / W5


def synthetic_store(root: Path, name: str, n: int, batch: int = 5000) -> Path:
    """A store of ``n`` finished runs in the real format, ``batch`` runs per commit (staging skipped for speed)."""
    repo = fresh_repo(root, name)
    store = Store.open(repo)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    for first in range(0, n, batch):
        files: dict[str, bytes | str] = {}
        for i in range(first, min(n, first + batch)):
            now = time.time()
            record = {
                "run_id": new_run_id(),
                "experiment": "w3",
                "version": commit[:7],
                "commit": commit,
                "branch": "main",
                "status": "finished",
                "started": now,
                "ended": now,
                "duration": 1.0,
                "params": {**params_of(i), "version": f"v{i % 5}"},
                "meta": {"host": "bench"},
                "results": {"valid_acc": random.random()},
            }
            sink = pa.BufferOutputStream()
            pq.write_table(record_table(record), sink, compression="none")
            files[f"{run_path(record['run_id'])}/run.parquet"] = sink.getvalue().to_pybytes()
        store._commit_files(files, f"bench: {len(files)} runs")
    return repo


def w3(root: Path, n: int, repeat: int) -> dict[str, float]:
    repo = synthetic_store(root, f"w3-{n}", n)
    store = Store.open(repo)
    start = time.perf_counter()
    table = store.table()  # cold: builds the cache from the ref
    cold = time.perf_counter() - start
    store.pack()
    shutil.rmtree(store.cache_dir)
    start = time.perf_counter()
    store.table()  # cold again, as in a fresh clone of a packed store (gitxp push packs it)
    cold_packed = time.perf_counter() - start
    consolidated = root / f"w3-{n}.parquet"
    pq.write_table(table, consolidated)

    def gitxp_load() -> object:
        return gitxp.load(path=repo)

    def gitxp_query() -> object:
        return gitxp.load(where="params.version == 'v3'", sort="-results.valid_acc", limit=10, path=repo)

    def floor_load() -> object:
        return pq.read_table(consolidated)

    def floor_query() -> object:
        t = pq.read_table(consolidated)
        t = t.filter(pc.equal(t["params.version"], "v3"))
        return t.take(pc.sort_indices(t, sort_keys=[("results.valid_acc", "descending")])[:10])

    assert gitxp_query().num_rows == 10  # type: ignore[attr-defined]
    return {
        "cold_build": cold,
        "cold_packed": cold_packed,
        "gitxp_load": median_time(gitxp_load, repeat),
        "floor_load": median_time(floor_load, repeat),
        "gitxp_query": median_time(gitxp_query, repeat),
        "floor_query": median_time(floor_query, repeat),
    }


def w5(root: Path, sizes: list[int], repeat: int) -> dict[int, float]:
    gitxp_bin = str(Path(sys.executable).with_name("gitxp"))
    out = {}
    for k in sizes:
        repo = synthetic_store(root, f"w5-{k}", k)
        subprocess.run(
            [gitxp_bin, "ls", "--format", "json"], cwd=repo, check=True, capture_output=True
        )  # warm cache

        def ls(repo: Path = repo) -> None:
            subprocess.run([gitxp_bin, "ls", "--format", "json"], cwd=repo, check=True, capture_output=True)

        out[k] = median_time(ls, repeat)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    random.seed(0)
    n1 = 100 if args.quick else 1000
    steps = 2000 if args.quick else 20_000
    w3_sizes = [1000] if args.quick else [1000, 100_000]
    w5_sizes = [20, 200] if args.quick else [20, 200, 10_000]
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        root = Path(tmp)
        r1 = w1(root, n1, max(1, args.repeat // 2))
        figures["W1"] = r1
        print(
            f"W1 record {n1} runs: gitxp {r1['gitxp']:.2f}s ({n1 / r1['gitxp']:.0f} runs/s) | "
            f"floor {r1['floor']:.2f}s | ratio {r1['gitxp'] / r1['floor']:.1f}x"
            + (
                f" | mlflow {r1['mlflow']:.2f}s (gitxp {r1['mlflow'] / r1['gitxp']:.1f}x faster)"
                if "mlflow" in r1
                else ""
            )
        )
        r2 = w2(root, steps, args.repeat)
        figures["W2"] = r2
        points = 3 * steps
        print(
            f"W2 log {points} points: gitxp {r2['gitxp']:.3f}s ({points / r2['gitxp'] / 1e6:.2f} M points/s) | "
            f"floor {r2['floor']:.3f}s | ratio {r2['gitxp'] / r2['floor']:.1f}x"
        )
        for n in w3_sizes:
            r3 = w3(root, n, args.repeat)
            figures[f"W3-{n}"] = r3
            print(
                f"W3 {n} runs: (a) load gitxp {r3['gitxp_load'] * 1000:.1f}ms vs floor {r3['floor_load'] * 1000:.1f}ms "
                f"({r3['gitxp_load'] / r3['floor_load']:.1f}x) | (b) query gitxp {r3['gitxp_query'] * 1000:.1f}ms vs "
                f"floor {r3['floor_query'] * 1000:.1f}ms ({r3['gitxp_query'] / r3['floor_query']:.1f}x) | "
                f"first read (cache build) {r3['cold_build']:.2f}s, from a packed store {r3['cold_packed']:.2f}s"
            )
        r5 = w5(root, w5_sizes, args.repeat)
        figures["W5"] = r5
        print("W5 gitxp ls --format json: " + " | ".join(f"K={k}: {t * 1000:.0f}ms" for k, t in r5.items()))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
