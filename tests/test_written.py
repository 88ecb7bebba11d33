"""The read cache takes the tables this process just committed instead of parsing them again: only where that
gives exactly what parsing gives (the same cache file, byte for byte)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gitxp
from gitxp.store import Store, flush_all, record_table, written

RECORDS = [
    {"params": {"f": 0.1, "i": 3, "s": "x", "b": True, "n": None}, "meta": {}, "results": {"r": 0.5}},
    {
        "params": {"l": [1, 2], "ls": ["a", None], "e": [], "lf": [1.5], "lb": [True]},
        "meta": {},
        "results": {},
    },
    {"params": {"nested": [[1, 2], [3]]}, "meta": {"argv": ["a", "b"]}, "results": {}},  # not remembered
    {"params": {"nulls": [None, None]}, "meta": {}, "results": {}},  # not remembered
    {"params": {"big": 2**62, "neg": -1.5e300, "u": 'ünï\n"q"'}, "meta": {}, "results": {"x": None}},
]


def full(extra: dict[str, object]) -> dict[str, object]:
    return {
        "run_id": "01abcdefghjkmnpqrstvwxyz01",
        "experiment": "e",
        "version": "v",
        "commit": "c" * 40,
        "branch": "main",
        "status": "finished",
        "started": 1_700_000_000.123456,
        "ended": None,
        "duration": None,
        **extra,
    }


@pytest.mark.parametrize("extra", RECORDS)
def test_a_remembered_table_is_exactly_what_its_file_reads_back_as(extra: dict[str, object]) -> None:
    table = record_table(full(extra))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none")
    back = pq.ParquetFile(pa.BufferReader(sink.getvalue())).read(use_threads=False)
    read = written.as_read(table)
    if read is None:  # a list of lists or of nulls only: parsed from the file instead
        assert any(
            pa.types.is_list(t) and not pa.types.is_primitive(t.value_type) for t in table.schema.types
        )
        return
    read.validate(full=True)
    assert read.equals(back, check_metadata=True)
    assert read.schema.equals(back.schema, check_metadata=True)


def test_blob_id_is_gits(tmp_path: Path) -> None:
    import subprocess

    data = b"some bytes\x00\xff"
    (tmp_path / "f").write_bytes(data)
    sha = subprocess.run(["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True).stdout
    assert written.blob_id(data) == sha.strip()


def test_the_read_cache_from_remembered_tables_equals_a_cold_build(repo: Path) -> None:
    for i, extra in enumerate(RECORDS):
        with gitxp.start(experiment="e", params={**extra["params"], "k": i}) as run:
            run.result(acc=i / 10)
    flush_all()
    store = Store.open(repo)
    before = len(written._TABLES)  # the runs whose tables can stand for their files, and other tests' runs
    warm = store.table()
    assert before - len(written._TABLES) == 2  # taken by the read cache (lists of lists or of nulls: parsed)
    cache = store.cache_dir / "runs.parquet"
    warm_bytes = cache.read_bytes()
    shutil.rmtree(store.cache_dir)
    cold = store.table()
    assert cold.equals(warm, check_metadata=True)
    assert cache.read_bytes() == warm_bytes


def _live(staging: Path) -> list[str]:
    from gitxp.store import recycle

    return [n for n in os.listdir(staging) if n != recycle.POOL]


def test_committed_runs_leave_staging_and_a_dead_process_leftover_is_swept(repo: Path) -> None:
    from gitxp.store import committer

    staging = repo / ".git" / "gitxp" / "staging"
    for i in range(20):
        with gitxp.start(experiment="e", params={"i": i}) as run:
            run.result(acc=i)
    flush_all()
    assert not _live(staging)  # every run committed, its directory deleted or pooled for reuse, no trash
    leftover = staging / ".committed" / "01deadbeefdeadbeefdeadbeef"
    leftover.mkdir(parents=True)
    (leftover / "record.json").write_text("{}")  # what a process killed while deleting left behind
    committer.CLEANER.swept.clear()  # as in a new process
    assert gitxp.load().num_rows == 20  # a trash entry is never taken for a run
    with gitxp.start(experiment="e", params={"i": 20}):
        pass
    flush_all()
    assert not _live(staging)
    assert gitxp.load().num_rows == 21
