"""``gitxp run --resume``: an interrupted or partly failed sweep is continued, finished points are not run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_wrapper import GITXP, write

import gitxp

FLAKY = """
import os, sys
x = int(sys.argv[1])
if os.path.exists(os.environ["FLAKY_MARKER"]) and x in (1, 3):
    sys.exit(4)
print(f"gitxp: f={(x - 2) ** 2}")
"""


def _finished(experiment: str) -> Counter[object]:
    rows = gitxp.load(experiment=experiment).to_pylist()
    return Counter(r["params.x"] for r in rows if r["status"] == "finished")


def test_resume_reruns_only_failed_grid_points(repo: Path, invoke, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write(repo, "flaky.py", FLAKY)
    marker = tmp_path / "fail"
    marker.write_text("")
    monkeypatch.setenv("FLAKY_MARKER", str(marker))
    args = [
        "run",
        "-e",
        "fl",
        "--grid",
        "x=0:4",
        "--metric",
        "f:min",
        "--",
        sys.executable,
        "flaky.py",
        "{x}",
    ]
    first = invoke(*args)
    assert first.exit_code == 1 and "2 failed" in first.output
    marker.unlink()
    second = invoke(*args[:1], "--resume", *args[1:])
    assert second.exit_code == 0, second.output
    assert "3 already finished (skipped)" in second.output and "resuming: 3 finished runs" in second.output
    rows = gitxp.load(experiment="fl").to_pylist()
    assert len(rows) == 7  # 5 + the 2 failed points again; nothing finished was run twice
    assert _finished("fl") == Counter({0: 1, 1: 1, 2: 1, 3: 1, 4: 1})
    best = next(r for r in rows if r["params.x"] == 2)
    assert f"best: run {best['run_id']} (earlier) f=0" in second.output  # the best is an earlier run: said so
    third = invoke(*args[:1], "--resume", *args[1:])
    assert third.exit_code == 0 and "all 5 points already finished" in third.output
    assert gitxp.load(experiment="fl").num_rows == 7
    again = invoke(*args)  # without --resume the sweep runs in full, as before
    assert again.exit_code == 0 and gitxp.load(experiment="fl").num_rows == 12


def test_resume_is_per_version(repo: Path, invoke, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write(repo, "flaky.py", FLAKY)
    monkeypatch.setenv("FLAKY_MARKER", str(tmp_path / "absent"))
    args = ["run", "-e", "v", "--grid", "x=0:2", "--", sys.executable, "flaky.py", "{x}"]
    assert invoke(*args).exit_code == 0
    write(repo, "flaky.py", FLAKY + "\nprint('gitxp: changed=1')\n")  # new code: its points were never run
    result = invoke(args[0], "--resume", *args[1:])
    assert result.exit_code == 0, result.output
    assert "resuming: 0 finished runs" in result.output
    assert gitxp.load(experiment="v").num_rows == 6


def test_resume_seeded_samples(repo: Path, invoke, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "s.py",
        "import os, sys\ny = float(sys.argv[1])\nsys.exit(5 if os.path.exists(os.environ['M']) and y < -1 else 0)\n",
    )
    marker = tmp_path / "m"
    marker.write_text("")
    monkeypatch.setenv("M", str(marker))
    args = [
        "run",
        "-e",
        "smp",
        "--sample",
        "y=uniform(-2,0)",
        "-n",
        "6",
        "--seed",
        "11",
        "--strategy",
        "random",
        "--allow-unused",
        "--",
        sys.executable,
        "s.py",
        "{y}",
    ]
    invoke(*args)
    before = gitxp.load(experiment="smp").to_pylist()
    failed = [r["params.y"] for r in before if r["status"] == "failed"]
    assert failed and len(failed) < 6
    marker.unlink()
    result = invoke(args[0], "--resume", *args[1:])
    assert result.exit_code == 0, result.output
    after = gitxp.load(experiment="smp").to_pylist()
    new = [r for r in after if r["run_id"] not in {b["run_id"] for b in before}]
    assert sorted(r["params.y"] for r in new) == sorted(failed)  # the same seeded draws, only the failed ones
    assert all(r["status"] == "finished" for r in new)


def test_resume_an_interrupted_sweep_by_experiment(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "slow.py",
        "import os, sys, time\nx = int(sys.argv[1])\nif x == 1 and os.environ.get('SLOW'): time.sleep(60)\n",
    )
    proc = subprocess.Popen(
        [*GITXP, "run", "-e", "intr", "--grid", "x=0:3", "--", sys.executable, "slow.py", "{x}"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLOW": "1"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # x=0 finished, x=1 (60 s) running
        if gitxp.load(experiment="intr").num_rows >= 2:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    statuses = {r["params.x"]: r["status"] for r in gitxp.load(experiment="intr").to_pylist()}
    assert statuses == {0: "finished", 1: "interrupted"}
    result = invoke("run", "--resume", "-e", "intr")  # no command: the experiment's latest sweep, continued
    assert result.exit_code == 0, result.output
    assert "resuming: gitxp run --resume -e intr --grid x=0:3 --" in result.output
    assert "1 already finished (skipped)" in result.output
    assert _finished("intr") == Counter({0: 1, 1: 1, 2: 1, 3: 1})
    assert gitxp.load(experiment="intr").num_rows == 5


def test_resume_without_command_errors(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "ok.py", "print('gitxp: v=1')\n")
    assert invoke("run", "-e", "single", "--", sys.executable, "ok.py").exit_code == 0
    result = invoke("run", "--resume", "-e", "singel")
    assert (
        result.exit_code == 2 and "unknown experiment 'singel'" in result.output and "single" in result.output
    )
    result = invoke("run", "--resume", "-e", "single")  # a single run is no sweep: nothing to continue
    assert result.exit_code == 2 and "no sweep recorded" in result.output
    result = invoke("run", "--resume")
    assert result.exit_code == 2 and "needs -e EXP" in result.output
    again = invoke(
        "run", "--resume", "-e", "single", "--", sys.executable, "ok.py"
    )  # the same single run again
    assert again.exit_code == 0 and "already finished on this version" in again.output
    assert gitxp.load(experiment="single").num_rows == 1


CHECKPOINTED = """
import json, os, sys
import gitxp

