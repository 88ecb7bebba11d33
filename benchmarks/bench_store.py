"""Store benchmarks W1, W2, W3, W5 of shared/BENCHMARKS.md: gitxp side by side with its floor, in one run.

    python benchmarks/bench_store.py            # full sizes (W3/W5/W6/W7 on a 100,000-run store)
    python benchmarks/bench_store.py --quick    # 10,000 runs, a smoke test
    python benchmarks/bench_store.py --only W5,W7 --repeat 3

W3 load/query, W5 ``gitxp ls`` forms, W6 first read and automatic packing, W7 compare run on a store built by
``store_fixture.build_store`` (the real format, written directly: recording 100,000 runs takes minutes).

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
from gitxp.store import Store, flush_all
from gitxp.store.ids import new_run_id

sys.path.insert(0, str(Path(__file__).parent))
from store_fixture import build_store, fresh_repo  # noqa: E402


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def params_of(i: int) -> dict[str, object]:
    return {
        **{f"f{k}": random.random() for k in range(4)},
        **{f"i{k}": i + k for k in range(3)},
        **{f"s{k}": f"value{i % 7}" for k in range(3)},
    }


# ---------------------------------------------------------------------- W1


def project_repo(root: Path, name: str) -> Path:
    """A repository shaped like an ML project: 600 tracked source files in 30 packages, and a git-ignored
    ``.venv`` of 2,000 files (what the version check must not rescan per run)."""
    repo = fresh_repo(root, name)
    for p in range(30):
        package = repo / "src" / f"pkg{p}"
        package.mkdir(parents=True)
        for m in range(20):
            (package / f"m{m}.py").write_text(f"X = {m}\n")
    (repo / ".gitignore").write_text(".venv/\n__pycache__/\n")
    for p in range(100):
        folder = repo / ".venv" / "lib" / "site-packages" / f"dep{p}"
        folder.mkdir(parents=True)
        for m in range(20):
            (folder / f"m{m}.py").write_text("")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "project"], cwd=repo, check=True
    )
    return repo


def w1(root: Path, n: int, repeat: int, project: bool = False) -> dict[str, float]:
    """Seconds to record ``n`` runs through the API (every one committed to the ref), and the floor: one Parquet
    file per run. Both are warmed up once (discarded: imports, the first commits, a cold file system), then
    measured ``repeat`` times *interleaved*, so that a slow spell of the machine hits both; medians. With
    ``project``, in a repository of a real project's size (``project_repo``) instead of a one-file one."""
    out: dict[str, float] = {}

    make = project_repo if project else fresh_repo
    repos = [make(root, f"w1-{k}{'p' if project else ''}") for k in range(repeat + 1)]  # before the clock
    time.sleep(0.2)  # past the version cache's racy window

    def gitxp_runs() -> None:
        repo = repos.pop()
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

    gitxp_runs()
    floor()
    times: dict[str, list[float]] = {"gitxp": [], "floor": []}
    for _ in range(repeat):
        times["gitxp"].append(median_time(gitxp_runs, 1))
        times["floor"].append(median_time(floor, 1))
    out = {name: statistics.median(values) for name, values in times.items()}
    out["gitxp_runs_per_s"] = [round(n / t) for t in times["gitxp"]]  # type: ignore[assignment]
    if project:
        return out
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


# ---------------------------------------------------------------------- W3 / W5 / W6 / W7


def cold_read(repo: Path) -> float:
    """Seconds of the first read of the store: no read cache yet (a fresh clone, or after recording)."""
    store = Store.open(repo)
    shutil.rmtree(store.cache_dir, ignore_errors=True)
    start = time.perf_counter()
    store.table()
    return time.perf_counter() - start


def w3(repo: Path, root: Path, repeat: int) -> dict[str, float]:
    """Loading and querying a large store through the API, side by side with one consolidated Parquet file."""
    table = Store.open(repo).table()
    consolidated = root / f"{repo.name}.parquet"
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
        "gitxp_load": median_time(gitxp_load, repeat),
        "floor_load": median_time(floor_load, repeat),
        "gitxp_query": median_time(gitxp_query, repeat),
        "floor_query": median_time(floor_query, repeat),
    }


