"""Has anything changed in these directories? One system call to answer, through Linux's inotify.

:mod:`gitxp.version.cache` keeps a process's captured version while the working tree is unchanged. Checking that
by ``stat`` of every file costs a millisecond per thousand files, per run; an inotify watch on each directory
answers with one non-blocking ``read``: nothing to read, nothing changed. Any event (a file written, created,
removed, renamed, its mode changed; the event queue overflowing) says "look again", and the caller then compares
its full fingerprint, so a spurious event costs a scan, never a wrong answer.

Linux only (through ``ctypes``, no dependency); elsewhere, or when the system's watch limit
(``fs.inotify.max_user_watches``) is reached, :func:`watch` returns None and callers scan as before. inotify
sees changes made through this machine's kernel: a tree on a network file system (NFS, SMB, FUSE mounts such
as sshfs...) is not watched at all (:func:`remote`): a file edited there from another machine would raise no
event, and the scan it replaces sees it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["TreeWatch", "watch", "remote", "MAX_WATCHES"]

# directories; a bigger tree is scanned instead (and leaves the system's watches to others)
MAX_WATCHES = 4096

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_ONLYDIR, _IN_DONT_FOLLOW = 0x400, 0x800, 0x1000000, 0x2000000
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
    | _IN_DONT_FOLLOW
)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of NUL-padded name
_LIBC: list[Any] = []  # [libc] once loaded; [None] where there is no inotify


def _libc() -> Any:
    if not _LIBC:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            _LIBC.append(libc)
        except (OSError, AttributeError, ImportError):
            _LIBC.append(None)
    return _LIBC[0]


class TreeWatch:
    """inotify watches on a set of directories (added one by one with :meth:`add`, *before* each is listed)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.folders: dict[int, str] = {}  # watch descriptor -> directory

    def add(self, folder: str) -> bool:
        """Watch ``folder`` (not its sub-directories); False when the system refuses (limit reached)."""
        if len(self.folders) >= MAX_WATCHES:
            return False
        wd = _libc().inotify_add_watch(self.fd, os.fsencode(folder), _MASK)
        if wd < 0:
            return False
        self.folders[wd] = folder
        return True

    def changed(self, ignore: Callable[[str], bool] = lambda path: False) -> bool:
        """True when anything happened in a watched directory since the last call, except to paths for which
        ``ignore`` is true (files git ignores: rewriting them changes no version). Reads every pending event."""
        found = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            except OSError:
                return True
            if not data:
                return True
            found = found or any(not ignore(path) for path in self._paths(data))

    def _paths(self, data: bytes) -> Iterable[str]:
        offset = 0
        while offset < len(data):
            wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            folder = self.folders.get(wd)
            if folder is None or not name:
                yield ""  # the queue overflowed, or a watched directory itself changed: never ignored
            else:
                yield os.path.join(folder, os.fsdecode(name))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()


# file systems whose files other machines change without this kernel knowing (inotify stays silent there)
REMOTE = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre", "gpfs", "beegfs"}
)


def remote(path: str, mounts: str | None = None) -> bool:
    """True when ``path`` lies on a network (or FUSE) file system, from ``/proc/self/mounts`` (the text
    ``mounts`` in tests): the longest mount point above ``path`` decides. Unknown (no /proc): not remote."""
    if mounts is None:
        try:
            with open("/proc/self/mounts", encoding="utf-8", errors="replace") as handle:
                mounts = handle.read()
        except OSError:
            return False
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind in REMOTE or kind.startswith("fuse")


def watch(root: str | None = None) -> TreeWatch | None:
    """A new, empty watch (for the tree at ``root``); None where inotify is not available, or when ``root`` is on
    a network file system (edits made on another machine raise no event: callers scan)."""
    libc = _libc()
    if libc is None or (root is not None and remote(root)):
        return None
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    return TreeWatch(fd) if fd >= 0 else None
