"""What a new user met on first use (issue 20 item 6): each test drives the real CLI or API in a real repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cancel import wait_live
from test_wrapper import GITXP, write

import gitxp

# -------------------------------------------------------------------- pruning: a run that completed is finished

ALL_AT_ONCE = """
import os, sys
bad = float(sys.argv[1])
lines = "".join(f"gitxp: step={step} loss={bad + 1.0 / (step + 1)}\\n" for step in range(6))
os.write(1, (lines + f"gitxp: loss={bad}\\n").encode())  # every step and the final result in one write
"""


def test_a_run_that_completed_every_step_is_finished_not_pruned(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "fast.py", ALL_AT_ONCE)
    result = invoke(
        "run", "-e", "fast", "--grid", "bad=0.1,0.2,0.15,9", "--prune", "median", "--metric", "loss:min",
        "--", sys.executable, "fast.py", "{bad}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["params.bad"]: r for r in gitxp.load(experiment="fast").to_pylist()}
    assert rows[9.0]["results.loss"] == 9.0 and rows[9.0]["meta.exit_code"] == 0
    assert rows[9.0]["status"] == "finished", rows[9.0]["status"]
    assert "0 pruned" in result.output


# -------------------------------------------------------------------- Optuna's own log stays quiet


def test_pruning_with_grid_and_random_prints_no_optuna_log(repo: Path) -> None:
    import optuna

    write(
        repo,
        "curve.py",
        "import sys\nfor s in range(4):\n    print(f'gitxp: step={s} loss={float(sys.argv[1]) / (s + 1)}')\n",
    )
    for strategy, space in (
        ("grid", ["--grid", "x=1,2,3,4,5"]),
        ("random", ["--sample", "x=uniform(1,5)", "-n", "5"]),
    ):
        proc = subprocess.run(
            [*GITXP, "run", "-e", f"log-{strategy}", *space, "--strategy", strategy, "--prune", "median",
             "--metric", "loss:min", "--seed", "1", "--", sys.executable, "curve.py", "{x}"],
            cwd=repo, capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "A new study created" not in proc.stderr and "[I " not in proc.stderr, proc.stderr[:500]

    before = optuna.logging.get_verbosity()

    def objective(run: gitxp.Run) -> float:
        x = run.uniform("x", 0, 1)
        for step in range(3):
            run.log(step=step, loss=x / (step + 1))
            if run.should_prune():
                break
        return x

    gitxp.optimize(
        objective, n_trials=5, experiment="api", metric="loss:min", strategy="random", prune="median", seed=0
    )
    assert optuna.logging.get_verbosity() == before  # the user's own Optuna settings are left alone


# -------------------------------------------------------------------- gitxp cancel: the sweep says cancelled

LONG = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"


def test_a_cancelled_sweep_says_cancelled(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "long.py", LONG)
    proc = subprocess.Popen(
        [*GITXP, "run", "-e", "sw", "--grid", "x=1,2,3,4", "-j", "2", "--allow-unused", "--", sys.executable, "long.py"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "GITXP_GRACE_SECONDS": "2"},
    )  # fmt: skip
    wait_live(2, "sw")
    assert invoke("cancel", "sw", "--yes").exit_code == 0
    out, err = proc.communicate(timeout=60)
    assert set(gitxp.load("sw")["status"].to_pylist()) == {"cancelled"}
    assert "2 cancelled" in err and "2 interrupted" not in err, err
    assert "#1 cancelled" in err or "#2 cancelled" in err, err


# -------------------------------------------------------------------- --resume --dry-run counts what is left


def test_resume_dry_run_leaves_out_finished_points(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "ok.py", "import sys\nprint(f'gitxp: acc={sys.argv[1]}')\n")
    cmd = ["--", sys.executable, "ok.py", "{x}"]
    assert invoke("run", "-e", "res", "--grid", "x=1,2,3", *cmd).exit_code == 0
    plan = invoke("run", "-e", "res", "--grid", "x=1,2,3,4,5", "--resume", "--dry-run", *cmd)
    assert plan.exit_code == 0, plan.output
    assert "dry run: 2 runs" in plan.output, plan.output
    assert "3 already finished" in plan.output
    assert "x=4" in plan.output and "x=1" not in plan.output
    assert gitxp.load("res").num_rows == 3  # nothing ran


# -------------------------------------------------------------------- an archived experiment says so


def test_an_archived_experiment_points_to_all(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    for name in ("old", "new"):
        with gitxp.start(name, params={"x": 1}) as run:
            run.result(acc=0.5)
    assert invoke("archive", "-e", "old", "--yes").exit_code == 0
    out = invoke("ls", "-e", "old")
    assert out.exit_code == 2 and "archived" in out.output and "--all" in out.output, out.output
    assert "old" in invoke("ls", "-e", "old", "--all").output
    with pytest.raises(gitxp.GitxpError, match="archived=True"):
        gitxp.load("old")
    assert invoke("archive", "-e", "new", "--yes").exit_code == 0  # now every run of the store is archived
    out = invoke("ls", "-e", "new")
    assert out.exit_code == 2 and "--all" in out.output, out.output


# -------------------------------------------------------------------- HyperTrainer configs, unchanged

DUMMY = """
import argparse
from pathlib import Path
import yaml

