"""Issue 9, data loss: kill -9 of a sweep keeps what its children recorded, and its children do not live on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_wrapper import write

import gitxp

LOGGER = """
import sys, time, gitxp
with gitxp.start(params={"seed": 0}) as run:
    run.meta(marker=sys.argv[1])
    for step in range(2000):
        run.log(step=step, loss=1 / (step + 1))
        run.result(last=step)
        time.sleep(0.02)
"""


def _alive(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if int(p) != os.getpid()]


def test_kill_9_of_a_sweep_keeps_its_childrens_data_and_stops_them(repo: Path) -> None:
    write(repo, "t.py", LOGGER)
    marker = f"gitxp-kill-test-{os.getpid()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "run", "--grid", "x=1,2,3,4", "-j", "2", "--allow-unused", "--",
         sys.executable, "t.py", marker],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline and len(_alive(marker)) < 2:
        time.sleep(0.1)
    time.sleep(2.5)  # the children have logged for a while
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and _alive(marker):
        time.sleep(0.2)
    assert _alive(marker) == [], "children outlived the dead gitxp"
    rows = gitxp.load().to_pylist()
    assert len(rows) == 2 and {r["status"] for r in rows} == {"crashed"}
    for row in rows:
        assert row["params.x"] in (1, 2) and row["params.seed"] == 0  # params staged before the child started
        assert (
            row["meta.marker"] == marker and row["results.last"] > 10
        )  # what the script recorded via the API
        points = gitxp.metrics(row["run_id"])
        assert points.num_rows >= row["results.last"] - 100  # its curve, up to ~2 s before the kill
        assert row["ended"] >= row["started"]


def test_stdout_results_reach_staging_while_the_command_runs(repo: Path) -> None:
    write(
        repo,
        "s.py",
        "import time\nfor i in range(300):\n    print(f'gitxp: step={i} acc={i / 300}', flush=True)\n"
        "    print(f'gitxp: best={i}', flush=True)\n    time.sleep(0.02)\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "run", "--", sys.executable, "s.py"],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    row = gitxp.load().to_pylist()[0]
    assert row["status"] == "crashed" and row["results.best"] > 20
    assert gitxp.metrics(row["run_id"]).num_rows > 20


def test_kill_9_of_rerun_leaves_nothing_behind_after_the_next_gc(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    from conftest import git

    write(repo, "slow.py", "import sys, time\nprint('started', flush=True)\ntime.sleep(60)\n")
    marker = f"gitxp-rerun-kill-{os.getpid()}"
    with gitxp.start(params={}) as recorded:
        recorded.meta({"command.template": [sys.executable, "slow.py", marker], "command.shell": False})
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "rerun", recorded.id],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"started")
    worktrees = git(repo, "worktree", "list")
    assert "gitxp-rerun-" in worktrees
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and _alive(marker):
        time.sleep(0.2)
    assert _alive(marker) == []  # the re-run command stopped with it
    result = invoke("gc")
    assert "removed 1 worktree" in result.output
    assert "gitxp-rerun-" not in git(repo, "worktree", "list")
    leftover = [line.split()[0] for line in worktrees.splitlines() if "gitxp-rerun-" in line]
    assert leftover and not Path(leftover[0]).exists()
