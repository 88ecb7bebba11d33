"""Run life-cycle: tag, note, archive, rm (+ undo, gc), through the CLI and the API, on real repos and clones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import clone_of, git, shared_remote

import gitxp
from gitxp.store import REF


def make_runs(n: int = 3, experiment: str = "exp", path: Path | None = None) -> list[str]:
    ids = []
    for i in range(n):
        with gitxp.start(experiment, params={"x": i}, path=path) as run:
            run.result(acc=i / 10)
        ids.append(run.id)
    gitxp.Store.open(path).flush()
    return ids


def listed(show: str = "visible", path: Path | None = None) -> dict[str, dict]:
    table = gitxp.Store.open(path).table(show=show)
    return {row["run_id"]: row for row in table.to_pylist()}


@contextmanager
def inside(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def ls_ids(invoke, *args: str) -> list[str]:  # type: ignore[no-untyped-def]
    out = invoke("ls", "--format", "json", *args)
    assert out.exit_code == 0, out.output
    return [r["run_id"] for r in json.loads(out.output)]


def test_tag_untag_note_through_the_cli(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    a, b, c = make_runs()
    out = invoke("tag", a[:10], b[:10], "best", "--yes")
    assert out.exit_code == 0 and "tagged 2 runs with 'best'" in out.output, out.output
    assert invoke("tag", a, "baseline").exit_code == 0
    assert invoke("note", c, "lr too high, diverged").exit_code == 0
    rows = listed()
    assert rows[a]["tags"] == "baseline,best" and rows[b]["tags"] == "best" and rows[c]["tags"] is None
    assert rows[c]["note"] == "lr too high, diverged"
    assert sorted(ls_ids(invoke, "--tag", "best")) == sorted([a, b])
    assert ls_ids(invoke, "--tag", "best", "--tag", "baseline") == [a]
    assert ls_ids(invoke, "--note", "DIVERGED") == [c]
    assert ls_ids(invoke, "--where", "tags == 'best'") == [b]
    shown = invoke("show", c)
    assert "lr too high, diverged" in shown.output
    assert json.loads(invoke("show", a, "--format", "json").output)["tags"] == "baseline,best"
    out = invoke("untag", a, b, "best", "-y")
    assert out.exit_code == 0 and "untagged 2 runs" in out.output
    assert ls_ids(invoke, "--tag", "baseline") == [a]
    again = invoke("untag", b, "best")
    assert again.exit_code == 0 and "nothing to do" in again.output
    assert invoke("note", c, "").exit_code == 0
    assert listed()[c].get("note") is None


def test_filters_select_runs_and_many_runs_ask_first(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    ids = make_runs(3)
    other = make_runs(1, experiment="other")
    head = git(repo, "rev-parse", REF)
    refused = invoke("tag", "-e", "exp", "sweep", input="n\n")
    assert refused.exit_code == 1 and "tag 3 runs" in refused.output
    assert git(repo, "rev-parse", REF) == head
    out = invoke("tag", "-e", "exp", "--where", "acc >= 0.1", "sweep", input="y\n")
    assert out.exit_code == 0 and "tagged 2 runs" in out.output
    assert sorted(ls_ids(invoke, "--tag", "sweep")) == sorted(ids[1:])
    assert invoke("archive", "--tag", "sweep", "--yes").exit_code == 0
    assert ls_ids(invoke) == [other[0], ids[0]]


def test_dry_run_changes_nothing(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    ids = make_runs(2)
    head = git(repo, "rev-parse", REF)
    for args in (
        ("tag", *ids, "x"),
        ("note", ids[0], "hello"),
        ("archive", "-e", "exp"),
        ("rm", *ids),
        ("unarchive", ids[0]),
    ):
        out = invoke(*args, "--dry-run")
        assert out.exit_code == 0 and out.output.startswith("would "), (args, out.output)
    assert "would tag 2 runs" in invoke("tag", *ids, "x", "--dry-run").output
    assert git(repo, "rev-parse", REF) == head
    assert sorted(ls_ids(invoke)) == sorted(ids)


def test_archive_hides_from_ls_compare_history_and_dashboard(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    a, b, c = make_runs()
    out = invoke("archive", b)
    assert out.exit_code == 0 and "archived 1 run" in out.output
    assert sorted(ls_ids(invoke)) == sorted([a, c])
    every = invoke("ls", "--all", "--format", "json")
    assert {r["run_id"]: r.get("archived") for r in json.loads(every.output)}[b] is True
    assert invoke("show", b).exit_code == 0  # still there by its id
    hidden = invoke("compare", a, b)
    assert hidden.exit_code == 2 and "is archived: add --archived" in hidden.output, hidden.output
    assert invoke("compare", a, b, "--archived").exit_code == 0
    from gitxp.search.history import load_history

    store = gitxp.Store.open()
    trials = load_history(store, "exp", ["x"], [("acc", "max")]).trials
    assert sorted(t.params["x"] for t in trials) == [0, 2]
    with_archived = load_history(store, "exp", ["x"], [("acc", "max")], include_archived=True)
    assert len(with_archived.trials) == 3
    from gitxp.ui.api import Dashboard

    board = Dashboard(store)
    assert sorted(r["run_id"] for r in board.runs({})["rows"]) == sorted([a, c])
    assert invoke("unarchive", b).exit_code == 0
    assert sorted(ls_ids(invoke)) == sorted([a, b, c])


def test_compare_of_an_experiment_whose_runs_are_all_archived_says_so(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """As ``ls -e`` does (one reading of the filters, gitxp.query.listing_table), also when no run at all is
    visible -- not "HEAD has no recorded runs on its history"."""
    make_runs(2)
    assert invoke("archive", "-e", "exp", "--yes").exit_code == 0
    out = invoke("compare", "-e", "exp", "HEAD", "HEAD")
    assert out.exit_code == 2 and "every run of experiment 'exp' is archived (2 runs)" in out.output, out.output
    assert "--archived includes them" in out.output


def test_rm_undo_and_gc_after_the_grace_period(
    repo: Path,
    invoke,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    a, b, c = make_runs()
    out = invoke("rm", a, b, "--yes")
    assert out.exit_code == 0 and "removed 2 runs" in out.output and "14 days" in out.output
    assert ls_ids(invoke) == [c] and ls_ids(invoke, "--all") == [c]
    assert gitxp.load()["run_id"].to_pylist() == [c]
    gone = invoke("show", a)
    assert gone.exit_code == 2 and "was removed" in gone.output
    tagging = invoke("tag", a, "x")
    assert tagging.exit_code == 2 and "was removed" in tagging.output and "rm --undo" in tagging.output
    assert invoke("rm", "--undo", b).exit_code == 0
    assert sorted(ls_ids(invoke)) == sorted([b, c])
    kept = invoke("gc")  # within the grace period: nothing is pruned
    assert kept.exit_code == 0 and "pruned" not in kept.output
    assert f"/{a}/run.parquet" in git(repo, "ls-tree", "-r", "--name-only", REF)
    monkeypatch.setenv("GITXP_RM_GRACE", "0")
    pruned = invoke("gc")
    assert pruned.exit_code == 0 and "pruned 1 removed run" in pruned.output, pruned.output
    tree = git(repo, "ls-tree", "-r", "--name-only", REF)
    assert a not in tree and f"/{b}/run.parquet" in tree
    assert sorted(ls_ids(invoke)) == sorted([b, c])
    assert a not in gitxp.Store.open().table(show="all")["run_id"].to_pylist()
    late = invoke("rm", "--undo", a)
    assert late.exit_code == 2 and "pruned" in late.output
    monkeypatch.setenv("GITXP_RM_GRACE", "soon")
    bad = invoke("gc")
    assert bad.exit_code == 2 and "GITXP_RM_GRACE" in bad.output


def test_bad_ids_and_names_are_one_line_errors(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (a,) = make_runs(1)
    typo = a[:7] + ("0" if a[7] != "0" else "1")
    for args in (("tag", typo, "x"), ("archive", typo), ("rm", typo), ("note", typo, "t")):
        out = invoke(*args)
        assert out.exit_code == 2, (args, out.output)
        assert out.output.count("\n") == 1 and "did you mean" in out.output, out.output
    for args, message in (
        (("tag", a, "two words"), "one word"),
        (("tag", a, "a,b"), "without spaces or commas"),
        (("tag",), "missing NAME"),
        (("archive",), "name the runs"),
        (("tag", "-e", "exq", "x"), "did you mean exp"),
        (("ls", "--tag", "nope"), "no listed run has this tag"),
        (("rm", "--undo", a), "is not removed"),
        (("cancel", a), "not running"),
        (("cancel", "nothing"), "no running run or experiment"),
    ):
        out = invoke(*args)
        assert out.exit_code == 2 and message in out.output, (args, out.output)


def test_python_api(repo: Path) -> None:
    a, b, c = make_runs()
    assert gitxp.tag([a, b], "best") == [a, b]
    assert gitxp.tag(a, "best") == []  # already tagged: nothing recorded
    assert gitxp.note(c, "check the data") == [c]
    assert gitxp.archive(experiment="exp", where="acc < 0.1") == [a]
    assert gitxp.load()["run_id"].to_pylist() == [c, b]
    assert gitxp.unarchive(a, dry_run=True) == [a]
    assert a not in gitxp.load()["run_id"].to_pylist()
    assert gitxp.unarchive(a) == [a]
    assert gitxp.remove(tag="best") == [a, b]
    assert gitxp.load()["run_id"].to_pylist() == [c]
    assert gitxp.restore(b) == [b]
    assert gitxp.untag(b, "best") == [b]
    rows = listed()
    assert set(rows) == {b, c} and rows[b].get("tags") is None and rows[c]["note"] == "check the data"
    assert gitxp.load(note="CHECK")["run_id"].to_pylist() == [c]
    assert gitxp.archive(c) == [c] and gitxp.load()["run_id"].to_pylist() == [b]
    assert gitxp.load(archived=True)["run_id"].to_pylist() == [c, b]
    assert gitxp.metrics(c).num_rows == 0  # an archived run is still there by its id
    with pytest.raises(gitxp.GitxpError, match="did you mean"):
        gitxp.tag(a[:6] + "!", "x")


def test_methods_on_run_objects(repo: Path) -> None:
    with gitxp.start("e", params={"x": 1}) as run:
        assert run.tag("live") is True  # a live run can be tagged already
    assert run.tag("live") is False and run.note("checked") is True
    assert listed()[run.id]["tags"] == "live" and listed()[run.id]["note"] == "checked"
    assert run.archive() is True and run.id not in listed()
    assert run.unarchive() is True and run.remove() is True and run.id not in listed("archived")
    assert run.restore() is True and run.untag("live") is True
    assert listed()[run.id].get("tags") is None


def test_import_gitxp_stays_light() -> None:
    code = "import sys, gitxp; gitxp.tag; print(sorted(m for m in ('pyarrow', 'git', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------- two clones


def _gitxp(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "gitxp", *args], cwd=path, capture_output=True, text=True)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out


def test_ops_travel_with_push_and_pull_and_merge_without_loss(
    repo: Path,
    tmp_path: Path,
    invoke,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    bare = shared_remote(repo, tmp_path / "shared.git", push=False)
    r1, r2, r3 = make_runs()
    assert invoke("push").exit_code == 0
    clone = clone_of(bare, tmp_path / "clone")
    _gitxp(clone, "pull")
    # concurrently: a tag on A, a note on B, an archive on B, and both note the same run (both kept, newest
    # first: a teammate's note never replaces yours, issue 25)
    assert invoke("tag", r1, "best").exit_code == 0
    assert invoke("note", r3, "first thought").exit_code == 0
    assert invoke("push").exit_code == 0
    _gitxp(clone, "note", r1, "from B")
    _gitxp(clone, "archive", r2)
    _gitxp(clone, "note", r3, "second thought")
    _gitxp(clone, "pull")
    _gitxp(clone, "push")
    assert invoke("pull").exit_code == 0
    for path in (repo, clone):
        rows = listed("archived", path=path)
        assert rows[r1]["tags"] == "best" and rows[r1]["note"] == "from B", path
        assert rows[r2]["archived"] is True and rows[r3]["note"] == "second thought | first thought", path
    # rm on A (and its data pruned), then a pull from B, which still has the run: it stays removed
    assert invoke("rm", r1).exit_code == 0
    monkeypatch.setenv("GITXP_RM_GRACE", "0")
    assert "pruned 1" in invoke("gc").output
    assert invoke("push").exit_code == 0
    _gitxp(clone, "tag", r3, "from-b")  # B moves on without having pulled the rm yet
    assert r1 in listed(path=clone)
    _gitxp(clone, "push")  # B merges A's rm first, then shares its own files (r1's included)
    assert invoke("pull").exit_code == 0
    assert r1 not in listed("archived") and sorted(ls_ids(invoke)) == [r3]
    assert listed()[r3]["tags"] == "from-b"
    _gitxp(clone, "pull")
    assert r1 not in listed("archived", path=clone)
    # a clone's ops never overwrite another's: every event file of both clones is on the shared ref
    events = [p for p in git(bare, "ls-tree", "-r", "--name-only", REF).split() if p.startswith("events/")]
    assert len({p.split("/")[1] for p in events}) == 2 and len(events) == 7
