"""Two people sharing runs through one bare remote (issue 25, item 6): commits behind shared runs, a fresh
clone's first ``ls``, notes by two people on one run. Real clones, real ``gitxp`` processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import git

ROOT = Path(__file__).resolve().parents[1]


def gx(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gitxp", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def ok(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = gx(cwd, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def team(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare remote with one commit on main, and Alice's clone of it (Bob clones later)."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    alice = tmp_path / "alice"
    git(tmp_path, "clone", "-q", str(remote), str(alice))
    (alice / "train.py").write_text("print('gitxp: acc=0.5')\n")
    git(alice, "add", ".")
    git(alice, "commit", "-qm", "train")
    git(alice, "push", "-q", "origin", "main")
    return remote, alice, tmp_path / "bob"


def run_ids(cwd: Path) -> list[str]:
    return [row["run_id"] for row in json.loads(ok(cwd, "ls", "--format", "json").stdout)]


def test_push_lists_runs_whose_commits_the_remote_lacks_and_with_commits_shares_them(tmp_path: Path) -> None:
    remote, alice, bob = team(tmp_path)
    ok(alice, "run", "--", sys.executable, "train.py")  # on main, pushed
    git(alice, "checkout", "-qb", "feature")
    (alice / "train.py").write_text("print('gitxp: acc=0.7')\n")
    git(alice, "commit", "-qam", "better")  # never pushed
    ok(alice, "run", "--", sys.executable, "train.py")
    feature = git(alice, "rev-parse", "HEAD")
    base, new = sorted(run_ids(alice))
    pushed = ok(alice, "push")
    assert "1 run(s) use 1 commit(s) that origin does not have" in pushed.stderr
    assert re.search(rf"commit {feature[:7]} \(feature\): {new[:8]}[0-9a-z]*\n", pushed.stderr), pushed.stderr
    assert "gitxp push --with-commits origin" in pushed.stderr

    git(tmp_path, "clone", "-q", str(remote), str(bob))
    fresh = gx(bob, "ls")
    assert fresh.returncode == 0 and "no runs" in fresh.stderr and "gitxp pull" in fresh.stderr
    ok(bob, "pull")
    refused = gx(bob, "compare", base, new, "--code", "--full")
    assert refused.returncode == 2 and "not in this repository" in refused.stderr

    shared = ok(alice, "push", "--with-commits")
    assert "pushed 1 commit(s) of 1 run(s) to refs/gitxp/commits/ on origin" in shared.stdout
    assert git(remote, "rev-parse", f"refs/gitxp/commits/{feature}") == feature
    assert "does not have" not in ok(alice, "push").stderr  # shared now: no more warning
    assert git(remote, "branch", "--list", "feature") == ""  # Alice's branches are hers

    ok(bob, "pull")
    code = ok(bob, "compare", base, new, "--code", "--full").stdout
    assert "+print('gitxp: acc=0.7')" in code


def test_a_teammates_note_on_the_same_run_is_kept_beside_yours(tmp_path: Path) -> None:
    remote, alice, bob = team(tmp_path)
    ok(alice, "run", "--", sys.executable, "train.py")
    ok(alice, "push")
    git(tmp_path, "clone", "-q", str(remote), str(bob))
    ok(bob, "pull")
    (run,) = run_ids(alice)
    ok(alice, "note", run, "alice: lr too high")
    ok(alice, "push")
    ok(bob, "note", run, "bob: flaky on GPU 2")  # Bob has not pulled Alice's note
    ok(bob, "push")
    ok(alice, "pull")
    (row,) = json.loads(ok(alice, "ls", "--format", "json").stdout)
    assert row["note"] == "bob: flaky on GPU 2 | alice: lr too high"  # both, newest first
    ok(alice, "note", run, "alice: lr fixed in 3f2a")  # her own newer note replaces her older one
    (row,) = json.loads(ok(alice, "ls", "--format", "json").stdout)
    assert row["note"] == "alice: lr fixed in 3f2a | bob: flaky on GPU 2"
    assert "alice: lr fixed in 3f2a | bob: flaky on GPU 2" in ok(alice, "show", run).stdout
    ok(alice, "note", "--clear", run)  # a clear removes every note older than it
    (row,) = json.loads(ok(alice, "ls", "--format", "json").stdout)
    assert row.get("note") is None


def test_clones_in_differently_named_directories_record_one_experiment(tmp_path: Path) -> None:
    """Alice's clone is alice/, Bob's bob/: without -e, both record into the project's experiment (origin's name,
    ``remote``), not one experiment per directory; a clone that already recorded under its directory keeps it."""
    remote, alice, bob = team(tmp_path)
    ok(alice, "run", "--", sys.executable, "train.py")
    ok(alice, "push")
    git(tmp_path, "clone", "-q", str(remote), str(bob))
    ok(bob, "pull")
    ok(bob, "run", "--", sys.executable, "train.py")
    rows = json.loads(ok(bob, "ls", "--format", "json").stdout)
    assert [r["experiment"] for r in rows] == ["remote", "remote"], rows
    assert git(bob, "config", "gitxp.experiment") == "remote"  # remembered: one git config read per process
    # a clone that recorded under its directory's name before it had an origin keeps that name
    solo = tmp_path / "solo"
    solo.mkdir()
    git(solo, "init", "-q", "-b", "main")
    (solo / "t.py").write_text("print('gitxp: acc=0.1')\n")
    git(solo, "add", ".")
    git(solo, "commit", "-qm", "t")
    ok(solo, "run", "--", sys.executable, "t.py")
    git(solo, "remote", "add", "origin", str(remote))
    ok(solo, "run", "--", sys.executable, "t.py")
    assert {r["experiment"] for r in json.loads(ok(solo, "ls", "--format", "json").stdout)} == {"solo"}
    git(solo, "config", "gitxp.experiment", "chosen")  # and the user's own choice wins
    ok(solo, "run", "--", sys.executable, "t.py")
    assert json.loads(ok(solo, "ls", "--format", "json").stdout)[0]["experiment"] == "chosen"


def test_the_repository_name_of_a_remote_url() -> None:
    from gitxp.run.setup import repository_name

    assert repository_name("git@github.com:acme/churn.git") == "churn"
    assert repository_name("https://github.com/acme/churn/") == "churn"
    assert repository_name("/srv/git/churn.git/") == "churn"
    assert repository_name("/home/me/churn/.git") == "churn"
    assert repository_name("ssh://host:22/churn") == "churn"
    assert repository_name("") == "" and repository_name("..") == ""
