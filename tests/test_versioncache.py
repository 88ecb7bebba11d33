"""The version captured once per process (gitxp.versioncache) follows every change of the working tree."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import git

import gitxp
from gitxp import versioncache
from gitxp.repo import Repo
from gitxp.versioning import capture


def settle() -> None:
    time.sleep(versioncache.RACY_NS / 1e9 + 0.05)  # past the racy window: the cache may answer


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    versioncache.clear()


def check(repo: Path) -> str:
    """The cached answer, which must equal a fresh `git status` capture."""
    settle()
    cached = versioncache.capture_cached(Repo.discover(repo))
    assert cached == capture(Repo.discover(repo))
    return cached.id


def test_every_kind_of_change_is_seen(repo: Path) -> None:
    clean = check(repo)
    before = dict(versioncache.STATS)
    assert check(repo) == clean and versioncache.STATS["hits"] == before["hits"] + 1  # answered without git
    tracked = next(p for p in repo.iterdir() if p.is_file())
    original = tracked.read_bytes()
    tracked.write_bytes(original + b"# edit\n")
    edited = check(repo)
    assert edited != clean and "+d." in edited
    tracked.write_bytes(original + b"# edjt\n")  # same size, new content
    assert check(repo) not in (clean, edited)
    tracked.write_bytes(original)
    assert check(repo) == clean
    (repo / "new.py").write_text("x = 1\n")  # untracked file
    untracked = check(repo)
    assert untracked != clean
    (repo / ".gitignore").write_text("new.py\n")  # now ignored, but .gitignore itself is new
    ignored = check(repo)
    assert ignored != untracked
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    committed = check(repo)
    assert committed != clean and "+d." not in committed  # a new commit, clean again
    git(repo, "checkout", "-q", "HEAD~1")
    assert check(repo).startswith(clean[:7])  # the old commit, with the now-untracked .gitignore
    git(repo, "checkout", "-q", "-")
    sub = repo / "pkg"
    sub.mkdir()
    (sub / "m.py").write_text("y = 2\n")  # a new file in a new directory
    assert check(repo) != committed
    os.remove(sub / "m.py")
    sub.rmdir()
    assert check(repo) == committed


def test_runs_in_a_loop_capture_once_and_see_an_edit(repo: Path) -> None:
    settle()
    start = dict(versioncache.STATS)
    ids = []
    for i in range(5):
        with gitxp.start(params={"i": i}) as run:
            ids.append(run.version.id)
    assert len(set(ids)) == 1 and versioncache.STATS["captures"] - start["captures"] <= 2
    tracked = next(p for p in repo.iterdir() if p.is_file())
    tracked.write_text(tracked.read_text() + "# changed between runs\n")
    settle()
    with gitxp.start(params={"i": 5}) as run:
        assert run.version.id != ids[0] and run.version.dirty


def test_a_racy_change_is_never_cached(repo: Path) -> None:
    tracked = next(p for p in repo.iterdir() if p.is_file())
    tracked.write_text(tracked.read_text() + "# just now\n")
    first = versioncache.capture_cached(Repo.discover(repo))  # right after a change: git is asked, not cached
    assert first == capture(Repo.discover(repo))
    assert str(repo) not in versioncache._CACHE or versioncache._CACHE[str(repo)][1] == first


def test_a_huge_tree_falls_back_to_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versioncache, "MAX_ENTRIES", 1)
    (repo / "a.txt").write_text("a")
    (repo / "b.txt").write_text("b")
    settle()
    before = versioncache.STATS["captures"]
    for _ in range(3):
        assert versioncache.capture_cached(Repo.discover(repo)) == capture(Repo.discover(repo))
    assert versioncache.STATS["captures"] == before + 3
