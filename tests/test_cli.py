"""The read side of the CLI: ls, show, export, and its error boundary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git

import gitxp


@pytest.fixture
def runs(repo: Path) -> list[str]:
    """Four runs over two commits and two experiments, one failed, one with uncommitted changes."""
    ids = []
    for lr, acc in ((0.1, 0.8), (0.01, 0.9)):
        with gitxp.start(experiment="a", params={"lr": lr, "batch size": 32}, metric="acc:max") as run:
            run.log(step=0, acc=acc / 2)
            run.log(step=1, acc=acc)
            run.result(acc=acc)
        ids.append(run.id)
    git(repo, "tag", "v1")
    (repo / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2")
    (repo / "train.py").write_text("print('v2 dirty')\n")
    with gitxp.start(experiment="b", params={"lr": 0.5}) as run:
        run.result(acc=0.95)
    ids.append(run.id)
    with pytest.raises(RuntimeError):
        with gitxp.start(experiment="b", params={"lr": 5.0}) as run:
            raise RuntimeError("nan loss")
    ids.append(run.id)
    return ids


def as_json(result) -> list[dict]:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_ls_json_is_a_list_of_run_objects(runs: list[str], invoke) -> None:  # type: ignore[no-untyped-def]
    data = as_json(invoke("ls", "--format", "json"))
    assert [d["run_id"] for d in data] == runs[::-1]  # newest first, as git log
    assert data[3]["params"] == {"lr": 0.1, "batch size": 32}
    assert data[3]["results"] == {"acc": 0.8}
    assert data[0]["status"] == "failed" and data[0]["meta"]["error.message"] == "nan loss"


def test_ls_limit_keeps_the_newest_runs(runs: list[str], invoke) -> None:  # type: ignore[no-untyped-def]
    assert [d["run_id"] for d in as_json(invoke("ls", "--limit", "2", "--format", "json"))] == runs[:1:-1]
    assert gitxp.load(limit=1)["run_id"].to_pylist() == runs[-1:]
    oldest = as_json(invoke("ls", "--sort", "started", "--limit", "1", "--format", "json"))
    assert [d["run_id"] for d in oldest] == runs[:1]


def test_ls_filters_sort_limit_columns(runs: list[str], repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert [d["run_id"] for d in as_json(invoke("ls", "-e", "a", "--format", "json"))] == runs[1::-1]
    best = as_json(
        invoke("ls", "--where", "results.acc > 0.85", "--sort", "-results.acc", "--format", "json")
    )
    assert [d["run_id"] for d in best] == [runs[2], runs[1]]
    short = as_json(invoke("ls", "--where", "acc >= 0.8 and lr < 0.5", "--format", "json"))
    assert [d["run_id"] for d in short] == runs[1::-1]
    quoted = as_json(invoke("ls", "--where", "`params.batch size` == 32", "--limit", "1", "--format", "json"))
    assert [d["run_id"] for d in quoted] == runs[1:2]
    assert [d["run_id"] for d in as_json(invoke("ls", "--status", "failed", "--format", "json"))] == runs[3:]
    cols = as_json(invoke("ls", "--columns", "run_id,lr", "--format", "json"))
    assert cols[-1] == {"run_id": runs[0], "params": {"lr": 0.1}}
    by_in = as_json(invoke("ls", "--where", "params.lr in [0.1, 0.5]", "--format", "json"))
    assert [d["run_id"] for d in by_in] == [runs[2], runs[0]]


def test_ls_version_takes_any_git_revision(runs: list[str], repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert [d["run_id"] for d in as_json(invoke("ls", "--version", "v1", "--format", "json"))] == runs[1::-1]
    assert [d["run_id"] for d in as_json(invoke("ls", "--version", "HEAD", "--format", "json"))] == runs[
        :1:-1
    ]
    dirty = gitxp.load(sort="started")["version"].to_pylist()[2]
    assert "+d." in dirty
    assert [d["run_id"] for d in as_json(invoke("ls", "--version", dirty, "--format", "json"))] == runs[:1:-1]
    result = invoke("ls", "--version", "no-such-branch")
    assert result.exit_code == 2 and "no-such-branch" in result.output


def test_ls_table_and_csv(runs: list[str], invoke) -> None:  # type: ignore[no-untyped-def]
    table = invoke("ls")
    assert table.exit_code == 0 and runs[0][:8] in table.output and "params.lr" in table.output
    csv_out = invoke("ls", "--format", "csv", "--columns", "run_id,params.lr,status")
    lines = csv_out.output.strip().splitlines()
    assert lines[0] == "run_id,params.lr,status" and lines[-1] == f"{runs[0]},0.1,finished"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ls", "--where", "results.acc >"), "invalid expression"),
        (("ls", "--where", "nosuch > 1"), "unknown column 'nosuch'"),
        (("ls", "--where", "experiment > 1"), "cannot compare experiment (text) with 1 (number)"),
        (("ls", "--where", "experiment == b"), "quote it: experiment == 'b'"),
        (("ls", "--where", "acc > 'x'"), "cannot compare results.acc (number) with 'x' (text)"),
        (("ls", "--where", "acc in [1, 'a']"), "mixes kinds"),
        (("ls", "--where", "acc > 1j"), "cannot compare with 1j"),
        (("ls", "--where", "acc > 99999999999999999999999"), "too large"),
        (("ls", "--where", "acc == ..."), "cannot compare with ..."),
        (("ls", "-e", "bb"), "unknown experiment 'bb' (did you mean b?)"),
        (("ls", "--sort", "-acx"), "unknown column 'acx' (did you mean"),
        (("ls", "--sort", "-nosuch"), "unknown column"),
        (("ls", "--status", "done"), "expected one of"),
        (("show", "zzzz"), "no run matches"),
        (("export", "-o", "runs.xlsx"), "unknown format"),
        # click's own usage errors: one line too, with where to look
        (
            ("ls", "--limit", "1e20"),
            "invalid value for '--limit': '1e20' is not a valid integer (see 'gitxp ls",
        ),
        (("ls", "--frobnicate"), "no such option '--frobnicate'. Did you mean '--format'?"),
        (("lss",), "no such command 'lss'. Did you mean 'ls'? (see 'gitxp --help')"),
        (("compare", "a", "--metric"), "option '--metric' requires an argument (see 'gitxp compare --help')"),
        (("ls", "--format", "xml"), "'xml' is not one of 'table', 'csv', 'json'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runs: list[str], invoke, args: tuple[str, ...], message: str
) -> None:  # type: ignore[no-untyped-def]
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_ambiguous_prefix(runs: list[str], invoke) -> None:  # type: ignore[no-untyped-def]
    common = runs[0][:3]
    assert all(r.startswith(common) for r in runs)
    result = invoke("show", common)
    assert result.exit_code == 2 and "ambiguous" in result.output


def test_show(runs: list[str], invoke) -> None:  # type: ignore[no-untyped-def]
    data = as_json(invoke("show", runs[0][:14], "--format", "json"))
    assert data["run_id"] == runs[0] and data["params"]["lr"] == 0.1
    assert data["metrics"][0] | {} == {
        "name": "acc",
        "points": 2,
        "first_step": 0,
        "last_step": 1,
        "last": 0.8,
        "min": 0.4,
        "max": 0.8,
    }
    text = invoke("show", runs[3])
    assert "failed" in text.output and "nan loss" in text.output and "RuntimeError" in text.output
    dirty = invoke("show", runs[2])
    assert "train.py | +1 -1" in dirty.output
    diff = invoke("show", runs[2], "--diff")
    assert "+print('v2 dirty')" in diff.output
    assert "no uncommitted changes" in invoke("show", runs[0], "--diff").output
    curves = as_json(invoke("show", runs[0], "--metrics", "--format", "json"))
    assert [(c["step"], c["value"]) for c in curves] == [(0, 0.4), (1, 0.8)]
    assert "acc" in invoke("show", runs[0], "--metrics").output


def test_export_is_readable_by_pandas_polars_duckdb(runs: list[str], repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    for name in ("runs.parquet", "runs.csv", "runs.json"):
        result = invoke("export", "-o", name, "-e", "a")
        assert result.exit_code == 0, result.output
    pd = pytest.importorskip("pandas")
    frame = pd.read_parquet(repo / "runs.parquet")
    assert list(frame["params.lr"]) == [0.01, 0.1]
    assert list(pd.read_csv(repo / "runs.csv")["params.lr"]) == [0.01, 0.1]
    assert [r["params"]["lr"] for r in json.loads((repo / "runs.json").read_text())] == [0.01, 0.1]
    pl = pytest.importorskip("polars")
    assert pl.read_parquet(repo / "runs.parquet")["params.lr"].to_list() == [0.01, 0.1]
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(f"select \"params.lr\" from '{repo / 'runs.parquet'}' order by 1").fetchall()
    assert rows == [(0.01,), (0.1,)]
    assert gitxp.load(experiment="a").to_pandas()["results.acc"].tolist() == [0.9, 0.8]


def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    result = invoke("ls")
    assert result.exit_code == 2 and result.output.startswith("gitxp: error: not a git repository")


def test_empty_store(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    assert as_json(invoke("ls", "--format", "json")) == []
    assert invoke("ls").exit_code == 0


def test_init_and_plugins(repo: Path, invoke, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    git(repo, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    assert invoke("init").exit_code == 0
    assert "refs/gitxp/runs" in git(repo, "config", "--get-all", "remote.origin.fetch")
    assert "gitxp.run.meta" in invoke("plugins").output


def test_piped_csv_and_json_keep_every_character_of_a_value(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    colour = "\x1b[31mred\x1b[0m"  # a value holding a terminal escape sequence: data, not styling
    with gitxp.start(experiment="c", params={"label": colour}):
        pass
    csv_out = invoke("ls", "--format", "csv", "--columns", "params.label")
    assert csv_out.exit_code == 0 and colour in csv_out.output
    assert as_json(invoke("ls", "--format", "json"))[0]["params"]["label"] == colour


def test_piped_show_has_no_trailing_blanks(runs: list[str], invoke) -> None:  # type: ignore[no-untyped-def]
    out = invoke("show", runs[0]).output
    assert "run_id" in out and not [line for line in out.splitlines() if line != line.rstrip()]
