"""The Python API: ``gitxp.start``, ``@gitxp.experiment``, ``gitxp.current``, ``gitxp.load``, ``gitxp.metrics``."""

from __future__ import annotations

import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
from conftest import git, run_python

import gitxp
from gitxp.errors import GitxpError, NoCommitError


def only_run() -> dict:
    rows = gitxp.load().to_pylist()
    assert len(rows) == 1
    return rows[0]


def test_context_manager_records_everything(repo: Path) -> None:
    with gitxp.start(experiment="mnist", params={"lr": 0.01, "optim": {"name": "adam"}}) as run:
        assert gitxp.current() is run
        assert run.params == {"lr": 0.01, "optim.name": "adam"}
        for step in range(5):
            run.log(step=step, loss=1.0 / (step + 1), acc=step / 10)
        run.result(valid_acc=0.91)
        run.meta(dataset="mnist")
    row = only_run()
    assert row["run_id"] == run.id and len(run.id) == 26
    assert row["experiment"] == "mnist"
    assert row["status"] == "finished"
    assert row["version"] == git(repo, "rev-parse", "--short=7", "HEAD")
    assert row["commit"] == git(repo, "rev-parse", "HEAD") and row["branch"] == "main"
    assert row["params.lr"] == 0.01 and row["params.optim.name"] == "adam"
    assert row["results.valid_acc"] == 0.91 and row["meta.dataset"] == "mnist"
    for key in ("host", "user", "python", "platform", "argv", "cwd", "pid"):
        assert row[f"meta.{key}"] is not None
    assert row["meta.platform"] == platform.platform()  # the same text, without its `uname -p` process
    assert row["duration"] >= 0 and row["ended"] >= row["started"]
    curves = gitxp.metrics(run.id[:12])
    assert curves.num_rows == 10 and set(curves.column_names) == {"step", "name", "value", "time"}
    assert curves.filter(pc.equal(curves["name"], "loss"))["value"].to_pylist() == [
        1.0,
        0.5,
        1 / 3,
        0.25,
        0.2,
    ]
    with pytest.raises(GitxpError, match="no active gitxp run"):
        gitxp.current()


def test_default_experiment_is_the_repository_name(repo: Path) -> None:
    with gitxp.start(params={"a": 1}):
        pass
    assert only_run()["experiment"] == repo.name


def test_decorator_params_from_signature_and_results_from_return(repo: Path) -> None:
    @gitxp.experiment(name="exp", metric="valid_acc:max")
    def train(lr: float = 0.1, epochs: int = 3, *, optim: str = "sgd") -> dict:
        assert gitxp.current().params["lr"] == lr
        return {"valid_acc": 0.5 + lr}

    assert train(0.2) == {"valid_acc": 0.7}
    row = only_run()
    assert (row["params.lr"], row["params.epochs"], row["params.optim"]) == (0.2, 3, "sgd")
    assert row["results.valid_acc"] == pytest.approx(0.7)
    assert row["meta.metric"] == "valid_acc:max"
    assert row["meta.entrypoint"].endswith(
        ":test_decorator_params_from_signature_and_results_from_return.<locals>.train"
    )


def test_decorator_number_result_and_exclude(repo: Path) -> None:
    @gitxp.experiment(metric="loss:min", exclude=("data",))
    def fit(data: object, lr: float = 0.1) -> float:
        return 0.25

    fit(object(), lr=0.3)
    row = only_run()
    assert row["results.loss"] == 0.25 and row["params.lr"] == 0.3 and "params.data" not in row


def test_metric_summarises_a_curve(repo: Path) -> None:
    with gitxp.start(metric="loss:min") as run:
        for value in (3.0, 1.0, 2.0):
            run.log(loss=value)
    row = only_run()
    # the summary says how it was computed: the best step is not passed off as the final value
    assert row["results.loss.min"] == 1.0 and "results.loss" not in row
    assert [p["step"] for p in gitxp.metrics(run.id).to_pylist()] == [0, 1, 2]
    with gitxp.start(metric="loss:last") as run:
        for value in (3.0, 1.0, 2.0):
            run.log(loss=value)
    assert gitxp.load(limit=1).to_pylist()[0]["results.loss.last"] == 2.0