ap = argparse.ArgumentParser()
ap.add_argument("file")
args = ap.parse_args()
config = yaml.safe_load(Path(args.file).read_text())
output_path = Path(config["training"]["output_path"])
output_path.mkdir(parents=True, exist_ok=True)
lr = float(config["training"]["learning_rate"])
with (output_path / "metric_loss.log").open("a") as loss_file:
    for epoch in range(config["training"]["num_epochs"]):
        loss_file.write(f"{epoch}\\t{lr * (10 - epoch)}\\n")
Path(config["log_dir"]).mkdir(parents=True, exist_ok=True)
(Path(config["log_dir"]) / "seen.txt").write_text(config["log_dir"])
print("Done.")
"""

CONFIG = """
log_dir: "{output_dir}/logs"
training:
  output_path: dummy
  num_epochs: 3
  learning_rate: 1e-3
"""


def test_hypertrainer_config_output_path_and_output_dir(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "dummy.py", DUMMY)
    write(repo, "cfg.yaml", CONFIG)
    result = invoke(
        "run", "-e", "ht", "--grid", "training.learning_rate=0.1,0.2", "--config", "cfg.yaml",
        "--", sys.executable, "dummy.py", "cfg.yaml",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = gitxp.load("ht").to_pylist()
    assert len(rows) == 2
    for row in rows:
        lr = row["params.training.learning_rate"]
        curve = gitxp.metrics(row["run_id"]).to_pylist()
        assert [(p["step"], p["name"], p["value"]) for p in curve] == [
            (e, "loss", pytest.approx(lr * (10 - e))) for e in range(3)
        ]  # each run's own file, read from the config's output_path: no mixing
        seen = Path(row["meta.output_dir"]) / "logs" / "seen.txt"
        assert seen.read_text() == str(
            Path(row["meta.output_dir"]) / "logs"
        )  # {output_dir} inside the config


# -------------------------------------------------------------------- ls --by experiment, mixed objectives


def test_ls_by_experiment_with_a_curve_objective_beside_a_plain_one(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    for x in (1.0, 2.0):
        with gitxp.start("plain", params={"x": x}, metric="loss:min") as run:
            run.result(loss=x)
        with gitxp.start("curve", params={"x": x}, metric="loss:min") as run:
            for step in range(3):
                run.log(step=step, loss=x * (3 - step))
    out = invoke("ls", "--by", "experiment", "--format", "json")
    rows = {r["experiment"]: r for r in json.loads(out.output)}
    assert rows["plain"]["best"] == 1.0 and rows["plain"]["mean"] == 1.5
    assert rows["curve"]["best"] == 1.0 and rows["curve"]["mean"] == 1.5, rows["curve"]


# -------------------------------------------------------------------- the objective a script already names

FITNESS = "import sys\nx = float(sys.argv[1])\nprint(f'fitness: {-(x - 0.3) ** 2}')\n"


def test_tpe_without_metric_uses_studio_fitness(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "fit.py", FITNESS)
    result = invoke(
        "run", "-e", "fit", "--sample", "x=uniform(0,1)", "-n", "4", "--strategy", "tpe", "--seed", "0",
        "--", sys.executable, "fit.py", "{x}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fitness:max" in result.output and "best: run" in result.output
    assert gitxp.load("fit")["meta.metric"].to_pylist() == ["fitness:max"] * 4


DECORATED = """
import argparse
import gitxp

@gitxp.experiment(metric="valid_acc:max")
def train(lr: float = 0.1) -> dict:
    return {"valid_acc": 1 - abs(lr - 0.2), "train_loss": lr}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    train(parser.parse_args().lr)
"""


def test_a_sweep_of_a_decorated_script_uses_its_metric(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "deco.py", DECORATED)
    result = invoke(
        "run", "-e", "deco", "--grid", "lr=0.1,0.2,0.4", "--", sys.executable, "deco.py", "--lr", "0.1"
    )
    assert result.exit_code == 0, result.output
    assert "top runs by valid_acc (max)" in result.output, result.output
    assert "best: run" in result.output and "valid_acc=1 with lr=0.2" in result.output
    assert set(gitxp.load("deco")["meta.metric"].to_pylist()) == {"valid_acc:max"}
    single = invoke("run", "-e", "one", "--", sys.executable, "deco.py", "--lr", "0.3")
    assert single.exit_code == 0, single.output
    assert gitxp.load("one")["meta.metric"].to_pylist() == ["valid_acc:max"]  # the script's, kept


# -------------------------------------------------------------------- ls --status help


def test_ls_status_help_names_every_status(invoke) -> None:  # type: ignore[no-untyped-def]
    from gitxp.query import STATUSES

    text = " ".join(invoke("ls", "--help").output.split())
    for status in STATUSES:
        assert status in text, status


# -------------------------------------------------------------------- gitxp.optimize shows progress on a terminal

OPTIMIZE = """
import gitxp
def objective(run):
    return (run.uniform("x", 0, 1) - 0.3) ** 2