run = gitxp.start()
start = 0
resume = os.environ.get("GITXP_RESUME_DIR")
if resume and os.path.exists(os.path.join(resume, "ckpt.json")):
    start = json.load(open(os.path.join(resume, "ckpt.json")))["step"] + 1
for step in range(start, 6):
    run.log(step=step, loss=1.0 / (step + 1))
    json.dump({"step": step}, open(os.path.join(os.environ["GITXP_OUTPUT_DIR"], "ckpt.json"), "w"))
    if step == 2 and os.environ.get("CRASH"):
        os._exit(9)
print(f"gitxp: started_at={start}")
"""


@pytest.mark.parametrize("chunk", [5000, 1])  # 1: the carried curve is flushed while it is copied
def test_rerun_resume_continues_a_crashed_run(repo: Path, invoke, monkeypatch, chunk) -> None:  # type: ignore[no-untyped-def]
    write(repo, "ck.py", CHECKPOINTED)
    monkeypatch.setenv("CRASH", "1")
    monkeypatch.setenv("GITXP_METRICS_CHUNK", "1")  # every point on disk before the crash
    first = invoke("run", "-e", "ck", "--", sys.executable, "ck.py")
    assert first.exit_code == 1
    crashed = gitxp.load(experiment="ck").to_pylist()[0]
    assert crashed["status"] in ("crashed", "failed")
    assert sorted(gitxp.metrics(crashed["run_id"])["step"].to_pylist()) == [0, 1, 2]
    monkeypatch.delenv("CRASH")
    monkeypatch.setattr("gitxp.run.curves.CHUNK_POINTS", chunk)  # (read when gitxp.run is first imported)
    result = invoke("rerun", crashed["run_id"][:12], "--resume")
    assert result.exit_code == 0, result.output
    assert f"resuming {crashed['run_id']} as" in result.output
    new = next(r for r in gitxp.load(experiment="ck").to_pylist() if r["run_id"] != crashed["run_id"])
    assert new["status"] == "finished" and new["results.started_at"] == 3  # went on from its checkpoint
    assert new["meta.resumed_from"] == crashed["run_id"]
    curve = gitxp.metrics(new["run_id"]).to_pylist()
    assert sorted(r["step"] for r in curve) == [0, 1, 2, 3, 4, 5]  # the earlier curve kept, then continued
    old_times = {r["step"]: r["time"] for r in gitxp.metrics(crashed["run_id"]).to_pylist()}
    assert all(r["time"] == old_times[r["step"]] for r in curve if r["step"] < 3)
    again = invoke("rerun", new["run_id"][:12], "--resume")  # a finished run has nothing to resume
    assert again.exit_code == 2 and "is finished" in again.output
    bad = invoke("rerun", crashed["run_id"][:12], "--resume", "--set", "x=1")
    assert bad.exit_code == 2 and "drop --set" in bad.output
