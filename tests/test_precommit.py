"""gitxp's git hooks through pre-commit: another repository lists gitxp-push-runs in its .pre-commit-config.yaml,
and a plain `git push` then shares its runs too."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import git

ROOT = Path(__file__).parent.parent


def test_the_hooks_file_names_executable_hooks_and_the_packaged_copy_matches() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["gitxp-push-runs"]
    for hook in hooks:
        entry = ROOT / hook["entry"]
        assert entry.is_file() and entry.stat().st_mode & stat.S_IXUSR
        assert hook["stages"] == ["pre-push"] and hook["pass_filenames"] is False
    # `gitxp init --hooks` installs the packaged copy: the same script
    assert (ROOT / "gitxp" / "pre-push.hook").read_text() == (ROOT / "hooks" / "pre-push").read_text()


def _env(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `gitxp` is this checkout's (as a project's venv would have it), and pre-commit's cache here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "gitxp"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitxp "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "PYTHONPATH": str(ROOT),
    }


def test_pre_commit_pre_push_hook_pushes_the_runs(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    env = _env(tmp_path)
    # the hook repository, as pre-commit clones it: gitxp's .pre-commit-hooks.yaml and hooks/ at one commit
    hook_repo = tmp_path / "gitxp-hooks"
    (hook_repo / "hooks").mkdir(parents=True)
    shutil.copy2(ROOT / ".pre-commit-hooks.yaml", hook_repo / ".pre-commit-hooks.yaml")
    shutil.copy2(ROOT / "hooks" / "pre-push", hook_repo / "hooks" / "pre-push")
    git(hook_repo, "init", "-q")
    git(hook_repo, "add", ".")
    git(hook_repo, "commit", "-qm", "hooks")
    rev = git(hook_repo, "rev-parse", "HEAD")

    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q")
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: gitxp-push-runs\n"
    )
    (project / "train.py").write_text("print('gitxp: acc=0.9')\n")
    git(project, "add", ".")
    git(project, "commit", "-qm", "start")
    git(project, "remote", "add", "origin", str(remote))
    run = subprocess.run(
        ["gitxp", "run", "--", sys.executable, "train.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    # a single run's commit is written by a detached process (Store.commit_later): wait for it, as a user's
    # later push would find it (on a loaded machine it can land after the push below)
    deadline = time.monotonic() + 60
    while subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/gitxp/runs"], cwd=project).returncode:
        assert time.monotonic() < deadline, "the run was never committed"
        time.sleep(0.05)
    install = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-push"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    push = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/main"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert push.returncode == 0, push.stdout + push.stderr
    assert "gitxp push runs" in push.stdout + push.stderr  # pre-commit ran the hook by its name
    local = git(project, "rev-parse", "refs/gitxp/runs")
    assert git(remote, "rev-parse", "refs/gitxp/runs") == local  # the runs went along with the branch
    assert git(remote, "rev-parse", "refs/heads/main") == git(project, "rev-parse", "HEAD")

    # no gitxp in the environment: the push still goes on, and says why no runs went along
    bare_path = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if not (Path(p) / "gitxp").exists())
    (project / "more.txt").write_text("x\n")
    git(project, "add", ".")
    git(project, "commit", "-qm", "more")
    push = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/main"],
        cwd=project,
        env={**env, "PATH": bare_path},
        capture_output=True,
        text=True,
    )
    if shutil.which("git", path=bare_path) is None:  # pragma: no cover - git lives beside gitxp
        pytest.skip("git and gitxp share a directory")
    assert push.returncode == 0, push.stdout + push.stderr
    assert "gitxp: not installed in this environment" in push.stdout + push.stderr