gitxp.optimize(objective, n_trials=4, experiment="bar", metric="loss:min", strategy="random", seed=0)
print("DONE")
"""


def test_optimize_shows_a_progress_bar_on_a_terminal_only(repo: Path) -> None:
    import pty

    env = {
        k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    }
    quiet = subprocess.run(
        [sys.executable, "-c", OPTIMIZE], cwd=repo, capture_output=True, text=True, env=env
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "DONE" and quiet.stderr == ""  # not a terminal: nothing
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", OPTIMIZE], cwd=repo, stdin=child, stdout=child, stderr=child, env=env
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text
    assert "4/4" in text and "trials" in text and "best" in text, text


# -------------------------------------------------------------------- artifacts: directories, and from Python


def test_get_a_logged_directory_and_artifacts_from_python(
    repo: Path, tmp_path: Path, invoke, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "plots"
    (folder / "deep").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "deep" / "b.txt").write_text("b")
    (tmp_path / "model.bin").write_bytes(b"\x00\x01")
    with gitxp.start("art") as run:
        run.log_artifacts(folder, prefix="plots")
        run.log_artifact(tmp_path / "model.bin")
    assert [a["name"] for a in run.artifacts] == ["model.bin", "plots/a.txt", "plots/deep/b.txt"]
    out = tmp_path / "out"
    result = invoke("get", run.id[:12], "plots", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "a.txt").read_text() == "a" and (out / "deep" / "b.txt").read_text() == "b"
    assert "2 files" in result.output
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    assert invoke("get", run.id[:12], "plots/").exit_code == 0
    assert (repo / "sub" / "plots" / "deep" / "b.txt").read_text() == "b"
    missing = invoke("get", run.id[:12], "plot")
    assert missing.exit_code == 2 and "plots" in missing.output  # did you mean
    path = gitxp.get_artifact(run.id, "plots", tmp_path / "py")
    assert path == tmp_path / "py" / "plots" and (path / "deep" / "b.txt").read_text() == "b"
    file = gitxp.get_artifact(run.id[:10], "model.bin", tmp_path / "py")
    assert file == tmp_path / "py" / "model.bin" and file.read_bytes() == b"\x00\x01"
    everything = gitxp.get_artifact(run.id, dest=tmp_path / "all")
    assert (everything / "plots" / "a.txt").exists() and (everything / "model.bin").exists()


def test_an_objective_that_returned_without_being_told_to_stop_is_finished(repo: Path) -> None:
    def objective(run: gitxp.Run) -> float:
        bad = run.categorical("bad", [0.1, 0.2, 0.15, 9.0])
        for step in range(5):  # never asks run.should_prune(): it runs every step
            run.log(step=step, loss=bad + 1.0 / (step + 1))
        return bad

    space = gitxp.Space(grid={"bad": [0.1, 0.2, 0.15, 9.0]})
    gitxp.optimize(
        objective,
        n_trials=4,
        experiment="told",
        metric="loss:min",
        strategy="grid",
        prune="median",
        space=space,
    )
    rows = {r["params.bad"]: r["status"] for r in gitxp.load("told").to_pylist()}
    assert rows == {0.1: "finished", 0.2: "finished", 0.15: "finished", 9.0: "finished"}, rows


def test_hypertrainer_output_path_set_inside_the_output_dir_is_read(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "dummy.py", DUMMY)
    write(repo, "cfg.yaml", CONFIG.replace("output_path: dummy", 'output_path: "{output_dir}/train"'))
    result = invoke("run", "-e", "ht2", "--config", "cfg.yaml", "--", sys.executable, "dummy.py", "cfg.yaml")
    assert result.exit_code == 0, result.output
    (row,) = gitxp.load("ht2").to_pylist()
    assert row["meta.config.output_path"] == str(Path(row["meta.output_dir"]) / "train")
    assert len(gitxp.metrics(row["run_id"])) == 3


def test_a_filter_that_leaves_no_run_is_not_called_archived(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for x in (1, 2):
        with gitxp.start("mixed", params={"x": x}) as run:
            run.result(acc=0.5)
        ids.append(run.id)
    with gitxp.start("other", params={"x": 3}) as run:
        run.tag("kept")
    assert invoke("archive", ids[0]).exit_code == 0  # one of two: the experiment is still visible
    assert invoke("ls", "-e", "mixed").exit_code == 0
    out = invoke("ls", "-e", "mixed", "--tag", "kept")  # no run of mixed has the tag: not "archived"
    assert "archived" not in out.output, out.output
