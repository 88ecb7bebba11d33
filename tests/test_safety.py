"""Issue 21 round 2: nothing lost on kill -9, nothing leaked, nothing forged run unasked, many runs touched only
with a yes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git

import gitxp


def _wait_for(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


# ---------------------------------------------------------------------- item 2: sampled params survive kill -9


def test_sampled_params_survive_kill_9_right_after_sampling(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "sampled"
    code = (
        "import gitxp, time, pathlib\n"
        "run = gitxp.start(params={'given': 1})\n"
        "time.sleep(0.6)\n"  # past the first periodic write: the next one is ~1 s away
        "lr = run.log_uniform('lr', 1e-5, 1e-1)\n"
        "opt = run.categorical('opt', ['sgd', 'adam'])\n"
        "u = run.uniform('u', 0, 1)\n"
        f"pathlib.Path({str(marker)!r}).write_text(repr((lr, opt, u)))\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo)
    try:
        _wait_for(marker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    lr, opt, u = eval(marker.read_text())
    row = gitxp.load().to_pylist()[0]
    assert row["status"] == "crashed"
    assert (row["params.given"], row["params.lr"], row["params.opt"], row["params.u"]) == (1, lr, opt, u)


def test_optimize_trial_params_survive_kill_9(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "trial"
    code = (
        "import gitxp, time, pathlib\n"
        "def objective(run):\n"
        "    time.sleep(0.6)\n"
        "    x = run.uniform('x', -1, 1)\n"
        f"    pathlib.Path({str(marker)!r}).write_text(repr(x))\n"
        "    time.sleep(60)\n"
        "    return x * x\n"
        "gitxp.optimize(objective, n_trials=3, experiment='opt')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo)
    try:
        _wait_for(marker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    x = eval(marker.read_text())
    rows = [r for r in gitxp.load().to_pylist() if r["status"] == "crashed"]
    assert [r["params.x"] for r in rows] == [x]


# ---------------------------------------------------------------------- item 3: lone surrogates


def test_lone_surrogates_in_param_keys_and_experiment_names_do_not_lose_the_run(repo: Path) -> None:
    with gitxp.start(experiment="exp\udcff", params={"k\ud800": 1, "ok": 2}, meta={"m\udcfe": "x"}) as run:
        run.result({"acc\udc80": 0.5})
        run.log({"loss\ud801": 0.1})
    rows = gitxp.load().to_pylist()
    assert len(rows) == 1, "the run was lost"
    row = rows[0]
    assert row["experiment"] == "exp\\xff"
    assert row["params.k\\ud800"] == 1 and row["params.ok"] == 2
    assert row["meta.m\\xfe"] == "x" and row["results.acc\\x80"] == 0.5
    assert not list((repo / ".git").rglob(".corrupt"))


# ---------------------------------------------------------------------- item 1: forged runs are foreign


def _gitxp(cwd: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitxp", *args], cwd=cwd, stdin=stdin, capture_output=True, text=True
    )


@pytest.mark.parametrize("forged", ["null", "victim"])
def test_a_pulled_run_with_forged_user_and_host_is_not_run_unasked(
    repo: Path, tmp_path: Path, forged: str
) -> None:
    from gitxp.builtin.meta import current_user
    from gitxp.store import HOST

    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    mallory = tmp_path / "mallory"
    git(tmp_path, "clone", "-q", str(bare), str(mallory))
    marker = tmp_path / "pwned"
    meta = {"user": None, "host": None} if forged == "null" else {"user": current_user(), "host": HOST}
    code = (
        "import gitxp\n"
        f"run = gitxp.start(params={{'x': 1}}, meta={meta!r})\n"
        f"run.meta({{'command.template': ['sh', '-c', 'touch {marker} # x={{x}}'], 'command.shell': False}})\n"
        "run.end()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=mallory, check=True)
    assert _gitxp(mallory, "push", "origin").returncode == 0
    # the victim's own run, recorded in this clone: re-run without a question
    own = tmp_path / "own"
    code = (
        "import gitxp\n"
        "run = gitxp.start(params={'x': 2})\n"
        f"run.meta({{'command.template': ['sh', '-c', 'touch {own}'], 'command.shell': False}})\n"
        "run.end()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
    pulled = _gitxp(repo, "pull", "origin")
    assert pulled.returncode == 0, pulled.stderr
    rows = {r["params.x"]: r for r in gitxp.load().to_pylist()}
    forged_id, own_id = rows[1]["run_id"], rows[2]["run_id"]
    assert (rows[1]["meta.user"], rows[1]["meta.host"]) == (meta["user"], meta["host"])
    refused = _gitxp(repo, "rerun", forged_id)
    assert refused.returncode == 2, refused.stderr
    assert not marker.exists(), "a pulled run's command ran without a yes"
    assert "not recorded in this clone" in refused.stderr
    # the prompt shows the command that will run (params applied), not the template
    assert f"touch {marker} # x=1" in refused.stderr and "{x}" not in refused.stderr
    mine = _gitxp(repo, "rerun", own_id)
    assert mine.returncode == 0, mine.stderr
    assert own.exists()
    assert _gitxp(repo, "rerun", forged_id, "--yes").returncode == 0 and marker.exists()
