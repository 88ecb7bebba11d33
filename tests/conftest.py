"""Test isolation: every test gets its own HOME and git identity, and real git repositories in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gitxp.cli import cli


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GITXP_RUN_ID", "GITXP_PARAMS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.com")
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stripped stdout."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def shared_remote(repo: Path, bare: Path, *, push: bool = True) -> Path:
    """Create the bare repository ``bare`` and add it to ``repo`` as ``origin`` (with ``push``: ``repo``'s main
    pushed to it, so that a second person can clone it): the remote two clones share. Returns ``bare``."""
    git(bare.parent, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    if push:
        git(repo, "push", "-q", "origin", "main")
    return bare


def clone_of(remote: Path, path: Path) -> Path:
    """A second person's clone of ``remote`` (a bare remote or another clone) at ``path``; returns ``path``."""
    git(path.parent, "clone", "-q", str(remote), str(path))
    return path


def record_foreign_run(
    clone: Path,
    command: Sequence[str],
    meta: Mapping[str, Any],
    *,
    experiment: str | None = None,
    more_meta: Mapping[str, Any] | None = None,
    results: Mapping[str, float] | None = None,
) -> None:
    """Record in ``clone`` (someone else's clone) a run with params ``x=1`` whose command is ``command`` and whose
    meta is ``meta`` (its user and host forged as the test likes), then ``gitxp push origin``: a run this
    repository did not record, for the tests of what a pulled run may do."""
    code = (
        "import gitxp\n"
        f"run = gitxp.start(experiment={experiment!r}, params={{'x': 1}}, meta={dict(meta)!r})\n"
        f"run.meta({{'command.template': {list(command)!r}, 'command.shell': False, **{dict(more_meta or {})!r}}})\n"
        + (f"run.result(**{dict(results)!r})\n" if results else "")
        + "run.end()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=clone, check=True)
    pushed = subprocess.run(
        [sys.executable, "-m", "gitxp", "push", "origin"],
        cwd=clone,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """Create a git repository with one commit (``train.py``) and return its path."""

    def make(name: str = "project", *, commit: bool = True) -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "train.py").write_text("print('training')\n")
        (repo / ".gitignore").write_text("*.ckpt\n")
        if commit:
            git(repo, "add", ".")
            git(repo, "commit", "-qm", "initial")
        return repo

    return make


@pytest.fixture
def repo(make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed git repository that is also the current directory."""
    path = make_repo()
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """Run the gitxp CLI in-process: ``invoke("ls", "--format", "json")``."""

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False, prog_name="gitxp")

    return run


def run_python(
    code: str, cwd: Path, *, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Python snippet in a fresh interpreter (a real, separate process)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **(env or {})},
    )
