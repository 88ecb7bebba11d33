"""Liveness through the run's OS lock: a killed run is `crashed` at once with a true `ended`; a live run in
another PID namespace is never declared dead (and its staging is never deleted)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gitxp
from gitxp.store import liveness

SLEEPER = """
import sys, time, gitxp
run = gitxp.start(experiment="live", params={"n": 1})
for step in range(3):
    run.log(step=step, loss=1.0 / (step + 1))
time.sleep(2.5)  # idle: the flush timer, not a later log call, must write the points
print("ready", run.id, flush=True)
time.sleep(120)
"""


def _start(repo: Path, argv: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(argv, cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("ready"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, line.split()[1]


def test_lock_is_held_by_the_owner_only(tmp_path: Path) -> None:
    assert liveness.is_held(tmp_path / "missing") is None  # nothing to lock: cannot tell
    assert liveness.is_held(tmp_path) is False
    handle = liveness.hold(tmp_path)
    assert handle is not None and not handle.on_file  # the directory itself: no file per run
    assert not (tmp_path / liveness.LOCK_NAME).exists()
    assert liveness.is_held(tmp_path) is True
    child = subprocess.run(  # another process sees it held too
        [sys.executable, "-c", f"from gitxp.store import liveness; print(liveness.is_held({str(tmp_path)!r}))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == "True"
    handle.close()
    assert liveness.is_held(tmp_path) is False


def test_a_lock_file_of_an_older_gitxp_is_still_read(tmp_path: Path) -> None:
    import fcntl

    with open(tmp_path / liveness.LOCK_NAME, "wb") as old_style:  # how gitxp locked a run before
        fcntl.flock(old_style.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert liveness.is_held(tmp_path) is True
    assert liveness.is_held(tmp_path) is False


def test_a_run_staged_without_a_lock_is_judged_by_its_pid(tmp_path: Path) -> None:
    from gitxp.store import HOST, StagedRun
    from gitxp.store.staging import own_pid_start

    staged = StagedRun(tmp_path)  # no lock at all: staged by a gitxp from before liveness locks
    mine = {"host": HOST, "pid": os.getpid(), "pid_start": own_pid_start()}
    assert not staged.is_dead(mine)  # this process is alive
    assert staged.is_dead({**mine, "lock": "dir"})  # it says it was locked, and the lock is free: gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert staged.is_dead({"host": HOST, "pid": dead.pid, "pid_start": None})


def test_killed_run_is_crashed_at_once_with_its_last_sign_of_life(repo: Path) -> None:
    proc, run_id = _start(repo, [sys.executable, "-c", SLEEPER])
    time.sleep(1.0)
    before_kill = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    seen = time.time()
    row = gitxp.load().to_pylist()[0]  # no heartbeat timeout to wait for: the lock is free
    assert row["run_id"] == run_id and row["status"] == "crashed"
    assert time.time() - seen < 5
    started, ended = row["started"].timestamp(), row["ended"].timestamp()
    assert started <= ended <= before_kill + 0.5
    assert row["duration"] == pytest.approx(ended - started)
    assert [p["step"] for p in gitxp.metrics(run_id).to_pylist()] == [0, 1, 2]


def _unshare_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs root and unshare for a PID namespace")
def test_run_in_another_pid_namespace_is_not_declared_crashed(repo: Path) -> None:
    proc, run_id = _start(
        repo, ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", sys.executable, "-c", SLEEPER]
    )
    try:
        staging = repo / ".git" / "gitxp" / "staging" / run_id
        for _ in range(3):  # a host-side reader, over more than a second: never judged dead
            statuses = {r["run_id"]: r["status"] for r in gitxp.load().to_pylist()}
            assert statuses[run_id] == "running"
            assert staging.is_dir()
            time.sleep(0.6)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    time.sleep(0.5)  # unshare's child (the run's owner) dies with it
    assert gitxp.load().to_pylist()[0]["status"] == "crashed"
