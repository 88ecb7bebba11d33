"""A new user's journeys end to end (script, team of two, dashboard): what they met that went wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git
from test_sides import two_versions  # noqa: F401  (a fixture)
from test_wrapper import write

import gitxp

TRAIN = (
    "import argparse\n"
    "p = argparse.ArgumentParser(); p.add_argument('--lr', type=float, default=1.0)\n"
    "p.add_argument('--steps', type=int, default=10)\n"
    "a = p.parse_args()\nprint(f'gitxp: score={a.lr * a.steps}')\n"
)


def test_rerun_dry_run_shows_the_command_that_will_run(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "train.py", TRAIN)
    assert invoke("run", "--", sys.executable, "train.py", "--lr", "2").exit_code == 0
    rid = gitxp.load().to_pylist()[0]["run_id"]
    shown = invoke("rerun", rid, "--set", "lr=3", "--dry-run")
    assert shown.exit_code == 0, shown.output
    command = next(line for line in shown.output.splitlines() if line.startswith("command"))
    assert "'--lr', '3'" in command and "'2'" not in command  # what will run, not the recorded template


def test_reruns_left_out_are_counted_for_the_version_used_only(two_versions: dict[str, str], invoke) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    old = next(r for r in gitxp.load().to_pylist() if r["commit"] == two_versions["v1"])
    assert invoke("rerun", old["run_id"], "--set", "seed=7", "--yes").exit_code == 0
    data = json.loads(invoke("compare", "main", "feature", "--format", "json").output)
    assert data["groups"][0]["runs"] == 4
    assert not data["groups"][0]["excluded"].get("reruns")  # the rerun is of v1, main's side is v2
    text = invoke("compare", "main", "feature").output
    assert "rerun" not in text, text


def test_a_single_run_that_reported_no_results_says_how_to_report_them(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "plain.py", "print('valid_acc: 0.93')\n")  # a common format gitxp does not read by itself
    result = invoke("run", "--", sys.executable, "plain.py")
    assert result.exit_code == 0, result.output
    assert "no results recorded" in result.output and "--parse" in result.output
    parsed = invoke("run", "--parse", r"valid_acc: (?P<valid_acc>[\d.]+)", "--", sys.executable, "plain.py")
    assert parsed.exit_code == 0 and "no results recorded" not in parsed.output
    write(repo, "api.py", "import gitxp\nwith gitxp.start() as run:\n    run.result(acc=0.5)\n")
    attached = invoke("run", "--", sys.executable, "api.py")
    assert attached.exit_code == 0 and "no results recorded" not in attached.output, attached.output


def test_gitxp_compare_as_documented_after_a_plain_import(two_versions: dict[str, str]) -> None:  # noqa: F811
    script = "import gitxp, json; print(json.dumps(gitxp.compare.compare('main', 'feature'), default=str))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr  # was AttributeError: module 'gitxp' has no attribute 'compare'
    assert "no significant difference" in proc.stdout


def test_a_side_of_one_run_says_1_run(two_versions: dict[str, str], invoke, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    git(repo, "checkout", "-q", "feature")
    write(repo, "other.py", "print('gitxp: acc=0.5')\n")
    assert invoke("run", "-e", "other", "--", sys.executable, "other.py").exit_code == 0
    git(repo, "checkout", "-q", "main")
    rid = gitxp.load(experiment="other").to_pylist()[0]["run_id"]
    text = invoke("compare", "main", rid).output
    assert "(1 run)" in text and "(1 runs)" not in text, text
    report = invoke("report", "--base", "main", "--head", rid).output
    assert "only on the head (1 run)" in report, report


def test_load_names_itself_not_a_cli_option_for_an_unknown_experiment(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "train.py", TRAIN)
    assert invoke("run", "-e", "digits", "--", sys.executable, "train.py").exit_code == 0
    with pytest.raises(gitxp.GitxpError) as error:
        gitxp.load(experiment="digts")
    assert str(error.value).startswith("gitxp.load: unknown experiment 'digts' (did you mean digits?)")


def test_dashboard_compare_gives_each_note_of_a_side_on_its_own(two_versions: dict[str, str], invoke, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from gitxp.store import Store
    from gitxp.ui.server import create_app

    old = next(r for r in gitxp.load().to_pylist() if r["commit"] == two_versions["v2"])
    assert invoke("rerun", old["run_id"], "--set", "seed=7", "--yes").exit_code == 0
    client = TestClient(create_app(Store.open(repo)), base_url="http://127.0.0.1")
    data = client.get("/api/compare", params={"a": "main", "b": "feature"}).json()
    notes = data["groups"][0]["notes"]  # the page shows one line each (was one '; '-joined paragraph)
    assert notes == [n for n in notes if n.startswith("main")] and len(notes) == 2, notes
    assert "1 rerun left out" in notes[1] and "; " in notes[0]  # a note's own '; ' stays inside it


def test_code_diff_is_between_the_versions_compared(two_versions: dict[str, str], invoke, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # main moves on with a change and runs of another experiment only: train's side stays at v2
    git(repo, "checkout", "-q", "main")
    write(repo, "other.py", "print('gitxp: acc=0.5')\n")  # committed by write
    (repo / "level.txt").write_text("0.80\n# unrelated change\n")
    git(repo, "commit", "-qam", "unrelated")
    for _ in range(2):
        assert invoke("run", "-e", "other", "--", sys.executable, "other.py").exit_code == 0
    text = invoke("compare", "main", "feature", "--code").output
    assert "main [train]: version " + two_versions["v2"][:7] in text
    stat = text[text.index("code: main -> feature") :]
    assert "train.py" in stat and "level.txt" not in stat, stat  # the diff of v2 -> feature, not main's tip
    assert "experiment train" in stat
    # an experiment with more runs, at the same version on both sides, does not hide the one compared
    for _ in range(6):
        assert invoke("run", "-e", "big", "--", sys.executable, "other.py").exit_code == 0
    git(repo, "checkout", "-q", "feature")
    git(repo, "merge", "-q", "--no-edit", "main")
    git(repo, "checkout", "-q", "main")
    text = invoke("compare", "main", "feature", "--code").output
    assert "(same code)" not in text and "experiment train" in text, text


def test_repeats_that_all_gave_the_same_result_are_pointed_out(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "fixed.py", "print('gitxp: acc=0.9')\n")  # ignores $GITXP_SEED: three copies of one sample
    same = invoke("run", "-e", "fixed", "-n", "3", "--", sys.executable, "fixed.py")
    assert same.exit_code == 0, same.output
    assert "ignore $GITXP_SEED" in same.output
    write(repo, "seeded.py", "import os\nprint(f\"gitxp: acc={0.9 + int(os.environ['GITXP_SEED']) / 100}\")\n")
    varied = invoke("run", "-e", "seeded", "-n", "3", "--", sys.executable, "seeded.py")
    assert varied.exit_code == 0 and "ignore $GITXP_SEED" not in varied.output, varied.output


def test_compare_of_an_archived_experiment_says_it_is_archived(two_versions: dict[str, str], invoke, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write(repo, "other.py", "print('gitxp: acc=0.5')\n")
    assert invoke("run", "-e", "other", "--", sys.executable, "other.py").exit_code == 0
    assert invoke("archive", "-e", "train", "--yes").exit_code == 0
    hidden = invoke("compare", "main", "feature", "-e", "train")
    assert hidden.exit_code == 2 and "every run of experiment 'train' is archived" in hidden.output, hidden.output
    assert "--archived includes them" in hidden.output
    shown = invoke("compare", "main", "feature", "-e", "train", "--archived")
    assert shown.exit_code == 0, shown.output


def test_a_run_compared_with_its_own_version_is_not_on_both_sides(two_versions: dict[str, str], invoke) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    rid = next(r["run_id"] for r in gitxp.load().to_pylist() if r["commit"] == two_versions["v2"])
    data = json.loads(invoke("compare", two_versions["v2"][:7], rid, "--format", "json").output)
    version, run = data["groups"]
    assert run["run_ids"] == [rid] and rid not in version["run_ids"] and version["runs"] == 3, data["groups"]
    (Path.cwd() / "level.txt").write_text("0.85\n")  # uncommitted: a version of one run
    assert invoke("run", "-e", "train", "--", sys.executable, "train.py", "0").exit_code == 0
    lone = gitxp.load(sort="-started", limit=1).to_pylist()[0]
    alone = invoke("compare", lone["version"], lone["run_id"])
    assert alone.exit_code == 2 and "has no runs besides" in alone.output, alone.output
    report = invoke("report", "--base", "main", "--head", rid, "--format", "json")
    assert report.exit_code == 0, report.output
    base = json.loads(report.output)["sides"]["base"]
    assert base["runs"] == 3, base


def test_a_finished_run_that_reported_nothing_does_not_make_its_version_the_side(two_versions: dict[str, str], invoke, repo: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    write(repo, "smoke.py", "print('it runs')\n")  # a smoke test of main's new tip: finished, no results
    assert invoke("run", "-e", "train", "--", sys.executable, "smoke.py").exit_code == 0
    text = invoke("compare", "main", "feature").output
    assert f"main: version {two_versions['v2'][:7]} (4 runs)" in text, text
    assert "no significant difference" in text, text
    smoke = gitxp.load(sort="-started", limit=1).to_pylist()[0]
    none = invoke("compare", smoke["version"], "feature")
    assert none.exit_code == 0 and f"{smoke['version']}: no run reports acc: no verdict" in none.output, none.output


def test_a_misspelt_branch_gets_did_you_mean(two_versions: dict[str, str], invoke) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for args in (("compare", "mian", "feature"), ("report", "--base", "mian", "--head", "feature")):
        result = invoke(*args)
        assert result.exit_code == 2 and "(did you mean main?)" in result.output, result.output


def test_optunas_direction_gets_a_clear_error(repo: Path) -> None:
    import gitxp

    with pytest.raises(TypeError, match="metric='NAME:max'"):
        gitxp.optimize(lambda run: 1.0, 1, direction="maximize")
