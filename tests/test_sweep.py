"""Sweeps through `gitxp run`: grids, samples, strategies, parallel runs, failures and Ctrl-C."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_wrapper import GITXP, write

import gitxp

QUAD = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--y", type=float, default=0.0)
a = p.parse_args()
print(f"gitxp: f={(a.x - 0.7) ** 2 + 3 * (a.y + 1.3) ** 2}")
"""


def test_grid_sweep_in_parallel(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    result = invoke(
        "run",
        "-e",
        "grid",
        "--grid",
        "x=0:0.5:1",
        "--grid",
        "y=-2,-1",
        "-j",
        "2",
        "--metric",
        "f:min",
        "--",
        sys.executable,
        "quad.py",
        "--x",
        "0",
        "--y",
        "0",
    )
    assert result.exit_code == 0, result.output
    table = gitxp.load(experiment="grid")
    points = sorted(zip(table["params.x"].to_pylist(), table["params.y"].to_pylist()))
    assert points == [(x, y) for x in (0.0, 0.5, 1.0) for y in (-2, -1)]
    assert set(table["status"].to_pylist()) == {"finished"}
    assert len(set(table["meta.sweep"].to_pylist())) == 1
    assert len(set(table["meta.output_dir"].to_pylist())) == 6  # each run has its own output dir
    best = min(table.to_pylist(), key=lambda r: r["results.f"])
    assert f"best: run {best['run_id']}" in result.output and "top runs" in result.output


def test_samples_per_grid_point_and_seed(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    args = [
        "--grid",
        "x=0,1",
        "--sample",
        "y=uniform(-2,0)",
        "-n",
        "3",
        "--seed",
        "7",
        "--",
        sys.executable,
        "quad.py",
        "--x",
        "{x}",
        "--y",
        "{y}",
    ]
    assert invoke("run", "-e", "s1", *args).exit_code == 0
    assert invoke("run", "-e", "s2", *args).exit_code == 0
    first = gitxp.load(experiment="s1", sort="run_id")
    second = gitxp.load(experiment="s2", sort="run_id")
    assert first.num_rows == 6 and first["params.x"].to_pylist().count(0) == 3
    assert first["params.y"].to_pylist() == second["params.y"].to_pylist()  # --seed: the same sweep again
    assert len(set(first["params.y"].to_pylist())) == 6


def test_space_file_with_hypertrainer_block_and_config(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "cfg.yaml").write_text(
        "opt:\n  lr: 0.1\nhpsearch:\n  n_trials: 4\n  params:\n    - param: opt.lr\n      exponent_base: 10\n"
        "      lo: -3\n      hi: -1\n"
    )
    write(
        repo,
        "c.py",
        "import sys, yaml\nprint('gitxp: lr=%s' % yaml.safe_load(open(sys.argv[1]))['opt']['lr'])\n",
    )
    result = invoke(
        "run",
        "--space",
        "cfg.yaml",
        "--strategy",
        "random",
        "--config",
        "cfg.yaml",
        "--seed",
        "1",
        "--",
        sys.executable,
        "c.py",
        "{config}",
    )
    assert result.exit_code == 0, result.output
    rows = gitxp.load().to_pylist()
    assert len(rows) == 4
    assert all(1e-3 <= r["params.opt.lr"] <= 1e-1 and r["results.lr"] == r["params.opt.lr"] for r in rows)


def test_a_failing_run_does_not_stop_the_sweep(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo, "flaky.py", "import sys\nx = int(sys.argv[1])\nif x == 2: sys.exit(3)\nprint(f'gitxp: v={x}')\n"
    )
    result = invoke("run", "--grid", "x=0:4", "-j", "2", "--", sys.executable, "flaky.py", "{x}")
    assert result.exit_code == 1
    statuses = {r["params.x"]: r["status"] for r in gitxp.load().to_pylist()}
    assert statuses == {0: "finished", 1: "finished", 2: "failed", 3: "finished", 4: "finished"}
    assert "1 failed" in result.output
    assert "failed: run " in result.output and "command exited with code 3" in result.output


def test_fail_fast(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "ff.py", "import sys, time\nx = int(sys.argv[1])\nif x == 0: sys.exit(1)\ntime.sleep(0.5)\n")
    result = invoke("run", "--grid", "x=0:9", "--fail-fast", "--", sys.executable, "ff.py", "{x}")
    assert result.exit_code == 1
    table = gitxp.load()
    assert table.num_rows < 10 and table["status"].to_pylist()[0] == "failed"


@pytest.mark.parametrize("group", [False, True], ids=["gitxp-alone", "process-group"])
def test_sigint_stops_a_parallel_sweep_cleanly(repo: Path, group: bool) -> None:
    write(
        repo,
        "sleepy.py",
        "import sys, time\nprint(f'gitxp: step=0 started={sys.argv[1]}', flush=True)\n"
        "time.sleep(0.2 if sys.argv[1] == '0' else 60)\n",
    )
    proc = subprocess.Popen(
        [*GITXP, "run", "--grid", "x=0:5", "-j", "2", "--", sys.executable, "sleepy.py", "{x}"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the first run finished and two long ones are running
        table = gitxp.load()
        if table.num_rows >= 3 and table["status"].to_pylist().count("finished") >= 1:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    rows = gitxp.load().to_pylist()
    statuses = sorted(r["status"] for r in rows)
    assert statuses.count("finished") >= 1 and statuses.count("interrupted") == 2
    assert (
        len(rows) == 3 and "running" not in statuses
    )  # nothing started after Ctrl-C, nothing left half-written
    interrupted = [r for r in rows if r["status"] == "interrupted"]
    assert all(len(gitxp.metrics(r["run_id"])) == 1 for r in interrupted)  # what they logged is kept
    assert not list((repo / ".git" / "gitxp" / "staging").iterdir())


def test_tpe_continues_from_past_runs_and_beats_random(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    common = ["--sample", "x=uniform(-5,5)", "--sample", "y=uniform(-5,5)", "--metric", "f:min"]
    cmd = ["--", sys.executable, "quad.py", "--x", "{x}", "--y", "{y}"]
    assert (
        invoke("run", "-e", "rnd", "--strategy", "random", "-n", "30", "--seed", "3", *common, *cmd).exit_code
        == 0
    )
    for round_ in (1, 2):
        assert (
            invoke(
                "run", "-e", "tpe", "--strategy", "tpe", "-n", "15", "--seed", str(round_), *common, *cmd
            ).exit_code
            == 0
        )
    tpe = gitxp.load(experiment="tpe", sort="started")
    rnd = gitxp.load(experiment="rnd")
    assert tpe.num_rows == 30 and rnd.num_rows == 30
    f_tpe, f_rnd = tpe["results.f"].to_pylist(), rnd["results.f"].to_pylist()
    assert min(f_tpe) < 2.0  # TPE homes in on the minimum (0 at 0.7, -1.3)
    # the second sweep started from the first one's 15 results: its proposals are far better than random ones
    assert statistics.median(f_tpe[15:]) < statistics.median(f_tpe[:15])
    assert statistics.median(f_tpe[15:]) < statistics.median(f_rnd) / 2


def test_progress_bar_shows_done_running_failed_best(repo: Path) -> None:
    write(repo, "quad.py", QUAD)
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "150"}  # rich draws live progress only on a terminal
    proc = subprocess.run(
        [
            *GITXP,
            "run",
            "--grid",
            "x=0:3",
            "--metric",
            "f:min",
            "-j",
            "2",
            "--",
            sys.executable,
            "quad.py",
            "--x",
            "{x}",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    import re

    frames = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", proc.stderr).replace("\r", "\n")
    last = [line for line in frames.splitlines() if line.startswith("sweep")][-1]
    assert "4/4" in last and "running 0" in last and "failed 0" in last and "best 5.16" in last
