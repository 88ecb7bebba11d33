"""Is the process that owns a live run still there? An OS lock, not a pid.

The owner of a run (the process that called ``gitxp.start``, or the ``gitxp run`` wrapper) holds an exclusive
``flock`` on ``<staging>/<run>/lock`` for the life of the run. The kernel drops the lock the moment that process
dies, however it dies (kill -9 included), so a reader on the same machine knows at once: lock free = owner gone.
This holds across PID namespaces (a container sharing the repository), where "is pid N alive?" misjudges: a pid
seen from another namespace names a different process, or none.

Runs whose owner is on another host (a shared filesystem) fall back to the heartbeat: dead after it went stale.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

__all__ = ["LOCK_NAME", "hold", "is_held"]

LOCK_NAME = "lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; callers fall back to pids and heartbeats
    fcntl = None  # type: ignore[assignment]


def hold(folder: Path) -> IO[bytes] | None:
    """Take the run's lock in ``folder`` and return the open file that keeps it (close it to release); None
    where the platform has no ``flock``. The descriptor is not inherited by commands the run starts."""
    if fcntl is None:
        return None
    handle = open(folder / LOCK_NAME, "wb")  # noqa: SIM115 - held open for the life of the run
    for _attempt in range(100):  # a reader probing the lock holds it shared for a few microseconds
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            handle.close()
            raise
    else:
        handle.close()
        raise OSError(f"the lock {folder / LOCK_NAME} is held by another process")
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


def is_held(folder: Path) -> bool | None:
    """True while some process holds the run's lock, False when it is free, None when there is no lock file
    (a run staged by an older gitxp, or a platform without ``flock``): then the caller must judge otherwise."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
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
