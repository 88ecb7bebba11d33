"""The version captured once per process (gitxp.version.cache) follows every change of the working tree."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import git

import gitxp
from gitxp.git.repo import Repo
from gitxp.version import cache as versioncache
from gitxp.version import treewatch
from gitxp.version.capture import capture


def settle() -> None:
    time.sleep(versioncache.RACY_NS / 1e9 + 0.05)  # past the racy window: the cache may answer


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    versioncache.clear()
    monkeypatch.setattr(versioncache, "PLAIN_CAPTURES", 0)  # the cache from the first capture on


def test_one_run_in_a_process_sets_no_cache_up(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versioncache, "PLAIN_CAPTURES", 1)
    settle()
    scans = versioncache.STATS["scans"]
    first = versioncache.capture_cached(Repo.discover(repo))
    assert str(repo) not in versioncache._CACHE and versioncache.STATS["scans"] == scans  # git status only
    assert check(repo) == first.id and str(repo) in versioncache._CACHE  # the second run sets it up
    hits = versioncache.STATS["hits"]
    assert check(repo) == first.id and versioncache.STATS["hits"] == hits + 1


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
    assert str(repo) not in versioncache._CACHE or versioncache._CACHE[str(repo)].version == first


def test_a_huge_tree_falls_back_to_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versioncache, "MAX_ENTRIES", 1)
    (repo / "a.txt").write_text("a")
    (repo / "b.txt").write_text("b")
    settle()
    before = versioncache.STATS["captures"]
    for _ in range(3):
        assert versioncache.capture_cached(Repo.discover(repo)) == capture(Repo.discover(repo))
    assert versioncache.STATS["captures"] == before + 3


def _ignored_tree(repo: Path) -> Path:
    """A repository with a git-ignored virtualenv-like directory of many files, and ignored logs. (A *new* path
    is always a change until the next capture, ignored or not: these exist before the first one.)"""
    (repo / ".gitignore").write_text(".venv/\n*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    venv = repo / ".venv" / "lib" / "site-packages"
    for i in range(30):
        (venv / f"pkg{i}").mkdir(parents=True)
        (venv / f"pkg{i}" / "__init__.py").write_text("")
    return venv


def test_what_git_ignores_is_neither_scanned_nor_a_change(repo: Path) -> None:
    venv = _ignored_tree(repo)
    (repo / "train.log").write_text("")  # an ignored file next to the code, rewritten by every run
    clean = check(repo)
    known = versioncache._CACHE[str(repo)]
    assert not [e for e in known.fingerprint[1] if "/.venv/" in e[0]]  # the ignored directory is skipped
    start = dict(versioncache.STATS)
    (venv / "pkg3" / "__init__.py").write_text("x = 1\n")  # a package upgraded in the ignored virtualenv
    (repo / "train.log").write_text("epoch 1\n")
    assert check(repo) == clean
    (repo / "train.log").write_text("epoch 2\n")
    assert check(repo) == clean
    assert versioncache.STATS["captures"] == start["captures"]  # git was not asked again
    (repo / "notes.txt").write_text("an untracked file that git does not ignore\n")
    assert check(repo) != clean
    (repo / ".gitignore").write_text("*.log\n")  # the virtualenv is no longer ignored: a change of version
    assert check(repo) not in (clean,)


def test_a_log_listed_in_gitxpignore_is_rewritten_without_asking_git(repo: Path) -> None:
    (repo / ".gitxpignore").write_text("out.txt\n")
    (repo / "out.txt").write_text("run 0\n")
    clean = check(repo)
    start = dict(versioncache.STATS)
    for i in range(1, 4):
        (repo / "out.txt").write_text(f"run {i}\n")  # what a script redirects into the repository every run
        assert check(repo) == clean
    assert versioncache.STATS["captures"] == start["captures"]
    tracked = repo / "tracked.py"
    tracked.write_text("a = 1\n")
    git(repo, "add", "tracked.py")
    git(repo, "commit", "-qm", "tracked")
    committed = check(repo)
    (repo / ".gitxpignore").write_text("out.txt\ntracked.py\n")  # a tracked file is never ignored
    listed = check(repo)
    tracked.write_text("a = 2\n")
    assert check(repo) not in (committed, listed)


@pytest.mark.skipif(treewatch.watch() is None, reason="inotify is Linux-only")
def test_an_unchanged_tree_is_known_without_scanning_it(repo: Path) -> None:
    _ignored_tree(repo)
    (repo / "train.log").write_text("")
    clean = check(repo)
    assert versioncache._CACHE[str(repo)].watch is not None
    start = dict(versioncache.STATS)
    for _ in range(5):
        assert versioncache.capture_cached(Repo.discover(repo)) == clean_version(repo, clean)
    assert versioncache.STATS["scans"] == start["scans"]  # the watch said "nothing happened": no scan, no git
    (repo / "train.log").write_text("ignored\n")
    check(repo)
    assert versioncache.STATS["scans"] == start["scans"]  # an ignored file's event is not a change either
    sub = repo / "pkg" / "deep"
    sub.mkdir(parents=True)  # a new directory: seen, and watched from the next capture on
    (sub / "m.py").write_text("a = 1\n")
    with_new = check(repo)
    assert with_new != clean
    (sub / "m.py").write_text("a = 2\n")  # an edit inside the directory created after the first watch
    assert check(repo) not in (clean, with_new)


def test_a_refused_watch_falls_back_to_scanning(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(treewatch, "MAX_WATCHES", 0)  # as when the system's inotify watch limit is reached
    (repo / "pkg").mkdir()
    (repo / "pkg" / "m.py").write_text("a = 1\n")
    first = check(repo)
    assert versioncache._CACHE[str(repo)].watch is None
    assert check(repo) == first
    (repo / "pkg" / "m.py").write_text("a = 22\n")
    assert check(repo) != first


def clean_version(repo: Path, version_id: str) -> versioncache.Version:
    version = capture(Repo.discover(repo))
    assert version.id == version_id
    return version


def test_a_tree_on_a_network_file_system_is_scanned_not_watched(tmp_path: Path) -> None:
    mounts = (
        "/dev/vda1 / ext4 rw,relatime 0 0\n"
        "server:/export /home/me/nfs nfs4 rw,relatime 0 0\n"
        "me@host:/src /home/me/ssh\\040dir fuse.sshfs rw 0 0\n"
        "tmpfs /home/me/nfs/scratch tmpfs rw 0 0\n"
    )
    assert treewatch.remote("/home/me/nfs/project", mounts)
    assert treewatch.remote("/home/me/ssh dir/project", mounts)
    assert not treewatch.remote("/home/me/nfs/scratch/project", mounts)  # a local mount inside it
    assert not treewatch.remote("/home/me/nfsx/project", mounts)  # a prefix of the name is not the mount
    assert not treewatch.remote("/srv/project", mounts)
    assert not treewatch.remote(str(tmp_path))  # this machine's own mounts: the tests' tree is local


def test_a_commit_in_a_submodule_changes_the_version(repo: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "-q")
    (lib / "lib.py").write_text("x = 1\n")
    git(lib, "add", ".")
    git(lib, "commit", "-qm", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(repo, "commit", "-qm", "add lib")
    before = check(repo)
    assert check(repo) == before  # cached
    git(
        repo / "lib", "commit", "-q", "--allow-empty", "-m", "no file changes"
    )  # only the submodule's HEAD moves
    moved = check(repo)
    assert moved != before
    git(repo / "lib", "checkout", "-q", "HEAD~1")  # detached, back where the superproject points
    assert check(repo) == before