def test_a_reported_result_is_not_overwritten_by_the_curve_summary(repo: Path) -> None:
    with gitxp.start(metric="loss:min") as run:
        run.log(loss=0.5)
        run.log(loss=0.1)
        run.result(loss=0.3)
    row = only_run()
    assert row["results.loss"] == 0.3 and "results.loss.min" not in row


def test_exception_is_recorded_and_reraised_unchanged(repo: Path) -> None:
    error = ValueError("diverged at step 7")

    @gitxp.experiment
    def train(lr: float = 1.0) -> None:
        raise error

    with pytest.raises(ValueError) as caught:
        train()
    assert caught.value is error
    row = only_run()
    assert row["status"] == "failed"
    assert row["meta.error.type"] == "ValueError" and row["meta.error.message"] == "diverged at step 7"
    assert any("diverged at step 7" in line for line in row["meta.error.traceback"])


def test_keyboard_interrupt_records_interrupted(repo: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with gitxp.start(params={"x": 1}):
            raise KeyboardInterrupt
    assert only_run()["status"] == "interrupted"


def test_sigterm_records_interrupted(repo: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import gitxp, time\nwith gitxp.start(params={'x': 1}) as r:\n"
            "    r.log(loss=1.0)\n    print('ready', flush=True)\n    time.sleep(60)\n",
        ],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    row = only_run()
    assert row["status"] == "interrupted" and row["meta.error.type"] == "RunInterrupted"
    assert gitxp.metrics(row["run_id"]).num_rows == 1


def test_nested_runs_and_current(repo: Path) -> None:
    with gitxp.start(experiment="outer") as outer:
        with gitxp.start(experiment="inner") as inner:
            assert gitxp.current() is inner
        assert gitxp.current() is outer
    assert len(gitxp.load()) == 2


def test_run_without_with_is_ended_at_exit(repo: Path) -> None:
    run_python("import gitxp\nrun = gitxp.start(params={'a': 1})\nrun.result(x=2)\n", repo)
    row = only_run()
    assert row["status"] == "finished" and row["results.x"] == 2


def test_no_commit_is_a_clear_error_unless_git_false(make_repo, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    empty = make_repo("empty", commit=False)
    monkeypatch.chdir(empty)
    with pytest.raises(NoCommitError, match="has no commit yet"):
        gitxp.start(params={"a": 1})
    with gitxp.start(params={"a": 1}, git=False):
        pass
    row = only_run()
    assert row["version"] == "nogit" and row["commit"] is None


def test_no_repository_with_git_false_uses_a_private_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(gitxp.GitxpError, match="not a git repository"):
        gitxp.start()
    with gitxp.start(params={"a": 1}, git=False):
        pass
    assert (tmp_path / ".gitxp" / "HEAD").exists()
    assert only_run()["params.a"] == 1


def test_many_metric_points_across_chunks(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gitxp.run.curves as run_module

    monkeypatch.setattr(run_module, "CHUNK_POINTS", 100)
    with gitxp.start() as run:
        for step in range(1000):
            run.log(step=step, a=step, b=-step)
    curves = gitxp.metrics(run.id)
    assert curves.num_rows == 2000
    assert sorted(curves.filter(pc.equal(curves["name"], "a"))["value"].to_pylist()) == [
        float(i) for i in range(1000)
    ]


def test_start_time_is_recorded_before_end(repo: Path) -> None:
    before = time.time()
    with gitxp.start():
        time.sleep(0.05)
    row = only_run()
    assert row["started"].timestamp() >= before - 1 and row["duration"] >= 0.05
