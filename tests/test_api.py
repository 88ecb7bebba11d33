"""The Python read API the README promises: load(since=, experiment=), metrics([ids]), gitxp.Sampler."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import git
from test_wrapper import write

import gitxp


def test_sampler_is_importable_from_the_package() -> None:
    sampler = gitxp.Sampler(seed=3)
    assert sampler is not None and "Sampler" in gitxp.__all__


def test_load_since_and_experiment_columns(repo: Path) -> None:
    with gitxp.start(experiment="a", params={"lr": 0.1}) as run:
        run.result(acc=0.5)
    base = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("print(2)\n")
    git(repo, "commit", "-qam", "two")
    with gitxp.start(experiment="b", params={"depth": 3}) as run:
        run.result(loss=0.2)
    assert gitxp.load(since="HEAD")["experiment"].to_pylist() == ["b"]
    assert sorted(gitxp.load(since=base)["experiment"].to_pylist()) == ["a", "b"]
    only_a = gitxp.load(experiment="a").column_names
    assert "params.lr" in only_a and "params.depth" not in only_a and "results.loss" not in only_a
    assert gitxp.load(experiment="a", columns="params.*").column_names == ["params.lr"]
    with pytest.raises(gitxp.GitxpError, match="did you mean a"):
        gitxp.load(experiment="aa")


def test_load_and_ls_agree_on_an_experiment_with_no_run_since_the_revision(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """The experiment exists (its runs are older than --since): an empty table, as ``gitxp ls`` lists nothing --
    not "no run belongs to experiment 'a'" (both share one reading of the filters, gitxp.query.listing_table)."""
    with gitxp.start(experiment="a") as run:
        run.result(acc=0.5)
    (repo / "train.py").write_text("print(2)\n")
    git(repo, "commit", "-qam", "two")
    with gitxp.start(experiment="b") as run:
        run.result(loss=0.2)
    listed = invoke("ls", "-e", "a", "--since", "HEAD", "--format", "json")
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]", listed.output
    assert gitxp.load(experiment="a", since="HEAD").num_rows == 0
    with pytest.raises(gitxp.GitxpError, match="did you mean a"):
        gitxp.load(experiment="aa", since="HEAD")


def test_metrics_of_many_runs_in_one_long_table(repo: Path) -> None:
    ids = []
    for i in range(3):
        with gitxp.start(params={"i": i}) as run:
            for step in range(4):
                run.log(step=step, loss=i + step / 10)
        ids.append(run.id)
    table = gitxp.metrics([ids[0], ids[2][:14]])
    assert table.column_names == ["run_id", "step", "name", "value", "time"]
    assert table["run_id"].to_pylist() == [ids[0]] * 4 + [ids[2]] * 4
    assert table["value"].to_pylist()[-1] == pytest.approx(2.3)
    assert gitxp.metrics([]).num_rows == 0
    with pytest.raises(TypeError, match="list of run ids"):
        gitxp.metrics(42)  # type: ignore[arg-type]


def test_gitxpignore_keeps_untracked_logs_out_of_the_version(repo: Path) -> None:
    (repo / "out.txt").write_text("a log the script writes\n")
    with gitxp.start() as run:
        pass
    assert "+d." in run.version.id
    (repo / ".gitxpignore").write_text("out.txt\n")
    git(repo, "add", ".gitxpignore")
    git(repo, "commit", "-qm", "ignore logs")
    (repo / "out.txt").write_text("another log\n")
    with gitxp.start() as clean:
        pass
    assert "+d." not in clean.version.id


def test_ls_by_experiment_uses_each_experiments_objective(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    import json

    for acc in (0.8, 0.9):
        with gitxp.start(experiment="cls", metric="acc:max") as run:
            run.result(acc=acc, loss=1 - acc)
    for loss in (0.3, 0.1):
        with gitxp.start(experiment="reg", metric="loss:min") as run:
            run.result(loss=loss, acc=0.0)
    rows = {
        r["experiment"]: r for r in json.loads(invoke("ls", "--by", "experiment", "--format", "json").output)
    }
    assert rows["cls"]["objective"] == "acc:max" and rows["cls"]["best"] == 0.9
    assert rows["reg"]["objective"] == "loss:min" and rows["reg"]["best"] == 0.1


PARSED = """
for epoch in range(3):
    print(f"epoch {epoch} val_acc: {0.5 + epoch / 10}")
print("final acc 0.77")
"""


def test_parse_regex_reads_other_output_formats(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "p.py", PARSED)
    result = invoke(
        "run", "--parse", r"epoch (?P<step>\d+) val_acc: (?P<val_acc>[\d.]+)", "--parse",
        r"final acc (?P<acc>[\d.]+)", "--metric", "val_acc:max", "--", sys.executable, "p.py",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = gitxp.load().to_pylist()[0]
    assert row["results.acc"] == 0.77 and row["results.val_acc.max"] == pytest.approx(0.7)
    curve = gitxp.metrics(row["run_id"])
    assert curve["step"].to_pylist() == [0, 1, 2] and set(curve["name"].to_pylist()) == {"val_acc"}
    bad = invoke("run", "--parse", r"epoch (\d+)", "--", sys.executable, "p.py")
    assert bad.exit_code == 2 and "named groups" in bad.output
    assert invoke("run", "--parse", "epoch (", "--", sys.executable, "p.py").exit_code == 2
