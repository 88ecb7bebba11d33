"""Version capture: commit, branch and the uncommitted patch, in every kind of checkout."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import git

from gitxp.errors import NoCommitError, NotARepositoryError
from gitxp.git.repo import Repo
from gitxp.version.capture import GitxpWarning, capture


def test_clean_checkout_is_the_short_sha(repo: Path) -> None:
    version = capture(Repo.discover())
    assert version.commit == git(repo, "rev-parse", "HEAD")
    assert version.id == version.commit[:7]
    assert version.branch == "main"
    assert not version.dirty and version.patch == b""


def test_dirty_version_includes_staged_unstaged_and_untracked(repo: Path) -> None:
    (repo / "train.py").write_text("print('training v2')\n")
    (repo / "staged.py").write_text("x = 1\n")
    git(repo, "add", "staged.py")
    (repo / "helper.py").write_text("def f():\n    return 2\n")
    (repo / "model.ckpt").write_text("ignored\n")
    version = capture(Repo.discover())
    assert re.fullmatch(r"[0-9a-f]{7}\+d\.[0-9a-f]{7}", version.id)
    patch = version.patch.decode()
    assert "training v2" in patch and "staged.py" in patch and "helper.py" in patch
    assert "model.ckpt" not in patch


def test_different_uncommitted_code_gives_different_versions(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 1\n")
    first = capture(Repo.discover())
    (repo / "train.py").write_text("lr = 2\n")
    second = capture(Repo.discover())
    (repo / "train.py").write_text("lr = 1\n")
    third = capture(Repo.discover())
    assert first.commit == second.commit
    assert first.id != second.id
    assert first.id == third.id


def test_patch_reproduces_the_working_tree(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "new file ü.py").write_text("x = 'unicode ü'\n")
    (repo / ".gitignore").unlink()
    version = capture(Repo.discover())
    clone = tmp_path / "clone"
    git(repo, "worktree", "add", "-q", "--detach", str(clone), version.commit)
    subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=clone, input=version.patch, check=True)
    assert (clone / "train.py").read_text() == "print('changed')\n"
    assert (clone / "sub" / "new file ü.py").read_text() == "x = 'unicode ü'\n"
    assert not (clone / ".gitignore").exists()


def test_binary_and_oversized_untracked_files_are_recorded_by_hash(repo: Path) -> None:
    (repo / "weights.bin").write_bytes(b"\0\1\2binary")
    (repo / "big.txt").write_text("a" * 2000)
    with pytest.warns(GitxpWarning) as caught:
        version = capture(Repo.discover(), max_file_bytes=1000)
    assert {s.path for s in version.skipped} == {"weights.bin", "big.txt"}
    assert len(caught) == 2
    text = version.patch_text().decode()
    assert "not embedded (binary): weights.bin" in text and "not embedded (over size cap): big.txt" in text
    assert "aaaa" not in text
    before = version.id
    (repo / "weights.bin").write_bytes(b"\0\1\2other")
    with pytest.warns(GitxpWarning):
        assert capture(Repo.discover(), max_file_bytes=1000).id != before


def test_capture_does_not_touch_the_index(repo: Path) -> None:
    (repo / "train.py").write_text("changed\n")
    (repo / "new.py").write_text("new\n")
    index = repo / ".git" / "index"
    before = (index.read_bytes(), git(repo, "status", "--porcelain"))
    capture(Repo.discover())
    assert (index.read_bytes(), git(repo, "status", "--porcelain")) == before


def test_an_edit_in_the_second_of_the_last_commit_is_in_the_version(repo: Path) -> None:
    """An edit of the same size made in the same second as the commit before it: git's index cannot tell it by
    stat data ("racy git"), so git looks at the content, as long as the index file is no older than the entry.
    The version's private copy of the index must keep that time (it once got the time of the copy, and the edit
    was left out of the patch: a dirty tree recorded as the clean commit)."""
    git(repo, "config", "core.trustctime", "false")  # ctime cannot be set back; mtime alone then decides
    then = 1_700_000_000  # one past second for the entry, the index file and the edit alike
    tracked = repo / "t.py"
    tracked.write_text("a = 1\n")
    os.utime(tracked, (then, then))
    git(repo, "add", "t.py")
    git(repo, "commit", "-qm", "t")
    os.utime(repo / ".git" / "index", (then, then))
    tracked.write_text("a = 2\n")  # same size
    os.utime(tracked, (then, then))
    version = capture(Repo.discover(repo))
    assert version.dirty and b"+a = 2" in version.patch_text()


def test_detached_head(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    version = capture(Repo.discover())
    assert version.branch is None and version.commit == git(repo, "rev-parse", "HEAD")


def test_subdirectory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "mod.py").write_text("x = 1\n")
    monkeypatch.chdir(repo / "src")
    version = capture(Repo.discover())
    assert "src/mod.py" in version.patch.decode()


def test_linked_worktree_shares_the_store_dir(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    (wt / "train.py").write_text("feature\n")
    found = Repo.discover(wt)
    assert found.common_dir == (repo / ".git").resolve()
    version = capture(found)
    assert version.branch == "feature" and version.dirty


def test_shallow_clone(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("second\n")
    git(repo, "commit", "-qam", "second")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
    version = capture(Repo.discover(shallow))
    assert version.commit == git(repo, "rev-parse", "HEAD")


def test_no_commit_and_no_repo_are_clear_errors(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = make_repo("empty", commit=False)
    with pytest.raises(NoCommitError, match="no commit yet"):
        capture(Repo.discover(empty))
    outside = tmp_path / "outside"
    outside.mkdir()
    os.environ["GIT_CEILING_DIRECTORIES"] = str(tmp_path)
    try:
        with pytest.raises(NotARepositoryError, match="not a git repository"):
            Repo.discover(outside)
    finally:
        del os.environ["GIT_CEILING_DIRECTORIES"]
