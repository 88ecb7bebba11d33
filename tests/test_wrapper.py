"""`gitxp run` of one unmodified command: params in, results out, output captured, fate recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import git

import gitxp

GITXP = [sys.executable, "-m", "gitxp"]


def write(repo: Path, name: str, code: str) -> Path:
    path = repo / name
    path.write_text(textwrap.dedent(code))
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"add {name}")
    return path


def only_run() -> dict:
    rows = gitxp.load().to_pylist()
    assert len(rows) == 1, rows
    return rows[0]


REPORT = """
    import json, os, sys
    print("args", json.dumps(sys.argv[1:]))
    print("env", os.environ["GITXP_RUN_ID"], os.environ["GITXP_PARAMS"], os.environ["GITXP_OUTPUT_DIR"])
    print("to stderr", file=sys.stderr)
    for step in range(3):
        print(f"gitxp: step={step} loss={1 / (step + 1)} acc={step / 10}")
    print("gitxp: valid_acc=0.91 note='two words'")
    print("fitness: 0.75")
"""


def test_records_an_unmodified_command(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "report.py", REPORT)
    result = invoke(
        "run",
        "-p",
        "lr=0.01",
        "-p",
        "layers=3",
        "-p",
        "name=adam",
        "-p",
        "flag=true",
        "--",
        sys.executable,
        "report.py",
        "--lr",
        "0.5",
        "--layers={layers}",
        "{name}",
        "--flag",
        "{flag}",
    )
    assert result.exit_code == 0, result.output
    row = only_run()
    assert row["status"] == "finished" and row["meta.exit_code"] == 0
    assert (row["params.lr"], row["params.layers"], row["params.name"], row["params.flag"]) == (
        0.01,
        3,
        "adam",
        True,
    )
    assert (
        row["results.valid_acc"] == 0.91
        and row["results.note"] == "two words"
        and row["results.fitness"] == 0.75
    )
    assert row["version"] == git(repo, "rev-parse", "--short=7", "HEAD")
    log = invoke("show", row["run_id"], "--log").output
    assert 'args ["--lr", "0.01", "--layers=3", "adam", "--flag", "true"]' in log
    assert "to stderr" in log
    env_line = next(line for line in log.splitlines() if line.startswith("env "))
    _, run_id, params_json = env_line.split(" ", 2)[:3]
    assert run_id == row["run_id"]
    assert json.loads(params_json.rsplit(" ", 1)[0]) == {
        "lr": 0.01,
        "layers": 3,
        "name": "adam",
        "flag": True,
    }
    curves = gitxp.metrics(row["run_id"]).to_pylist()
    assert [(c["step"], c["name"], c["value"]) for c in curves if c["name"] == "loss"] == [
        (0, "loss", 1.0),
        (1, "loss", 0.5),
        (2, "loss", 1 / 3),
    ]
    assert row["duration"] > 0


def test_output_is_teed_live(repo: Path) -> None:
    write(repo, "slow.py", "import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')\n")
    proc = subprocess.Popen(
        [*GITXP, "run", "--", sys.executable, "slow.py"], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    start = time.monotonic()
    assert proc.stdout.readline().strip() == "first"
    assert time.monotonic() - start < 2.5  # seen before the command ended
    proc.wait(timeout=30)
    assert proc.returncode == 0


# Two threads write long lines to stdout and stderr at once, each line in several unbuffered pieces: the log's
# readers see partial lines of both streams at the same moments.
CHATTY = """
    import os, threading
    def spam(fd, tag):
        for i in range(300):
            line = f"{tag}{i:03d}:" + tag * 400 + "\\n"
            for k in range(0, len(line), 97):
                os.write(fd, line[k : k + 97].encode())
    threads = [threading.Thread(target=spam, args=(fd, tag)) for fd, tag in ((1, "o"), (2, "e"))]
    for t in threads: t.start()
    for t in threads: t.join()
