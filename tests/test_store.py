"""The store: isolation from the user's git state, concurrency, crashes, merging, caching."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import clone_of, git, run_python, shared_remote

import gitxp
from gitxp.store import REF, Store


def user_state(repo: Path) -> dict[str, str]:
    refs = "\n".join(line for line in git(repo, "for-each-ref").splitlines() if "refs/gitxp/" not in line)
    return {
        "refs": refs,
        "head": (repo / ".git" / "HEAD").read_text(),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "index": (repo / ".git" / "index").read_bytes().hex(),
        "stash": git(repo, "stash", "list"),
        "tree": "\n".join(sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git" not in p.parts)),
    }


def test_recording_never_touches_the_users_git_state(repo: Path) -> None:
    git(repo, "tag", "v1")
    (repo / "train.py").write_text("changed\n")
    (repo / "untracked.py").write_text("new\n")
    (repo / "model.ckpt").write_text("ignored\n")
    git(repo, "add", "untracked.py")
    (repo / "untracked.py").write_text("new, modified after staging\n")
    before = user_state(repo)
    for i in range(3):
        with gitxp.start(params={"i": i}) as run:
            run.log(loss=1.0)
    gitxp.load()
    assert user_state(repo) == before
    assert 1 <= int(git(repo, "rev-list", "--count", REF)) <= 3  # ended runs are committed in batches
    assert (
        len(
            [
                f
                for f in git(repo, "ls-tree", "-r", "--name-only", REF).splitlines()
                if f.endswith("run.parquet")
            ]
        )
        == 3
    )
    assert "gitxp: record" in git(repo, "log", "-1", "--format=%s", REF)
    git(repo, "fsck", "--no-progress", "--strict")


WRITER = textwrap.dedent(
    """
    import sys, gitxp
    for i in range(50):
        with gitxp.start(experiment="w" + sys.argv[1], params={"i": i, "w": int(sys.argv[1])}) as run:
            run.log(loss=float(i))
            run.result(value=i)
    """
)


def test_eight_concurrent_writers_lose_nothing(repo: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w)], cwd=repo, stderr=subprocess.PIPE, text=True)
        for w in range(8)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    table = gitxp.load(sort="started")
    assert table.num_rows == 400
    assert len(set(table["run_id"].to_pylist())) == 400
    pairs = set(zip(table["params.w"].to_pylist(), table["params.i"].to_pylist()))
    assert pairs == {(w, i) for w in range(8) for i in range(50)}
    assert set(table["status"].to_pylist()) == {"finished"}
    assert not list((repo / ".git" / "gitxp" / "staging").iterdir())
    git(repo, "fsck", "--no-progress")


def test_killed_process_is_listed_as_crashed_with_its_data(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = textwrap.dedent(
        """
        import gitxp, time
        with gitxp.start(params={"lr": 0.5}) as run:
            for step in range(100):
                run.log(step=step, loss=1.0 / (step + 1))
            run._flush()  # as the periodic flush would
            print(run.id, flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    running = gitxp.load()
    assert running["status"].to_pylist() == ["running"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    row = gitxp.load().to_pylist()[0]
    assert row["run_id"] == run_id and row["status"] == "crashed"
    assert row["params.lr"] == 0.5 and row["duration"] >= 0
    assert gitxp.metrics(run_id).num_rows == 100
    assert not (repo / ".git" / "gitxp" / "staging" / run_id).exists()
    assert git(repo, "rev-list", "--count", REF) == "1"


def test_truncated_metrics_chunk_keeps_earlier_chunks(repo: Path) -> None:
    code = textwrap.dedent(
        """
        import gitxp, os
        run = gitxp.start()
        for step in range(10):
            run.log(step=step, loss=float(step))
        run._flush()
        for step in range(10, 20):
            run.log(step=step, loss=float(step))
        run._flush()
        path = run._staged.path / "metrics.arrows"
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size - 40)
        print(run.id, flush=True)
        os._exit(9)
        """
    )
    run_id = run_python(code, repo, check=False).stdout.strip()
    assert gitxp.load()["status"].to_pylist() == ["crashed"]
    assert gitxp.metrics(run_id)["step"].to_pylist() == list(range(10))


def test_stores_of_two_clones_merge_as_a_union(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    bare = shared_remote(repo, tmp_path / "remote.git")
    other = clone_of(bare, tmp_path / "other")
    with gitxp.start(params={"who": "first"}):
        pass
    assert invoke("push").exit_code == 0
    os.chdir(other)
    try:
        with gitxp.start(params={"who": "second"}):
            pass
        result = invoke("push")  # must merge the first clone's run, not overwrite it
        assert result.exit_code == 0, result.output
        assert sorted(gitxp.load()["params.who"].to_pylist()) == ["first", "second"]
    finally:
        os.chdir(repo)
    result = invoke("pull")
    assert result.exit_code == 0 and "merged 1 new run " in result.output
    assert sorted(gitxp.load()["params.who"].to_pylist()) == ["first", "second"]
    assert invoke("pull").output.startswith("merged 0")


def test_cache_follows_the_ref_incrementally(repo: Path) -> None:
    with gitxp.start(params={"n": 1}):
        pass
    assert gitxp.load().num_rows == 1
    cache = repo / ".git" / "gitxp" / "cache" / "runs.parquet"
    assert cache.exists()
    with gitxp.start(params={"n": 2, "extra": "new column"}):
        pass
    table = gitxp.load(sort="started")
    assert table["params.n"].to_pylist() == [1, 2]
    assert table["params.extra"].to_pylist() == [None, "new column"]
    cache.write_bytes(b"garbage")  # a corrupt cache is rebuilt from the ref
    (repo / ".git" / "gitxp" / "cache" / "state.json").write_text("{}")
    assert gitxp.load().num_rows == 2


def test_store_of_a_linked_worktree_is_shared(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    os.chdir(wt)
    try:
        with gitxp.start(params={"where": "worktree"}):
            pass
    finally:
        os.chdir(repo)
    row = gitxp.load().to_pylist()[0]
    assert row["branch"] == "feature" and row["experiment"] == repo.name


def test_history_is_readable_with_plain_git(repo: Path) -> None:
    with gitxp.start(params={"lr": 0.1}) as run:
        pass
    gitxp.load()  # waits for the background commit of ended runs
    files = git(repo, "ls-tree", "-r", "--name-only", REF).splitlines()
    assert f"runs/{run.id[-1]}/{run.id[-2]}/{run.id}/run.parquet" in files
    import pyarrow.parquet as pq

    data = subprocess.run(
        ["git", "cat-file", "blob", f"{REF}:runs/{run.id[-1]}/{run.id[-2]}/{run.id}/run.parquet"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    import pyarrow as pa

    assert pq.read_table(pa.BufferReader(data))["params.lr"].to_pylist() == [0.1]
    assert Store.open().head() == git(repo, "rev-parse", REF)


def test_pre_push_hook_shares_runs(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    bare = shared_remote(repo, tmp_path / "hooked.git", push=False)
    assert invoke("init", "--hooks").exit_code == 0
    assert invoke("init", "--hooks").exit_code == 2  # never overwrites an existing hook
    with gitxp.start(params={"a": 1}):
        pass
    gitxp.load()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["git", "push", "-q", "origin", "main"], cwd=repo, check=True, env=env, capture_output=True
    )
    assert git(bare, "rev-parse", REF) == git(repo, "rev-parse", REF)


def test_run_of_another_host_with_a_stale_heartbeat_is_crashed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gitxp.store.staging as store_module

    run = gitxp.start(params={"remote": True})
    run._stop.set()  # the heartbeat thread stops: as if the other machine went dark
    run._staged.release()  # another machine's lock is not visible from here (a shared filesystem)
    record = run._staged.read_record()
    assert record is not None
    record.update(host="elsewhere", pid=1)
    run._staged.write_record(record)
    gitxp.run.setup.open_runs.clear()  # the process that owned it is "gone"
    assert gitxp.load()["status"].to_pylist() == ["running"]  # fresh heartbeat: still running
    monkeypatch.setattr(store_module, "STALE_AFTER", 0.0)
    time.sleep(0.05)
    row = gitxp.load().to_pylist()[0]
    assert row["status"] == "crashed" and row["params.remote"] is True


def test_a_staging_directory_being_created_is_not_swept_away(repo: Path) -> None:
    """A reader's recovery between a new run's mkdir and its lock file (seen in a parallel sweep under load:
    the run then failed with FileNotFoundError on its lock) leaves it alone; an old empty one still goes."""
    store = Store.open()
    fresh = store.staging / "01newrunbeingcreated"
    fresh.mkdir(parents=True)  # the instant after stage()'s mkdir: no lock, no heartbeat, no record
    store.recover()
    assert fresh.is_dir()
    old = time.time() - 3600
    os.utime(fresh, (old, old))  # the same, an hour later: a run that never got past creation
    store.recover()
    assert not fresh.exists()


def test_packs_serve_fresh_clones_and_yield_to_newer_run_files(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        with gitxp.start(params={"i": i}) as run:
            run.result(v=i)
    before = gitxp.load(sort="started").to_pylist()
    assert invoke("gc").output.startswith("packed 5 runs")
    assert invoke("gc").output.startswith("nothing to pack")
    packs = [p for p in git(repo, "ls-tree", "-r", "--name-only", REF).splitlines() if p.startswith("packs/")]
    assert len(packs) == 1
    # a run file rewritten after packing (e.g. a crashed run recorded again) wins over its packed row
    store = Store.open()
    target = before[0]["run_id"]
    staged = store.stage(
        {
            **{k: v for k, v in before[0].items() if not k.startswith(("params.", "results.", "meta."))},
            "started": before[0]["started"].timestamp(),
            "ended": None,
            "status": "failed",
            "params": {"i": 0},
            "results": {"v": -1},
            "meta": {},
        },
        b"",
    )
    store.commit([staged])
    shutil.rmtree(repo / ".git" / "gitxp" / "cache")  # cold: as in a fresh clone
    after = {r["run_id"]: r for r in gitxp.load().to_pylist()}
    assert len(after) == 5 and after[target]["results.v"] == -1 and after[target]["status"] == "failed"
    assert "_blob" not in gitxp.load().column_names
    assert [after[r["run_id"]]["results.v"] for r in before[1:]] == [1, 2, 3, 4]


def test_run_files_built_in_a_batch_are_byte_for_byte_those_built_one_by_one() -> None:
    """The committer builds the run tables of a batch together (gitxp.store.tables.record_tables): the
    run.parquet files must be exactly what record_table makes for each record alone, whatever the values."""
    import math
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from gitxp.store.tables import record_table, record_tables

    rng = random.Random(0)

    def value(kind: str) -> object:
        return {
            "i": lambda: rng.choice([rng.randint(-5, 10**12), 2**63 - 1, -(2**63)]),
            "f": lambda: rng.choice([rng.random(), math.nan, -0.0, math.inf]),
            "s": lambda: rng.choice(["", "x", "naïve", "a,b"]),
            "b": lambda: rng.random() < 0.5,
            "n": lambda: None,
            "l": lambda: rng.choice(
                [[], [1, 2], [0.5], ["a"], ["a", "b", ""], [True], [1, 2.5], [None, "a"], [2**63 - 1, -1]]
            ),
        }[kind]()

    records = []
    for i in range(300):
        kinds = rng.choice(["ifs", "ifsb", "ifsn", "ifl", "b"])
        records.append(
            {
                "run_id": f"{i:026d}",
                "experiment": rng.choice(["e", None]),
                "version": "v",
                "status": "finished",
                "started": rng.random() * 1e9,
                "ended": rng.choice([None, 1.5e9]),
                "duration": rng.choice([None, 2.0]),
                "params": {f"p{k}": value(k) for k in kinds},
                "results": {"acc": value("f")},
                "meta": {"m": value("s"), "argv": rng.choice([["t.py", "--x"], ["t.py"], ["x", "é"]])},
            }
        )

    def data(table: pa.Table) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="none")
        return sink.getvalue().to_pybytes()

    batched = record_tables(records)
    assert len(batched) == len(records)
    for table, record in zip(batched, records):
        assert data(table) == data(record_table(record)), record


def test_a_run_interrupted_while_being_created_leaves_nothing_behind(repo: Path) -> None:
    """Ctrl-C (or any error) between creating a run's staging directory and finishing its first record must not
    leave a half-written entry for the next reader to move aside as corrupt."""
    from gitxp.store.ids import new_run_id

    store = Store.open(repo)
    record = {"run_id": new_run_id(), "status": "running", "params": {"x": object()}}  # fails mid-write
    with pytest.raises(TypeError):
        store.stage(record, b"diff --git a/x b/x\n")
    assert list(store.staging.iterdir()) == []
    assert store.recover() == 0
    assert not (store.staging / ".corrupt").exists()


def test_a_run_that_ends_while_a_reader_judges_it_is_recorded_as_it_ended(repo: Path) -> None:
    """A reader's recovery reads a live run's record; the run then ends (final record, lock released) before the
    reader checks its liveness and finds the lock free. The commit must record the run as it ended, not as
    ``crashed`` (seen once as a finished run of a parallel sweep turning crashed after a Ctrl-C)."""
    from gitxp.store import HOST, StagedRun
    from gitxp.store.ids import new_run_id

    store = Store.open(repo)
    record = {
        "run_id": new_run_id(),
        "experiment": "e",
        "started": time.time(),
        "status": "running",
        "host": HOST,
    }
    staged = store.stage({**record, "params": {"x": 1}, "results": {}, "meta": {}}, b"")
    stale = staged.read_record()  # what the reader read while the run was live
    assert stale is not None and stale["status"] == "running"
    ended = time.time()
    final = {**stale, "status": "finished", "ended": ended, "duration": ended - record["started"]}
    staged.write_record({**final, "results": {"acc": 0.5}})
    staged.release()
    assert staged.is_dead(stale)  # the lock is free now: judged by the record it read, the run looks dead
    store.commit([StagedRun(staged.path)], crashed=[staged.run_id])
    (row,) = gitxp.load().to_pylist()
    assert row["status"] == "finished" and row["results.acc"] == 0.5


def test_a_pull_that_brings_only_tags_and_notes_says_so(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    with gitxp.start(params={"who": "first"}) as run:
        pass
    assert invoke("push").exit_code == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    os.chdir(other)
    try:
        assert invoke("pull").output.startswith("merged 1 new run from")
        assert invoke("tag", run.id, "baseline").exit_code == 0
        assert invoke("note", run.id, "the one to beat").exit_code == 0
        assert invoke("push").exit_code == 0
    finally:
        os.chdir(repo)
    result = invoke("pull")  # the teammate's tag and note, no run: not "merged 0 new runs" alone
    assert result.exit_code == 0, result.output
    assert result.output.startswith("merged 0 new runs and 2 life-cycle changes (tags, notes, archive, rm) from"), (
        result.output
    )
    assert "baseline" in gitxp.load(columns=None).to_pylist()[0]["tags"]
