"""The version of the working tree, captured once per process and re-checked without starting git.

``git status`` costs a process (several ms, far more on a loaded machine) per run; a script that records hundreds
of runs in a loop does not change its code between them. :func:`capture_cached` keeps the last captured
:class:`~gitxp.version.capture.Version` of each repository with a fingerprint of everything that could change it:

- ``HEAD``, the ref it points to, ``packed-refs``, the index, ``info/exclude`` (content or ``stat``), and the same
  of each submodule: commits, checkouts, staging, ignore rules;
- ``stat`` (mtime in ns, size, mode, inode) of every file and directory of the working tree outside ``.git``
  that git does not ignore (tracked and untracked; a ``.venv`` or data set under ``.gitignore`` is skipped, as
  git skips it, and so are untracked files listed in ``.gitxpignore``: the ignored paths are asked of git once per
  capture). A new path is always looked at, ignored or not, and a changed ``.gitignore`` is a change like any other.

On Linux the working tree's directories are also watched (:mod:`gitxp.version.treewatch`, inotify): while no event
arrived and the files under ``.git`` are unchanged, the answer is known without scanning the tree (a scan costs
~1 ms per thousand files, per run). An event means "scan and compare": never a wrong answer, at worst a scan.

The fingerprint is taken *before* the capture, so a change during the capture makes the next fingerprint differ
(and the watch is in place before each directory is listed). Anything changed within the last ``RACY_NS`` (the
file system's timestamps are coarser than ns) is not trusted: no caching then, as git does for "racily clean"
index entries. The first capture of each repository in a process does not set the cache up (``PLAIN_CAPTURES``:
a ``gitxp run`` of one script pays nothing for it). A working tree of more than ``MAX_ENTRIES`` entries git does
not ignore is not scanned: every run asks git, as before.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitxp.version import treewatch
from gitxp.version.capture import NO_LOCKS, Version, capture, gitxpignore_option

if TYPE_CHECKING:
    from gitxp.git.repo import Repo
    from gitxp.version.treewatch import TreeWatch

__all__ = ["capture_cached", "clear", "STATS"]

MAX_ENTRIES = 20_000
RACY_NS = 100_000_000  # 0.1 s
# the first capture of a repository in a process only asks git: the cache serves the next runs
PLAIN_CAPTURES = 1


@dataclass
class _Known:
    fingerprint: tuple[object, object]  # (the state of the files under .git, the working tree's entries)
    version: Version
    ignored: frozenset[str]  # absolute paths of what git ignores (directories without their trailing "/")
    watch: TreeWatch | None


_CACHE: dict[str, _Known] = {}
_TOO_BIG: set[str] = set()
_PLAIN: dict[str, int] = {}  # repository -> captures done without setting up the cache
STATS = {"hits": 0, "captures": 0, "scans": 0}


def clear() -> None:
    """Forget every cached version (tests, or after changing the tree behind gitxp's back in one process)."""
    for known in _CACHE.values():
        if known.watch is not None:
            known.watch.close()
    _CACHE.clear()
    _TOO_BIG.clear()
    _PLAIN.clear()
    _CONTENTS.clear()


_CONTENTS: dict[str, tuple[tuple[int, int, int, int], bytes]] = {}


def _file_state(path: os.PathLike[str] | str, content: bool) -> object:
    """``stat`` of ``path`` (mtime, size, inode), or with ``content`` its first 4 KiB: read again only when its
    ``stat`` changed (git replaces HEAD and refs by renaming a new file over them: a new inode, a new time)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    state = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    if not content:
        return state[0], state[2], state[3]
    key = os.fspath(path)
    known = _CONTENTS.get(key)
    if known is not None and known[0] == state and time.time_ns() - st.st_mtime_ns > RACY_NS:
        return known[1]
    try:
        with open(path, "rb") as handle:
            data = handle.read(4096)
    except OSError:
        return None
    _CONTENTS[key] = (state, data)
    return data


def _git_state(repo: Repo) -> list[object]:
    """HEAD (content), the index, packed-refs, the ignore rules of this clone (stat), the branch's ref (content),
    and each submodule's HEAD and refs (a commit made in a submodule changes no file of the tree)."""
    head = _file_state(repo.git_dir / "HEAD", True)
    parts: list[object] = [
        head,
        _file_state(repo.git_dir / "index", False),
        _file_state(repo.common_dir / "packed-refs", False),
        _file_state(repo.common_dir / "info" / "exclude", False),
    ]
    parts.append(_ref_state(repo.common_dir, head))
    modules = repo.common_dir / "modules"
    if modules.is_dir():  # submodules: a commit made in one moves its HEAD, and the superproject's version
        for folder, dirs, files in os.walk(modules):  # modules/<name, maybe with slashes>/[modules/<nested>]
            if "HEAD" in files and "objects" in dirs:
                sub_head = _file_state(os.path.join(folder, "HEAD"), True)
                packed = _file_state(os.path.join(folder, "packed-refs"), False)
                parts += [folder, sub_head, packed, _ref_state(Path(folder), sub_head)]
                dirs[:] = ["modules"] if "modules" in dirs else []
    return parts


def _ref_state(git_dir: Path, head: object) -> object:
    """The content of the branch ref a ``HEAD`` content points to (None for a detached HEAD)."""
    if isinstance(head, bytes) and head.startswith(b"ref: "):
        return _file_state(git_dir / head[5:].strip().decode(errors="replace"), True)
    return None


def _ignored(repo: Repo) -> frozenset[str]:
    """What git ignores in the working tree, whole directories as one entry (``ls-files --directory``), and the
    untracked files ``.gitxpignore`` keeps out of the version (logs a script writes into the repository)."""
    assert repo.worktree is not None
    out = repo.git(
        "ls-files", "-z", "--others", "--ignored", "--exclude-standard", *gitxpignore_option(repo), "--directory",
        env=NO_LOCKS,
    )  # fmt: skip
    root = str(repo.worktree)
    return frozenset(os.path.join(root, rel.rstrip("/")) for rel in os.fsdecode(out).split("\0") if rel)


def _fingerprint(
    repo: Repo, now: int, ignored: frozenset[str], watch: TreeWatch | None = None
) -> tuple[tuple[object, object] | None, TreeWatch | None]:
    """Everything the version depends on, or None when it cannot be trusted (racy, or too big to scan); with
    ``watch``, each directory is watched before it is listed (None back if the system refused a watch)."""
    assert repo.worktree is not None
    STATS["scans"] += 1
    parts = _git_state(repo)
    entries: list[tuple[str, int, int, int, int]] = []
    newest = 0
    stack = [str(repo.worktree)]
    while stack:
        folder = stack.pop()
        if watch is not None and not watch.add(folder):
            watch.close()
            watch = None
        try:
            scan = os.scandir(folder)
        except OSError:
            continue
        with scan:
            for entry in scan:
                if entry.name == ".git" or entry.path in ignored:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                entries.append((entry.path, st.st_mtime_ns, st.st_size, st.st_mode, st.st_ino))
                newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
        if len(entries) > MAX_ENTRIES:
            _TOO_BIG.add(str(repo.worktree))
            return None, watch
    for part in parts[1:4]:
        if isinstance(part, tuple):
            newest = max(newest, part[0])
    if newest > now - RACY_NS:
        return None, watch
    entries.sort()
    return (tuple(parts), tuple(entries)), watch


def capture_cached(repo: Repo) -> Version:
    """:func:`gitxp.version.capture.capture`, answered from the cache when nothing it depends on changed."""
    if repo.worktree is None or str(repo.worktree) in _TOO_BIG:
        STATS["captures"] += 1
        return capture(repo)
    key = str(repo.worktree)
    known = _CACHE.get(key)
    if known is None and _PLAIN.get(key, 0) < PLAIN_CAPTURES:
        _PLAIN[key] = _PLAIN.get(key, 0) + 1  # a process that records one run pays nothing for a cache
        STATS["captures"] += 1
        return capture(repo)
    if known is not None:
        if (
            known.watch is not None
            and not known.watch.changed(known.ignored.__contains__)
            and tuple(_git_state(repo)) == known.fingerprint[0]
        ):
            STATS["hits"] += 1  # no event since the last look: nothing in the tree changed
            return known.version
        fingerprint, _ = _fingerprint(repo, time.time_ns(), known.ignored)
        if fingerprint is not None and fingerprint == known.fingerprint:
            STATS["hits"] += 1  # the events were about nothing the version depends on
            return known.version
        if known.watch is not None:
            known.watch.close()
        del _CACHE[key]
    now = time.time_ns()
    ignored = _ignored(repo)
    fingerprint, watch = _fingerprint(repo, now, ignored, treewatch.watch(str(repo.worktree)))
    STATS["captures"] += 1
    version = capture(repo)
    if fingerprint is not None and str(repo.worktree) not in _TOO_BIG:
        _CACHE[key] = _Known(fingerprint, version, ignored, watch)
    elif watch is not None:
        watch.close()
    return version
