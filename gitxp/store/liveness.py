"""Is the process that owns a live run still there? An OS lock, not a pid.

The owner of a run (the process that called ``gitxp.start``, or the ``gitxp run`` wrapper) holds an exclusive
``flock`` on the run's staging directory itself for the life of the run (no file to create and delete per run);
where a file system refuses a lock on a directory (NFS emulates ``flock`` with POSIX locks, which need a file
open for writing), on a ``lock`` file inside it instead. The kernel drops the lock the moment that process dies,
however it dies (kill -9 included), so a reader on the same machine knows at once: lock free = owner gone.
This holds across PID namespaces (a container sharing the repository), where "is pid N alive?" misjudges: a pid
seen from another namespace names a different process, or none.

A reader probes the ``lock`` file when there is one (a run staged by gitxp 0.x before directory locks, or the
fallback above), the directory otherwise. Runs whose owner is on another host (a shared filesystem) fall back to
the heartbeat: dead after it went stale.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["LOCK_NAME", "Held", "hold", "hold_existing", "is_held", "has_lock_file"]

LOCK_NAME = "lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; callers fall back to pids and heartbeats
    fcntl = None  # type: ignore[assignment]


class Held:
    """A lock this process holds on ``folder`` (its directory, or its ``lock`` file); ``close()`` releases it."""

    def __init__(self, fd: int, folder: Path, on_file: bool) -> None:
        self.fd: int | None = fd
        self.folder = folder
        self.on_file = on_file

    def fileno(self) -> int:
        assert self.fd is not None
        return self.fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    @property
    def closed(self) -> bool:
        return self.fd is None


def _lock(fd: int, what: Path) -> None:
    for _attempt in range(100):  # a reader probing the lock holds it shared for a few microseconds
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.01)
    raise BlockingIOError(f"the lock on {what} is held by another process")


def hold(folder: Path) -> Held | None:
    """Take the run's lock on ``folder`` and return what keeps it (close it to release); None where the platform
    has no ``flock``. The descriptor is not inherited by commands the run starts."""
    if fcntl is None:
        return None
    folder = Path(folder)
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        _lock(fd, folder)
        return Held(fd, Path(folder), on_file=False)
    except BlockingIOError:
        os.close(fd)
        raise OSError(f"the lock on {folder} is held by another process") from None
    except OSError:  # no lock on a directory here (NFS): a lock file, as gitxp did before
        os.close(fd)
    fd = os.open(folder / LOCK_NAME, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _lock(fd, folder / LOCK_NAME)
        os.write(fd, str(os.getpid()).encode())
    except OSError:
        os.close(fd)
        raise OSError(f"the lock {folder / LOCK_NAME} is held by another process") from None
    return Held(fd, Path(folder), on_file=True)


def hold_existing(folder: Path) -> Held | None:
    """Lock ``folder`` itself at once, or raise ``OSError`` (held by another process, or gone); None where
    directories cannot be locked (the caller then makes a new folder with ``hold``)."""
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise
    except OSError:
        os.close(fd)
        return None
    return Held(fd, Path(folder), on_file=False)


def has_lock_file(folder: Path) -> bool:
    return os.path.exists(os.path.join(folder, LOCK_NAME))


def is_held(folder: Path) -> bool | None:
    """True while some process holds the run's lock, False when it is free, None when it cannot be told (no
    such folder, or a platform without ``flock``). A free directory lock also means "never locked" (a run
    staged by a gitxp too old to lock): callers that can tell such runs apart do (``StagedRun.is_dead``)."""
    if fcntl is None:
        return None
    folder = Path(folder)
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return None
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