LS_FORMS = {
    "table": ["ls"],
    "json": ["ls", "--format", "json"],
    "csv": ["ls", "--format", "csv"],
    "since": ["ls", "--since", "v2"],
    "where": ["ls", "--where", "valid_acc > 0.5", "--sort", "-valid_acc"],
}


def w5(repo: Path, repeat: int, forms: list[str]) -> dict[str, float]:
    """Wall time of ``gitxp ls`` forms (a fresh process each, as a user types it), with the floor: a fresh
    Python process that reads the store's whole cache file with pyarrow and prints 100 rows."""
    gitxp_bin = str(Path(sys.executable).with_name("gitxp"))
    cache = Store.open(repo).cache_dir / "runs.parquet"
    env = {**os.environ, "COLUMNS": "120"}
    subprocess.run([gitxp_bin, "ls"], cwd=repo, check=True, capture_output=True)  # the read cache is built
    floor = (
        "import pyarrow.parquet as pq, sys; t = pq.ParquetFile(sys.argv[1]).read(); "
        "print(t.slice(0, 100).to_pylist())"
    )
    out = {
        "floor": median_time(
            lambda: subprocess.run([sys.executable, "-c", floor, str(cache)], capture_output=True), repeat
        )
    }
    for form in forms:
        args = LS_FORMS[form]
        out[form] = median_time(
            lambda args=args: subprocess.run(
                [gitxp_bin, *args], cwd=repo, env=env, check=True, capture_output=True
            ),
            repeat,
        )
    return out


def loose_and_packed(repo: Path) -> tuple[int, int]:
    counts = dict(
        line.split(": ")
        for line in subprocess.run(
            ["git", "count-objects", "-v"], cwd=repo, capture_output=True, text=True
        ).stdout.splitlines()
    )
    return int(counts["size"]) * 1024, int(counts["size-pack"]) * 1024


def w6(repo: Path, runs: int, auto_pack: int) -> dict[str, float]:
    """Runs recorded one by one (a commit each) onto a large store, with automatic packing every ``auto_pack``
    runs: the slowest single recording (the one that packs), the first read afterwards, and disk use against
    the same objects packed by ``git gc``."""
    import gitxp.store.packs as packs

    packs.AUTO_PACK, saved = auto_pack, packs.AUTO_PACK
    store = Store.open(repo)
    times = []
    try:
        for i in range(runs):
            start = time.perf_counter()
            with gitxp.start(params=params_of(i), path=repo) as run:
                run.result(valid_acc=random.random())
            store.flush()
            times.append(time.perf_counter() - start)
    finally:
        packs.AUTO_PACK = saved
    loose, packed = loose_and_packed(repo)
    first_read = cold_read(repo)
    subprocess.run(["git", "gc", "-q"], cwd=repo, check=True)
    _, gc_packed = loose_and_packed(repo)
    return {
        "median_record": statistics.median(times),
        "slowest_record": max(times),
        "first_read": first_read,
        "disk": loose + packed,
        "disk_after_gc": gc_packed,
    }


