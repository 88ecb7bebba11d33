"""A fast builder of large run stores for the benchmarks (10,000-100,000 runs in seconds, not minutes).

Recording 100,000 runs through the API takes minutes; this writes the same store directly: every run's
``run.parquet`` in the real format (made by ``gitxp.store.record_table`` for a template record, then the run id,
times and values substituted byte for byte: uncompressed Parquet keeps them verbatim in the pages and statistics,
so the file stays valid; ``check_fixture`` reads some back), committed with the store's own writer in batches,
and the packs written by the store's own pack writer from the same values (with each row's run-file blob, as
``gitxp gc`` writes them). ``unpacked`` runs at the end are left out of the packs, as after recording one by one
with automatic packing. Each run's meta is what a real run records (host, python, platform, cwd, and ``argv`` as
a list column): JSON output of lists costs more than of scalars, and benchmark data without them flattered it.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gitxp.store import BLOB, Store, concat_tables, record_table, run_path
from gitxp.store.ids import new_run_id

_F = 0.123456789012345  # placeholders: values no real run holds
_A = 0.987654321098765
_T0 = 1_234_567_890.123456


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


def _template(commit: str, version: str, experiment: str) -> tuple[dict[str, object], bytes]:
    record: dict[str, object] = {
        "run_id": new_run_id(),
        "experiment": experiment,
        "version": commit[:7],
        "commit": commit,
        "branch": "main",
        "status": "finished",
        "started": _T0,
        "ended": _T0 + 1,
        "duration": 1.0,
        "params": {"f0": _F, "i0": 7, "s0": "value", "version": version},
        # what a real run's meta holds (gitxp.run.meta), a list column among it: argv
        "meta": {
            "host": "gpu-node-07",
            "user": "bench",
            "python": "3.11.7",
            "platform": "Linux-6.8.0-x86_64-with-glibc2.39",
            "argv": ["train.py", "--lr", "0.001", "--epochs", "20", "--data", "/data/imagenet"],
            "cwd": "/home/bench/project",
            "pid": 12345,
            "strategy": "tpe",
        },
        "results": {"valid_acc": _A},
    }
    sink = pa.BufferOutputStream()
    pq.write_table(record_table(record), sink, compression="none")
    return record, sink.getvalue().to_pybytes()


def _micros(t: float) -> bytes:
    return struct.pack("<q", round(t * 1_000_000))


def build_runs(n: int, commits: list[str], *, experiment: str = "bench") -> tuple[pa.Table, dict[str, bytes]]:
    """``n`` finished runs spread over ``commits`` and five ``params.version`` values: the wide table (with each
    row's run-file blob, as in a pack) and the run files by path."""
    rng = random.Random(0)
    templates = {(c, v): _template(c, f"v{v}", experiment) for c in commits for v in range(5)}
    files: dict[str, bytes] = {}
    columns: dict[str, list[object]] = {k: [] for k in ("run_id", "commit", "v", "f0", "acc", "t", BLOB)}
    base = time.time() - n
    for i in range(n):
        commit, v = commits[i * len(commits) // n], i % 5
        record, data = templates[(commit, v)]
        run_id, f0, acc, t = new_run_id(), rng.random(), rng.random(), base + i
        data = (
            data.replace(str(record["run_id"]).encode(), run_id.encode())
            .replace(struct.pack("<d", _F), struct.pack("<d", f0))
            .replace(struct.pack("<d", _A), struct.pack("<d", acc))
            .replace(_micros(_T0 + 1), _micros(t + 1))
            .replace(_micros(_T0), _micros(t))
        )
        files[f"{run_path(run_id)}/run.parquet"] = data
        for key, value in zip(columns, (run_id, commit, v, f0, acc, t)):
            columns[key].append(value)
        columns[BLOB].append(hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
    parts = []
    for (commit, v), (record, _data) in templates.items():
        rows = [i for i in range(n) if columns["commit"][i] == commit and columns["v"][i] == v]
        if not rows:
            continue
        part = record_table(record).take(pa.array([0] * len(rows)))

        def put(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
            return table.set_column(table.schema.get_field_index(name), name, values)

        times = [columns["t"][i] for i in rows]
        part = put(part, "run_id", pa.array([columns["run_id"][i] for i in rows], pa.string()))
        part = put(part, "params.f0", pa.array([columns["f0"][i] for i in rows], pa.float64()))
        part = put(part, "results.valid_acc", pa.array([columns["acc"][i] for i in rows], pa.float64()))
        for name, shift in (("started", 0), ("ended", 1)):
            micros = pa.array([round((t + shift) * 1_000_000) for t in times], pa.int64())
            part = put(part, name, micros.cast(pa.timestamp("us", tz="UTC")))
        parts.append(part.append_column(BLOB, pa.array([columns[BLOB][i] for i in rows], pa.string())))
    table = concat_tables(parts)
    return table.sort_by([("started", "ascending"), ("run_id", "ascending")]), files


def build_store(
    root: Path, name: str, n: int, *, unpacked: int = 0, versions: int = 1, batch: int = 10_000
) -> Path:
    """A repository whose store holds ``n`` runs, all packed but the last ``unpacked``; the runs are spread over
    ``versions`` commits of the repository (v1, v2, ... tagged)."""
    repo = fresh_repo(root, name)
    commits = []
    for k in range(versions):
        if k:
            (repo / "t.py").write_text(f"print({k + 1})\n")
            subprocess.run(["git", "commit", "-qam", f"v{k + 1}"], cwd=repo, check=True)
        commits.append(
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
            ).stdout.strip()
        )
        subprocess.run(["git", "tag", f"v{k + 1}"], cwd=repo, check=True)
    store = Store.open(repo)
    table, files = build_runs(n, commits)
    paths = list(files)
    for first in range(0, n, batch):
        store.commit_files({p: files[p] for p in paths[first : first + batch]}, "bench: runs")
    if n - unpacked > 0:
        store._write_pack(table.slice(0, n - unpacked))
    return repo


def check_fixture(repo: Path, sample: int = 50) -> None:
    """The substituted run files read back as the values the packs hold (the fixture is the real format)."""
    store = Store.open(repo)
    table = store.table()
    picked = table.take(pa.array(range(0, table.num_rows, max(1, table.num_rows // sample))))
    for row in picked.to_pylist():
        data = store.run_file(row["run_id"], "run.parquet")
        assert data is not None
        own = pq.read_table(pa.BufferReader(data)).to_pylist()[0]
        for key, value in own.items():
            assert row[key] == value, (key, row[key], value)
    assert pc.all(pc.is_valid(table["results.valid_acc"])).as_py()
