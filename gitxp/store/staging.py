"""A live run's staging directory (``.git/gitxp/staging/<id>/``) and how to tell whether its owner is alive."""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.store import liveness
from gitxp.store.schema import GROUPS, HOST
from gitxp.version.secrets import mask_record

if TYPE_CHECKING:
    import pyarrow as pa

STALE_AFTER = float(os.environ.get("GITXP_STALE_AFTER", 120.0))

# ---------------------------------------------------------------------- process liveness


def _stat(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields if len(fields) > 19 else None


def pid_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (distinguishes a reused pid), where /proc exists."""
    fields = _stat(pid)
    return None if fields is None else fields[19].decode()


_OWN_START: dict[int, str | None] = {}


def own_pid_start() -> str | None:
    """``pid_start`` of this process, read once per process (a forked child has its own pid, hence the key)."""
    pid = os.getpid()
    if pid not in _OWN_START:
        _OWN_START[pid] = pid_start(pid)
    return _OWN_START[pid]


def process_alive(pid: int, start: str | None, *, zombie_alive: bool = True) -> bool:
    """Whether ``pid`` still is the process that started at ``start`` (its kernel start time; None: any process
    with that pid). Where /proc cannot tell, a process that exists counts as alive. A zombie (exited, not yet
    reaped by its parent) counts as alive unless ``zombie_alive`` is False (``gitxp cancel`` waiting for it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is None and zombie_alive:
        return True
    fields = _stat(pid)
    if fields is None:
        return True
    if not zombie_alive and fields[0] in (b"Z", b"X"):
        return False
    return start is None or fields[19].decode() == start


# ---------------------------------------------------------------------- tables


def _write_new(path: str, data: bytes, flags: int) -> None:
    """Write ``data`` to a file opened with ``flags`` (plain system calls: ``open()``'s file object adds four)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


_EXCHANGE: list[Any] = []  # [renameat2] once looked up; [None] where there is none


def _exchange(a: str, b: str) -> bool:
    """Swap the files ``a`` and ``b`` atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where the system
    or the file system cannot (then the caller renames, as everywhere else)."""
    if not _EXCHANGE:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            function = libc.renameat2
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            _EXCHANGE.append(function)
        except (OSError, AttributeError, ImportError):
            _EXCHANGE.append(None)
    function = _EXCHANGE[0]
    if function is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if function(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    import ctypes

    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        _EXCHANGE[0] = None  # not on this system or file system: rename from now on
    return False


def write_json(path: Path, data: Any) -> None:
    """Replace ``path`` by ``data`` as JSON atomically. The new content is written to a spare file that then
    swaps places with ``path`` (the spare keeps the old content for the next write): no inode is created or
    freed, which some file systems make expensive (see gitxp.store.recycle). Where files cannot be swapped, or
    ``path`` does not exist yet, the spare is renamed over ``path``."""
    folder, name = os.path.split(path)
    spare = os.path.join(folder, f".{name}.{os.getpid()}.spare")
    _write_new(spare, json.dumps(data, allow_nan=True).encode("ascii"), os.O_TRUNC)  # ASCII: ensure_ascii
    if not _exchange(spare, os.fspath(path)):
        os.replace(spare, path)


# ---------------------------------------------------------------------- staged runs


class CorruptRecord(ValueError):
    """A staging entry that is not a record gitxp wrote (it is quarantined, never allowed to block reads)."""


def _record_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return f"record.json holds a {type(record).__name__}, not an object"
    if not isinstance(record.get("run_id"), str) or not isinstance(record.get("started"), (int, float)):
        return "record.json lacks its run_id or started time"
    for group in GROUPS:
        if not isinstance(record.get(group, {}), dict):
            return f"record.json's {group} is not an object"
    if record.get("pid") is not None and not isinstance(record["pid"], int):
        return "record.json's pid is not a number"
    if not isinstance(record.get("experiment"), str):
        return "record.json's experiment is not a string"
    return None


@dataclass
class StagedRun:
    """A run's staging directory: the durable state of a live (or dead, not yet committed) run.

    The process that owns the run keeps ``lock`` (see gitxp.store.liveness) until the run has ended."""

    path: Path
    lock: Any = field(default=None, compare=False, repr=False)
    final: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """The final record as its owner just wrote it (the committer in the same process takes it from here)."""

    def release(self) -> None:
        """Let go of the run's liveness lock (the run has ended and its final record is written)."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    def last_sign_of_life(self, started: float) -> float:
        """When the owner was last seen: the newest of its heartbeat and of the files it writes, never before
        ``started``."""
        times = [started]
        for name in ("heartbeat", "record.json", "metrics.arrows", "stdout.log"):
            try:
                times.append((self.path / name).stat().st_mtime)
            except FileNotFoundError:
                pass
        return max(times)

    @property
    def run_id(self) -> str:
        return self.path.name

    def read_record(self) -> dict[str, Any] | None:
        """The staged record; None when there is none (yet); ``CorruptRecord`` when it is not one gitxp wrote."""
        try:
            record = json.loads((self.path / "record.json").read_text())
        except FileNotFoundError:
            return None
        except (ValueError, OSError, UnicodeDecodeError) as error:
            raise CorruptRecord(f"unreadable record.json: {error}") from None
        problem = _record_problem(record)
        if problem:
            raise CorruptRecord(problem)
        return record

    def write_first_record(self, record: Mapping[str, Any], *, recycled: bool) -> None:
        """Write the run's first record while its owner holds the lock: created in place (one file operation
        fewer than a replace), or written over the previous run's record in a ``recycled`` directory (see
        gitxp.store.recycle). One cut short by a kill -9 is moved aside like any unreadable record (the run had
        recorded nothing yet)."""
        flags = os.O_TRUNC if recycled else os.O_EXCL
        data = json.dumps(mask_record(record), allow_nan=True).encode("ascii")
        _write_new(str(self.path / "record.json"), data, flags)

    def write_record(self, record: Mapping[str, Any], *, first: bool = False) -> None:
        """Replace the staged record atomically. The ``first`` record of a run whose liveness lock is held is
        created in place instead (one file operation fewer per run): until it is complete its owner holds the
        lock, so readers skip it as not theirs to judge, and one cut short by a kill -9 is moved aside like any
        unreadable record (the run had recorded nothing yet)."""
        path = self.path / "record.json"
        record = mask_record(record)  # no secret reaches the disk (gitxp.version.secrets)
        if first and self.lock is not None:
            _write_new(str(path), json.dumps(record, allow_nan=True).encode("ascii"), os.O_EXCL)
        else:
            write_json(path, record)

    def ended(self, record: Mapping[str, Any]) -> None:
        """Keep a copy of the final ``record`` just written, for the committer (no need to read it back)."""
        self.final = {k: dict(v) if isinstance(v, dict) else v for k, v in mask_record(record).items()}

    def touch(self) -> None:
        """Show a sign of life: the ``heartbeat`` file's time (created on the first beat)."""
        try:
            os.utime(self.path / "heartbeat")
        except FileNotFoundError:
            try:
                (self.path / "heartbeat").touch()
            except FileNotFoundError:
                pass  # the run was committed meanwhile: its directory is gone

    def heartbeat(self) -> float:
        """When the owner last showed a sign of life: the ``heartbeat`` file's time, or before its first beat
        the directory's own time (set when the run was staged and each time its record is replaced; a file
        per run fewer to create and delete for a short run)."""
        try:
            return (self.path / "heartbeat").stat().st_mtime
        except FileNotFoundError:
            try:
                return self.path.stat().st_mtime
            except FileNotFoundError:
                return 0.0

    def is_dead(self, record: Mapping[str, Any]) -> bool:
        """True when the process that owns this live run is gone: its liveness lock is free (this machine), or
        its heartbeat went stale (another host, or a run staged without a lock)."""
        held = liveness.is_held(self.path)
        if held:
            return False
        if record.get("host") == HOST:
            if held is False and (record.get("lock") or liveness.has_lock_file(self.path)):
                return True
            if record.get("pid"):  # staged by an older gitxp
                return not process_alive(int(record["pid"]), record.get("pid_start"))
        return time.time() - self.heartbeat() > STALE_AFTER

    def metrics_table(self) -> pa.Table | None:
        """The curves logged so far; a chunk cut short by a crash is dropped, earlier chunks are kept. The points
        are in ``metrics.arrows`` and, after a write failed (a full disk), ``metrics.<n>.arrows`` in order."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        paths = [self.path / "metrics.arrows"]
        part = 1
        while (self.path / f"metrics.{part}.arrows").exists():
            paths.append(self.path / f"metrics.{part}.arrows")
            part += 1
        batches = []
        for path in paths:
            if not path.exists() or path.stat().st_size == 0:
                continue
            try:
                with pa.OSFile(str(path)) as source:
                    reader = ipc.open_stream(source)
                    while True:
                        try:
                            batches.append(reader.read_next_batch())
                        except StopIteration:
                            break
            except (pa.ArrowInvalid, OSError):
                pass  # truncated tail: keep the complete chunks read so far
        if not batches:
            return None
        return pa.Table.from_batches(batches)
