"""``gitxp cancel`` / ``gitxp.cancel``: real processes (a wrapped command, a sweep, an API run that ignores SIGTERM)
are stopped and their runs recorded ``cancelled``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from test_wrapper import GITXP, write

import gitxp
from gitxp.lifecycle.cancel import live_runs

LONG = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"


def wait_live(count: int, experiment: str, timeout: float = 30.0) -> list[dict]:
    store = gitxp.Store.open()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = [r for _s, r in live_runs(store) if r.get("experiment") == experiment]
        if len(live) >= count:
            return live
        time.sleep(0.05)
    raise AssertionError(f"{count} live runs of {experiment} did not appear")


def start(repo: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GITXP_GRACE_SECONDS": "2"}
    return subprocess.Popen(
        [*GITXP, "run", *args],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def statuses(experiment: str) -> list[str]:
    return gitxp.load(experiment)["status"].to_pylist()


def test_cancel_a_wrapped_run(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "long.py", LONG)
    proc = start(repo, "-e", "long", "--", sys.executable, "long.py")
    (record,) = wait_live(1, "long")
    assert invoke("cancel", record["run_id"][:10], "--dry-run").output.startswith(
        "would cancel 1 running run"
    )
    out = invoke("cancel", record["run_id"][:10])
    assert out.exit_code == 0 and "cancelled" in out.output, out.output
    proc.wait(timeout=30)
    assert statuses("long") == ["cancelled"]
    again = invoke("cancel", record["run_id"])
    assert again.exit_code == 2 and "not running (it is cancelled)" in again.output


def test_cancel_a_whole_sweep_by_its_experiment(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "long.py", LONG)
    began = time.monotonic()
    proc = start(
        repo,
        "-e",
        "sweep",
        "--grid",
        "x=1,2,3,4,5,6",
        "-j",
        "2",
        "--allow-unused",
        "--",
        sys.executable,
        "long.py",
    )
    wait_live(2, "sweep")
    asked = invoke("cancel", "sweep", input="n\n")
    assert asked.exit_code == 1 and "cancel 2 running runs" in asked.output
    assert len(wait_live(2, "sweep")) == 2  # still running
    out = invoke("cancel", "sweep", "--yes")
    assert out.exit_code == 0, out.output
    assert proc.wait(timeout=30) != 0
    assert time.monotonic() - began < 40  # the other points never ran (each sleeps 60 s)
    recorded = statuses("sweep")
    assert 2 <= len(recorded) < 6 and set(recorded) == {"cancelled"}, recorded


def test_cancel_through_the_api_kills_a_process_that_ignores_sigterm(repo: Path) -> None:
    code = (
        "import signal, time, gitxp\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "with gitxp.start('stubborn', params={'x': 1}) as run:\n"
        "    run.log(step=0, loss=1.0)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo, start_new_session=True)
    (record,) = wait_live(1, "stubborn")
    began = time.monotonic()
    result = gitxp.cancel(experiment="stubborn", grace=1.0)
    assert result == {record["run_id"]: "cancelled"}
    assert time.monotonic() - began < 15
    assert proc.wait(timeout=10) == -9
    row = gitxp.load("stubborn").to_pylist()[0]
    assert row["status"] == "cancelled" and row["params.x"] == 1
