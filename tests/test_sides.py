"""The sides of a comparison: a branch (or any ref) is the newest code version on its history that has runs, never
a pool of every version it ever had; a PR report's base is the version at the merge-base; reruns are not samples.

Real repositories, real runs, two clones and a bare remote: what `gitxp compare`, `gitxp report`, the dashboard's
compare endpoint and ``gitxp.compare`` answer for main and feature as a team meets them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import git

import gitxp

TRAIN = """\
import os, sys, random
level = float(open("level.txt").read()) + (float(open("bonus.txt").read()) if os.path.exists("bonus.txt") else 0)
seed = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("GITXP_SEED") or 0)
print(f"gitxp: acc={level + random.Random(seed).gauss(0, 0.005)}")
"""


def record(invoke, *extra: str) -> None:  # type: ignore[no-untyped-def]
    """Four runs (seeds 0-3) of the current checkout."""
    args = ["run", "-e", "train", "--grid", "seed=0:3", *extra, "--metric", "acc:max", "--"]
    result = invoke(*args, sys.executable, "train.py", "{seed}")
    assert result.exit_code == 0, result.output


def commit(repo: Path, message: str, **files: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def two_versions(repo: Path, invoke) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """main: v1 (acc 0.90) then v2 (acc 0.80), four runs each; feature: v2 plus a comment, four runs."""
    v1 = commit(repo, "v1", **{"train.py": TRAIN, "level.txt": "0.90\n"})
    record(invoke)
    v2 = commit(repo, "v2", **{"level.txt": "0.80\n"})
    record(invoke)
    git(repo, "checkout", "-qb", "feature")
    f1 = commit(repo, "comment only", **{"train.py": "# a comment\n" + TRAIN})
    record(invoke)
    git(repo, "checkout", "-q", "main")
    return {"v1": v1, "v2": v2, "f1": f1}


def test_a_branch_is_its_newest_version_not_a_pool(two_versions: dict[str, str], invoke) -> None:  # type: ignore[no-untyped-def]
    v1, v2, f1 = (two_versions[k][:7] for k in ("v1", "v2", "f1"))
    report = invoke("report", "--base", "main", "--head", "feature", "--fail-on-worse")
    assert report.exit_code == 0, report.output  # a comment changes nothing: today "🔴 worse", exit 1
    assert "🔴 worse" not in report.output and "⚪ no significant change" in report.output
    assert (
        f"`{v2}`" in report.output and f"`{v1}`" not in report.output.split("<sub>")[0].split("left out")[0]
    )
    assert "1 older version" in report.output

    data = json.loads(invoke("compare", "main", "feature", "--format", "json").output)
    main, feature = data["groups"]
    assert (main["runs"], main["versions"], main["left_out"]) == (4, [v2], 1)
    assert (feature["runs"], feature["versions"]) == (4, [f1])
    assert data["metrics"][0]["differences"][0]["verdict"] == "no significant difference"
    text = invoke("compare", "main", "feature").output
    assert (
        f"main: version {v2} (4 runs), the newest on its history with runs; 1 older version left out" in text
    )
    verdict = next(line for line in text.splitlines() if line.startswith("feature - main"))
    assert f"4 runs of {v2}" in verdict and f"4 runs of {f1}" in verdict

    pooled = invoke("compare", "main", "feature", "--all-versions")
    assert pooled.exit_code == 0, pooled.output
    verdict = next(line for line in pooled.output.splitlines() if line.startswith("feature - main"))
    assert "all versions" in verdict and "8 runs of 2 versions" in verdict and "better" not in verdict

    # the same rule from Python and on the dashboard
    import gitxp.compare
    from gitxp.compare import resolve_groups
    from gitxp.ui.api import Dashboard

    store = gitxp.Store.open()
    groups = resolve_groups(store, store.table(), ["main", "feature"])
    assert [g.table.num_rows for g in groups] == [4, 4] and groups[0].versions() == [v2]
    assert [
        g.table.num_rows for g in resolve_groups(store, store.table(), ["main", "feature"], all_versions=True)
    ] == [8, 12]
    data = gitxp.compare.compare("main", "feature")  # ``gitxp compare`` from Python
    assert data["groups"][0]["versions"] == [v2] and data["groups"][0]["left_out"] == 1
    assert "4 runs of" in data["metrics"][0]["differences"][0]["on"]
    pooled_data = gitxp.compare.compare("main", "feature", all_versions=True)
    assert "all versions" in pooled_data["metrics"][0]["differences"][0]["on"]
    board = Dashboard(store).compare({"a": "main", "b": "feature"})
    assert [g["runs"] for g in board["groups"]] == [4, 4] and "1 older version left out" in board["groups"][
        0
    ]["note"]


def test_a_tip_without_runs_falls_back_to_its_nearest_version_with_runs(
    two_versions: dict[str, str], invoke, repo: Path
) -> None:  # type: ignore[no-untyped-def]
    git(repo, "checkout", "-q", "feature")
    tip = commit(repo, "another comment", **{"train.py": "# two comments\n" + TRAIN})
    crashed = invoke("run", "-e", "train", "--", sys.executable, "-c", "raise SystemExit(3)")
    assert crashed.exit_code == 1  # a run that failed at the tip has no value: the side is still f1's
    git(repo, "checkout", "-q", "main")
    result = invoke("compare", "main", "feature")
    assert result.exit_code == 0, result.output  # today: exit 2, "has no recorded runs" (or every run pooled)
    f1 = two_versions["f1"][:7]
    assert (
        f"feature: version {f1} (4 runs): no finished runs at its tip {tip[:7]}, the nearest ancestor with runs (1 commit back)"
        in result.output
    )
    assert invoke("compare", "main", "HEAD~1", "--format", "json").exit_code == 0


def test_a_commit_is_its_clean_version_first(two_versions: dict[str, str], invoke, repo: Path) -> None:  # type: ignore[no-untyped-def]
    (repo / "level.txt").write_text("0.70\n")  # uncommitted: runs of another version of v2's commit
    record(invoke)
    git(repo, "checkout", "level.txt")
    v2 = two_versions["v2"][:7]
    dirty = next(v for v in gitxp.load()["version"].to_pylist() if v.startswith(v2 + "+"))
    text = invoke("compare", "main", "feature").output
    assert (
        f"main: version {v2} (4 runs), the newest on its history with runs; 1 older version and 1 other version "
        "of its commit (uncommitted changes) left out" in text
    )
    assert "no significant difference" in text  # today: 12 runs of three versions pooled, "feature is worse"
    by_sha = json.loads(invoke("compare", two_versions["v2"], dirty, "--format", "json").output)
    assert [g["versions"] for g in by_sha["groups"]] == [[v2], [dirty]]
    assert "is worse than" in by_sha["metrics"][0]["differences"][0]["verdict"]


def test_reruns_are_their_own_group_and_params_show_every_value(two_versions: dict[str, str], invoke) -> None:  # type: ignore[no-untyped-def]
    table = gitxp.load()
    rows = [r for r in table.to_pylist() if r["commit"] == two_versions["v2"]]
    v2_runs, seeds = [r["run_id"] for r in rows], [r["params.seed"] for r in rows]
    rerun = invoke("rerun", v2_runs[0], "--set", "seed=7", "--yes")
    assert rerun.exit_code == 0, rerun.output
    duplicate = invoke("rerun", v2_runs[1], "--yes")
    assert duplicate.exit_code == 0, duplicate.output
    data = json.loads(invoke("compare", "main", "feature", "--format", "json").output)
    assert data["groups"][0]["runs"] == 4  # today 10: both versions and both reruns pooled
    assert data["groups"][0]["excluded"] == {"reruns": 2, "with_overrides": 1, "overrides": {"seed=7": 1}}
    text = invoke("compare", "main", "feature").output
    assert (
        "main: 2 reruns left out (1 with overrides: other params, seed=7 (1 run)); --reruns counts them"
        in text
    )
    report = invoke("report", "--base", "main", "--head", "feature")
    assert "base: 2 reruns left out (1 with overrides: other params, `seed=7` (1 run))" in report.output
    assert "| 4 → 4 |" in report.output
    assert "1 older version" in report.output

    counted = invoke("compare", "main", "feature", "--reruns")
    assert counted.exit_code == 0, counted.output
    row = next(line for line in counted.output.splitlines() if line.strip().startswith("seed "))
    assert f"{seeds[1]} (2 runs)" in row and "7 (1 run)" in row and f"{seeds[2]} (1 run)" in row
    where = invoke("report", "--base", "main", "--head", "feature", "--reruns", "--where", "params.seed < 5")
    assert "| 5 → 4 |" in where.output, where.output


@pytest.fixture
def moved_on(repo: Path, invoke) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """main: v1 (0.90); feature from v1 adds +0.02 (0.92); main then moves on to v2 (0.94)."""
    v1 = commit(repo, "v1", **{"train.py": TRAIN, "level.txt": "0.90\n"})
    record(invoke)
    git(repo, "checkout", "-qb", "feature")
    f1 = commit(repo, "bonus", **{"bonus.txt": "0.02\n"})
    record(invoke)
    git(repo, "checkout", "-q", "main")
    v2 = commit(repo, "v2", **{"level.txt": "0.94\n"})
    record(invoke)
    return {"v1": v1, "f1": f1, "v2": v2}


def test_report_base_is_the_merge_base_and_base_tip_the_tip(
    moved_on: dict[str, str], invoke, repo: Path
) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = moved_on["v1"][:7], moved_on["v2"][:7]
    report = invoke("report", "--base", "main", "--head", "feature")
    assert report.exit_code == 0, report.output
    assert "✅ better" in report.output  # today the pool of v1 and v2 says "no significant change"
    assert f"merge-base of `main` and `feature`: `{v1}`" in report.output
    tip = invoke("report", "--base", "main", "--head", "feature", "--base-tip", "--fail-on-worse")
    assert tip.exit_code == 1 and "🔴 worse" in tip.output and f"`{v2}`" in tip.output
    assert "merge-base" not in tip.output

    # main moves on with a commit that has no runs; feature is rebased onto it and run again
    m3 = commit(repo, "docs", **{"README": "docs\n"})
    git(repo, "checkout", "-q", "feature")
    git(repo, "rebase", "-q", "main")
    record(invoke)
    git(repo, "checkout", "-q", "main")
    rebased = invoke("report", "--base", "main", "--head", "feature", "--fail-on-worse")
    assert rebased.exit_code == 0, rebased.output
    assert (
        f"merge-base of `main` and `feature`: `{m3[:7]}` has no finished runs; nearest ancestor with runs: `{v2}`"
        in rebased.output
    )
    assert "✅ better" in rebased.output and "| 4 → 4 |" in rebased.output
    assert (
        "head: 4 runs recorded on `feature` at commits no longer on its history (rebased or reset)"
        in rebased.output
    )
    data = json.loads(invoke("report", "--base", "main", "--head", "feature", "--format", "json").output)
    assert data["sides"]["base"]["merge_base"] == m3 and data["sides"]["base"]["versions"] == [v2]

    git(repo, "checkout", "-q", "--orphan", "other")  # a history unrelated to main's: no merge-base
    commit(repo, "unrelated", **{"level.txt": "0.50\n"})
    record(invoke)
    unrelated = invoke("report", "--base", "other", "--head", "main")
    assert unrelated.exit_code == 0, unrelated.output
    assert (
        "no merge-base with `main` in this clone (unrelated or shallow history): its tip is used"
        in unrelated.output
    )


def test_two_clones_remote_branch_and_merge_base(
    tmp_path: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    alice = tmp_path / "alice"
    alice.mkdir()
    git(alice, "init", "-q")
    monkeypatch.chdir(alice)
    v1 = commit(alice, "v1", **{"train.py": TRAIN, "level.txt": "0.90\n"})
    record(invoke)
    git(alice, "remote", "add", "origin", str(remote))
    git(alice, "push", "-q", "origin", "main")
    assert invoke("push", "origin").exit_code == 0

    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", str(remote), str(bob))
    monkeypatch.chdir(bob)
    assert invoke("pull", "origin").exit_code == 0
    git(bob, "checkout", "-qb", "feature")
    commit(bob, "bonus", **{"bonus.txt": "0.02\n"})
    record(invoke)
    git(bob, "push", "-q", "origin", "feature")
    assert invoke("push", "origin").exit_code == 0

    monkeypatch.chdir(alice)
    commit(alice, "v2", **{"level.txt": "0.94\n"})
    record(invoke)
    git(alice, "fetch", "-q", "origin")
    assert invoke("pull", "origin").exit_code == 0
    result = invoke("compare", "main", "feature")
    assert result.exit_code == 0, result.output  # today: feature exists only as origin/feature: exit 2
    assert "feature: using origin/feature" in result.output
    report = invoke("report", "--base", "main", "--head", "feature")
    assert report.exit_code == 0, report.output
    assert (
        "✅ better" in report.output and f"`{v1[:7]}`" in report.output and "origin/feature" in report.output
    )


def test_repeats_get_their_own_seed(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    commit(repo, "v1", **{"train.py": TRAIN, "level.txt": "0.90\n"})
    result = invoke("run", "-e", "train", "-n", "3", "--", sys.executable, "train.py")
    assert result.exit_code == 0, result.output
    assert "GITXP_SEED" in result.output
    table = gitxp.load(sort="started")
    assert sorted(table["meta.seed"].to_pylist()) == [0, 1, 2]
    assert len(set(table["results.acc"].to_pylist())) == 3  # today: three identical results
    last = table.to_pylist()[-1]
    verify = invoke("rerun", last["run_id"], "--verify", "--yes")  # repeat 2 again: GITXP_SEED=2 again
    assert verify.exit_code == 0, verify.output
