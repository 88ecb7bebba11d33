"""Recycled staging directories (gitxp.store.recycle): a loop of short runs reuses the directories of the runs it
just committed, and nothing of one run ever shows up in another."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

import gitxp
from gitxp.store import Store, flush_all, liveness, recycle
from gitxp.store.staging import write_json


def _loop(count: int, offset: int = 0) -> list[str]:
    ids = []
    for i in range(offset, offset + count):
        with gitxp.start(params={"i": i, "tag": f"run-{i}"}) as run:
            run.result(score=i * 0.5)
            ids.append(run.id)
    flush_all()
    return ids


def test_a_loop_of_runs_reuses_directories_and_keeps_every_run_its_own(repo: Path) -> None:
    store = Store.open(repo)
    first = _loop(30)
    pool = store.staging / recycle.POOL
    assert pool.is_dir() and os.listdir(pool)  # the committed runs' directories wait for reuse
    made: list[str] = []
    original = recycle.take

    def counting_take(staging: Path, run_id: str) -> liveness.Held | None:
        held = original(staging, run_id)
        made.append("recycled" if held is not None else "new")
        return held

    recycle.take = counting_take  # type: ignore[assignment]
    try:
        second = _loop(30, offset=30)
    finally:
        recycle.take = original  # type: ignore[assignment]
    assert made.count("recycled") >= 20  # most of the second loop's runs took a directory from the pool
    rows = {r["run_id"]: r for r in gitxp.load().to_pylist()}
    assert set(rows) == set(first + second)  # every run once: none lost, none duplicated
    for i, run_id in enumerate(first + second):
        row = rows[run_id]
        assert (row["params.i"], row["params.tag"], row["results.score"]) == (i, f"run-{i}", i * 0.5)
        assert row["status"] == "finished"
    assert not [n for n in os.listdir(store.staging) if not n.startswith(".")]  # nothing left live


def test_a_recycled_directory_whose_new_run_died_before_writing_is_dropped(repo: Path) -> None:
    store = Store.open(repo)
    (old,) = _loop(1)
    held = recycle.take(store.staging, "01deadrun0000000000000000a")
    assert held is not None  # renamed to staging/<new id>, still holding the old run's record
    held.close()  # the new run dies here, before writing its own record
    leftover = store.staging / "01deadrun0000000000000000a"
    assert leftover.is_dir()
    rows = gitxp.load().to_pylist()  # a reader: no phantom run, the old one once
    assert [r["run_id"] for r in rows] == [old]
    assert not leftover.exists()  # dropped by the reader
    assert not list((store.root / "staging").glob(".corrupt/*"))  # not a corrupt record: nothing moved aside


def test_a_live_recycled_directory_is_never_judged_by_its_old_record(repo: Path) -> None:
    store = Store.open(repo)
    _loop(1)
    held = recycle.take(store.staging, "01liverun0000000000000000a")
    assert held is not None
    try:  # its new owner holds the lock and is about to write: readers leave it alone
        store.recover()
        assert (store.staging / "01liverun0000000000000000a").is_dir()
        assert len(gitxp.load()) == 1
    finally:
        held.close()


def test_gc_empties_the_pool(repo: Path, invoke: Callable[..., Result]) -> None:
    store = Store.open(repo)
    _loop(5)
    assert os.listdir(store.staging / recycle.POOL)
    assert invoke("gc").exit_code == 0
    assert not os.listdir(store.staging / recycle.POOL)
    _loop(2, offset=5)  # and recording goes on
    assert len(gitxp.load()) == 7


def test_a_record_is_replaced_atomically_by_swapping_with_its_spare(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    write_json(path, {"n": 1})  # no record yet: the spare is renamed into place
    inode = path.stat().st_ino
    write_json(path, {"n": 2})
    write_json(path, {"n": 3})
    assert path.read_text() == '{"n": 3}'
    spares = [p for p in tmp_path.iterdir() if p.name.endswith(".spare")]
    assert (
        len(spares) == 1 and spares[0].read_text() == '{"n": 2}'
    )  # the previous content, for the next write
    assert {path.stat().st_ino, spares[0].stat().st_ino} <= {inode, spares[0].stat().st_ino}


def test_only_directories_holding_nothing_but_records_are_recycled() -> None:
    assert recycle._recyclable({"record.json", ".record.json.10.spare"})
    assert recycle._recyclable({"record.json", ".record.json.10.spare", ".record.json.11.spare"})
    assert not recycle._recyclable(
        {"record.json", ".record.json.1.spare", ".record.json.2.spare", ".record.json.3.spare"}
    )
    assert not recycle._recyclable({"record.json", "metrics.arrows"})  # a run that logged curves
    assert not recycle._recyclable({"record.json", "diff.patch"})