"""


def test_log_never_splices_one_stream_into_the_others_line(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "chatty.py", CHATTY)
    assert invoke("run", "--", sys.executable, "chatty.py").exit_code == 0
    log = invoke("show", only_run()["run_id"], "--log").output
    lines = log.splitlines()
    want = {f"{tag}{i:03d}:" + tag * 400 for tag in "oe" for i in range(300)}
    assert [line for line in lines if line not in want] == [] and set(lines) == want
    assert [line for line in lines if line[0] == "o"] == sorted(w for w in want if w[0] == "o")  # in order


def test_unfinished_line_and_progress_bar_reach_the_log_live(repo: Path) -> None:
    code = "import sys, time\nsys.stdout.write('10%\\r20%\\r'); sys.stderr.write('name? ')\ntime.sleep(4)\n"
    write(repo, "ask.py", code)
    proc = subprocess.Popen(
        [*GITXP, "run", "--", sys.executable, "ask.py"], cwd=repo, stdout=subprocess.DEVNULL
    )
    from gitxp.store import Store

    seen, deadline = "", time.monotonic() + 20
    while time.monotonic() < deadline and not ("20%\r" in seen and "name? " in seen):
        for staged in Store.open().staged_runs():  # what the dashboard's tail reads while the run runs
            log = staged.path / "stdout.log"
            seen = log.read_bytes().decode() if log.exists() else ""
        time.sleep(0.05)
    running = proc.poll() is None
    proc.wait(timeout=30)
    assert running and "10%\r20%\r" in seen and "name? " in seen, seen
    assert proc.returncode == 0


def test_failing_command_is_recorded_as_failed(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "boom.py", "import sys\nprint('gitxp: partial=1')\nraise SystemExit('out of memory')\n")
    result = invoke("run", "--", sys.executable, "boom.py")
    assert result.exit_code == 1
    row = only_run()
    assert row["status"] == "failed" and row["meta.exit_code"] == 1 and row["results.partial"] == 1
    assert row["meta.error.message"] == "command exited with code 1"
    assert "out of memory" in row["meta.error.traceback"][-1]


def test_typo_param_is_refused_before_anything_runs(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "train.py", "import sys\nprint(sys.argv)\n")
    result = invoke(
        "run", "-p", "lerning_rate=0.1", "--", sys.executable, "train.py", "--learning-rate", "0.5"
    )
    assert result.exit_code == 2 and "'lerning_rate' never reaches the command" in result.output
    assert gitxp.load().num_rows == 0
    assert (
        invoke(
            "run", "-p", "learning_rate=0.1", "--", sys.executable, "train.py", "--learning-rate", "0.5"
        ).exit_code
        == 0
    )
    assert "--learning-rate', '0.1'" in invoke("show", only_run()["run_id"], "--log").output
    ok = invoke("run", "--allow-unused", "-p", "lerning_rate=0.1", "--", sys.executable, "train.py")
    assert ok.exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "lr"], "expected NAME=VALUE"),
        (["--grid", "lr=1:x:3"], "step 'x' is not a number"),
        (["--sample", "lr=gamma(1,2)"], "unknown distribution"),
        (["--metric", "acc:best"], "NAME:min, NAME:max or NAME:last"),
        (["--strategy", "annealing", "--grid", "lr=1,2"], "--strategy 'annealing'"),
        (["-j", "0"], "-j must be at least 1"),
    ],
)
def test_malformed_options_exit_2_and_run_nothing(repo: Path, invoke, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    write(repo, "t.py", "print(1)\n")
    result = invoke("run", "--allow-unused", *args, "--", sys.executable, "t.py")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert gitxp.load().num_rows == 0


def test_missing_command(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert "no command given" in invoke("run").output
    result = invoke("run", "--", "no-such-program-xyz")
    assert result.exit_code == 2 and "command not found: no-such-program-xyz" in result.output


def test_config_file_is_rendered_with_dotted_overrides(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "cfg.yaml").write_text("training:\n  learning_rate: 0.1\n  epochs: 3\nmodel: {width: 8}\n")
    write(
        repo,
        "cfgtrain.py",
        """
        import sys, yaml
        cfg = yaml.safe_load(open(sys.argv[1]))
        print(f"gitxp: used_lr={cfg['training']['learning_rate']} width={cfg['model']['width']} path_is_copy={sys.argv[1] != 'cfg.yaml'}")
    """,
    )
    result = invoke(
        "run",
        "--config",
        "cfg.yaml",
        "-p",
        "training.learning_rate=0.005",
        "-p",
        "model.width=32",
        "--",
        sys.executable,
        "cfgtrain.py",
        "{config}",
    )
    assert result.exit_code == 0, result.output
    row = only_run()
    assert (
        row["results.used_lr"] == 0.005 and row["results.width"] == 32 and row["results.path_is_copy"] is True
    )
    assert (
        (repo / "cfg.yaml").read_text().startswith("training:\n  learning_rate: 0.1")
    )  # the original is untouched
    typo = invoke(
        "run",
        "--config",
        "cfg.yaml",
        "-p",
        "training.learnin_rate=1",
        "--",
        sys.executable,
        "cfgtrain.py",
        "{config}",
    )
    assert typo.exit_code == 2 and "training.learnin_rate" in typo.output
    named = invoke(
        "run", "--config", "cfg.yaml", "-p", "model.width=4", "--", sys.executable, "cfgtrain.py", "cfg.yaml"
    )
    assert named.exit_code == 0 and gitxp.load(sort="-started", limit=1)["results.width"].to_pylist() == [4]


def test_metric_files_in_output_dir(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "ht.py",
        """
        import os
        out = os.environ["GITXP_OUTPUT_DIR"]
        with open(os.path.join(out, "metric_val_acc.log"), "w") as f:
            f.write("epoch\\tvalue\\n0\\t0.5\\n1\\t0.7\\n2\\t0.6\\n")
        with open(os.path.join(out, "progress.log"), "w") as f:
            f.write("epoch 1/3\\nepoch 3/3\\n")
    """,
    )
    assert invoke("run", "--metric", "val_acc:max", "--", sys.executable, "ht.py").exit_code == 0
    row = only_run()
    assert row["results.val_acc.max"] == 0.7 and row["meta.progress"] == "epoch 3/3"
    assert [p["value"] for p in gitxp.metrics(row["run_id"]).to_pylist()] == [0.5, 0.7, 0.6]


def test_child_using_the_api_attaches_to_the_wrappers_run(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "api.py",
        """
        import gitxp

        @gitxp.experiment(metric="acc:max")
        def train(lr: float = 0.1, depth: int = 2) -> dict:
            run = gitxp.current()
            dropout = run.uniform("dropout", 0.0, 0.5)
            for step in range(4):
                run.log(step=step, acc=lr * step)
            return {"acc": lr * 3, "dropout_seen": dropout}

        train()
    """,
    )
    result = invoke("run", "-p", "lr=0.2", "--allow-unused", "--", sys.executable, "api.py")
    assert result.exit_code == 0, result.output
    row = only_run()  # one run, not two
    assert row["params.lr"] == 0.2 and row["params.depth"] == 2  # the wrapper's value reached the function
    assert row["results.acc"] == pytest.approx(0.6)
    assert 0 <= row["params.dropout"] <= 0.5 and row["results.dropout_seen"] == row["params.dropout"]
    assert row["meta.entrypoint"] == "api.py:train"
    assert len(gitxp.metrics(row["run_id"])) == 4
    # a param given from outside is returned instead of sampled
    invoke("run", "-p", "dropout=0.125", "--allow-unused", "--", sys.executable, "api.py")
    latest = gitxp.load(sort="-started", limit=1).to_pylist()[0]
    assert latest["params.dropout"] == 0.125 and latest["results.dropout_seen"] == 0.125


def test_sigint_to_gitxp_interrupts_the_command(repo: Path) -> None:
    write(
        repo,
        "long.py",
        "import time\nprint('gitxp: step=0 loss=1', flush=True)\nprint('ready', flush=True)\ntime.sleep(60)\n",
    )
    proc = subprocess.Popen(
        [*GITXP, "run", "--", sys.executable, "long.py"], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    while "ready" not in proc.stdout.readline():
        pass
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    row = only_run()
    assert row["status"] == "interrupted" and len(gitxp.metrics(row["run_id"])) == 1


def test_no_commit_needs_no_git(make_repo, monkeypatch: pytest.MonkeyPatch, invoke) -> None:  # type: ignore[no-untyped-def]
    empty = make_repo("fresh", commit=False)
    monkeypatch.chdir(empty)
    result = invoke("run", "--", sys.executable, "-c", "print('gitxp: x=1')")
    assert result.exit_code == 2 and "no commit yet" in result.output
    assert invoke("run", "--no-git", "--", sys.executable, "-c", "print('gitxp: x=1')").exit_code == 0
    assert only_run()["version"] == "nogit"


def test_subprocess_run_is_committed_in_the_background(repo: Path) -> None:
    subprocess.run(
        [*GITXP, "run", "--", sys.executable, "-c", "print('gitxp: x=1')"],
        cwd=repo,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "GITXP_SYNC"},
        capture_output=True,
    )
    assert only_run()["results.x"] == 1  # listed at once, staged or committed
    deadline = time.monotonic() + 20
    while not (repo / ".git" / "refs" / "gitxp" / "runs").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert git(repo, "ls-tree", "-r", "--name-only", "refs/gitxp/runs").count("run.parquet") == 1


def test_experiment_named_by_the_script_unless_given(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "named.py",
        "import gitxp\n\n@gitxp.experiment(name='named')\ndef f(a: int = 1) -> float:\n    return 1.0\n\nf()\n",
    )
    assert invoke("run", "--", sys.executable, "named.py").exit_code == 0
    assert invoke("run", "-e", "mine", "--", sys.executable, "named.py").exit_code == 0
    assert sorted(gitxp.load()["experiment"].to_pylist()) == ["mine", "named"]


def test_shell_commands_and_json_configs(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "cfg.json").write_text(json.dumps({"model": {"depth": 2}}))
    write(
        repo,
        "j.py",
        "import json, sys\nprint('gitxp: depth=%d' % json.load(open(sys.argv[1]))['model']['depth'])\n",
    )
    result = invoke(
        "run",
        "--shell",
        "--config",
        "cfg.json",
        "-p",
        "model.depth=5",
        "--",
        f"{sys.executable} j.py {{config}} | cat && echo 'gitxp: piped=1'",
    )
    assert result.exit_code == 0, result.output
    row = only_run()
    assert row["results.depth"] == 5 and row["results.piped"] == 1
    assert json.loads((repo / "cfg.json").read_text()) == {"model": {"depth": 2}}


def test_gitxp_run_inside_gitxp_run_records_its_own_run(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "inner.py", "print('gitxp: inner=1')\n")
    result = invoke(
        "run", "-e", "outer", "--", *GITXP, "run", "-e", "inner", "--", sys.executable, "inner.py"
    )
    assert result.exit_code == 0, result.output
    rows = {r["experiment"]: r for r in gitxp.load().to_pylist()}
    assert set(rows) == {"outer", "inner"} and rows["inner"]["results.inner"] == 1