def w7(repo: Path, repeat: int) -> dict[str, float]:
    """``gitxp compare v1 v2`` between two versions of half the runs each."""
    gitxp_bin = str(Path(sys.executable).with_name("gitxp"))
    return {
        "compare": median_time(
            lambda: subprocess.run(
                [gitxp_bin, "compare", "v1", "v2"], cwd=repo, check=True, capture_output=True
            ),
            repeat,
        )
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--quick", action="store_true", help="10,000 runs instead of 100,000; fewer runs in W1"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only",
        help="comma-separated: W1,W1P (W1 in a project-sized repository),W2,W3,W5,W6,W7 (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    random.seed(0)
    only = set((args.only or "W1,W1P,W2,W3,W5,W6,W7").upper().split(","))
    n1 = 100 if args.quick else 1000
    steps = 2000 if args.quick else 20_000
    big = 10_000 if args.quick else 100_000
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        root = Path(tmp)
        if "W1" in only:
            r1 = w1(root, n1, args.repeat)
            figures["W1"] = r1
            print(
                f"W1 record {n1} runs: gitxp {r1['gitxp']:.2f}s ({n1 / r1['gitxp']:.0f} runs/s; each: "
                f"{', '.join(map(str, r1['gitxp_runs_per_s']))}) | "
                f"floor {r1['floor']:.2f}s | ratio {r1['gitxp'] / r1['floor']:.1f}x"
                + (
                    f" | mlflow {r1['mlflow']:.2f}s (gitxp {r1['mlflow'] / r1['gitxp']:.1f}x faster)"
                    if "mlflow" in r1
                    else ""
                )
            )
        if "W1P" in only:
            r1p = w1(root, n1, args.repeat, project=True)
            figures["W1P"] = r1p
            print(
                f"W1 in a project (600 tracked files, ignored .venv of 2,000) {n1} runs: gitxp {r1p['gitxp']:.2f}s "
                f"({n1 / r1p['gitxp']:.0f} runs/s; each: {', '.join(map(str, r1p['gitxp_runs_per_s']))}) | "
                f"floor {r1p['floor']:.2f}s | ratio {r1p['gitxp'] / r1p['floor']:.1f}x"
            )
        if "W2" in only:
            r2 = w2(root, steps, args.repeat)
            figures["W2"] = r2
            points = 3 * steps
            print(
                f"W2 log {points} points: gitxp {r2['gitxp']:.3f}s ({points / r2['gitxp'] / 1e6:.2f} M points/s) | "
                f"floor {r2['floor']:.3f}s | ratio {r2['gitxp'] / r2['floor']:.1f}x"
            )
        if not only & {"W3", "W5", "W6", "W7"}:
            flush_all()  # the last runs' commits, before their repositories go
            return
        start = time.perf_counter()
        repo = build_store(root, f"store-{big}", big, unpacked=999, versions=2)
        print(
            f"(fixture: {big:,} runs over 2 versions, the last 999 not packed, built in {time.perf_counter() - start:.1f}s)"
        )
        first = cold_read(repo)
        figures["first_read"] = first
        print(f"W6 first read of {big:,} runs (packs + 999 unpacked run files, no read cache): {first:.2f}s")
        if "W3" in only:
            r3 = w3(repo, root, args.repeat)
            figures[f"W3-{big}"] = r3
            print(
                f"W3 {big:,} runs: load gitxp {r3['gitxp_load'] * 1000:.0f}ms vs floor {r3['floor_load'] * 1000:.0f}ms "
                f"({r3['gitxp_load'] / r3['floor_load']:.1f}x) | query gitxp {r3['gitxp_query'] * 1000:.0f}ms vs "
                f"floor {r3['floor_query'] * 1000:.0f}ms ({r3['gitxp_query'] / r3['floor_query']:.1f}x)"
            )
        if "W5" in only:
            small = build_store(root, "store-20", 20, versions=2)
            for name, where, forms in (("20", small, ["table"]), (f"{big:,}", repo, list(LS_FORMS))):
                r5 = w5(where, args.repeat, forms)
                figures[f"W5-{name}"] = r5
                print(
                    f"W5 gitxp ls, {name} runs: "
                    + " | ".join(
                        f"{f} {r5[f] * 1000:.0f}ms ({r5[f] / r5['floor']:.1f}x floor)" for f in forms
                    )
                    + f" | floor {r5['floor'] * 1000:.0f}ms"
                )
        if "W7" in only:
            r7 = w7(repo, max(1, args.repeat // 2))
            figures[f"W7-{big}"] = r7
            print(f"W7 gitxp compare v1 v2 ({big // 2:,} runs each): {r7['compare']:.2f}s")
        if "W6" in only:
            r6 = w6(repo, 300, 250)
            figures[f"W6-{big}"] = r6
            print(
                f"W6 300 more runs recorded one by one (auto-pack every 250): median {r6['median_record'] * 1000:.0f}ms, "
                f"slowest (packs) {r6['slowest_record']:.2f}s | first read after {r6['first_read']:.2f}s | "
                f"disk {r6['disk'] / 1e6:.1f}MB vs {r6['disk_after_gc'] / 1e6:.1f}MB after git gc "
                f"({r6['disk'] / r6['disk_after_gc']:.2f}x)"
            )
        flush_all()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
