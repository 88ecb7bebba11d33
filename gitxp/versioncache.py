"""The version of the working tree, captured once per process and re-checked without starting git.

``git status`` costs a process (several ms, far more on a loaded machine) per run; a script that records hundreds
of runs in a loop does not change its code between them. :func:`capture_cached` keeps the last captured
:class:`~gitxp.versioning.Version` of each repository with a fingerprint of everything that could change it:

- ``HEAD``, the ref it points to, ``packed-refs`` and the index (content or ``stat``): commits, checkouts, staging;
- ``stat`` (mtime in ns, size, mode, inode) of every file and directory of the working tree outside ``.git``
  (tracked, untracked and ignored alike: an edit, a new or removed file, a changed ``.gitignore``).

The fingerprint is taken *before* the capture, so a change during the capture makes the next fingerprint differ.
Anything changed within the last ``RACY_NS`` (the file system's timestamps are coarser than ns) is not trusted:
no caching then, as git does for "racily clean" index entries. A working tree of more than ``MAX_ENTRIES`` entries
(a virtualenv or a data set inside the checkout) is not scanned: every run asks git, as before.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from gitxp.versioning import Version, capture

if TYPE_CHECKING:
    from gitxp.repo import Repo

__all__ = ["capture_cached", "clear", "STATS"]

MAX_ENTRIES = 20_000
RACY_NS = 100_000_000  # 0.1 s

_CACHE: dict[str, tuple[object, Version]] = {}
_TOO_BIG: set[str] = set()
STATS = {"hits": 0, "captures": 0}


def clear() -> None:
    """Forget every cached version (tests, or after changing the tree behind gitxp's back in one process)."""
    _CACHE.clear()
    _TOO_BIG.clear()
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


def _fingerprint(repo: Repo, now: int) -> object | None:
    """Everything the version depends on, or None when it cannot be trusted (racy, or too big to scan)."""
    assert repo.worktree is not None
    head = _file_state(repo.git_dir / "HEAD", True)
    parts: list[object] = [head, _file_state(repo.git_dir / "index", False)]
    parts.append(_file_state(repo.common_dir / "packed-refs", False))
    if isinstance(head, bytes) and head.startswith(b"ref: "):
        parts.append(_file_state(repo.common_dir / head[5:].strip().decode(errors="replace"), True))
    entries: list[tuple[str, int, int, int, int]] = []
    newest = 0
    stack = [str(repo.worktree)]
    while stack:
        folder = stack.pop()
        try:
            scan = os.scandir(folder)
        except OSError:
            continue
        with scan:
            for entry in scan:
                if entry.name == ".git":
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
            return None
    for part in parts[1:3]:
        if isinstance(part, tuple):
            newest = max(newest, part[0])
    if newest > now - RACY_NS:
        return None
    entries.sort()
    return (tuple(parts), tuple(entries))


def capture_cached(repo: Repo) -> Version:
    """:func:`gitxp.versioning.capture`, answered from the cache when nothing it depends on changed."""
    if repo.worktree is None or str(repo.worktree) in _TOO_BIG:
        STATS["captures"] += 1
        return capture(repo)
    key = str(repo.worktree)
    fingerprint = _fingerprint(repo, time.time_ns())
    cached = _CACHE.get(key)
    if fingerprint is not None and cached is not None and cached[0] == fingerprint:
        STATS["hits"] += 1
        return cached[1]
    STATS["captures"] += 1
    version = capture(repo)
    if fingerprint is not None:
        _CACHE[key] = (fingerprint, version)
    else:
        _CACHE.pop(key, None)
    return version
