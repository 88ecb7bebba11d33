"""The run store: staged on disk while runs are live, committed as Parquet files to a git ref when they end.

Layout of ``refs/gitxp/runs`` (a normal commit history; ``git log refs/gitxp/runs`` shows every recording)::

    gitxp.json                                  {"schema": 1}
    runs/<id[-1]>/<id[-2]>/<id>/run.parquet     one row: run_id, experiment, version, ..., params.*, meta.*, results.*
    runs/<id[-1]>/<id[-2]>/<id>/metrics.parquet long curves: step, name, value, time
    runs/<id[-1]>/<id[-2]>/<id>/diff.patch      the uncommitted changes the run used (when dirty)
    runs/<id[-1]>/<id[-2]>/<id>/stdout.log      captured output (wrapper runs)

Every run owns its own files, so two stores merge as a plain union of trees. Runs are sharded two levels deep on
their random last characters, so each commit rewrites only a few small trees whatever the size of the store.

Inside ``.git/gitxp/`` (the common dir, shared by linked worktrees):

- ``staging/<id>/``: a live run. ``record.json`` (params, meta, results, status; replaced atomically),
  ``metrics.arrows`` (an Arrow IPC stream appended one chunk at a time), ``diff.patch``, ``heartbeat``. A kill -9
  leaves these behind; readers find the dead pid or stale heartbeat and commit the run as ``crashed``.
- ``cache/runs.parquet``: every committed run in one wide table, keyed by the ref's commit and updated
  incrementally (only runs added since the cached commit are read from git). Listing reads this one file.
- ``store.lock``: serialises writers on one machine; the ref update itself is a compare-and-swap, so writers on
  other machines (or a lock timeout) can never lose runs.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import shutil
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp import liveness
from gitxp.errors import GitxpWarning, RunNotFoundError, StoreError
from gitxp.ids import is_run_id
from gitxp.repo import Repo

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Store", "REF", "SCHEMA_VERSION", "BASE_COLUMNS", "FINAL_STATUSES", "run_path"]

REF = "refs/gitxp/runs"
SCHEMA_VERSION = 1
CACHE_VERSION = 2
BLOB = "_blob"  # in the cache and in packs: the git blob of the run file a row was read from
BASE_COLUMNS = (
    "run_id",
    "experiment",
    "version",
    "commit",
    "branch",
    "status",
    "started",
    "ended",
    "duration",
)
GROUPS = ("params", "results", "meta")
DETACHED = "slurm.detached"  # meta flag of a trial left to its Slurm job (gitxp.executors.slurm)
FINAL_STATUSES = ("finished", "failed", "interrupted", "crashed", "pruned", "cancelled")
STALE_AFTER = float(os.environ.get("GITXP_STALE_AFTER", 120.0))
LOCK_TIMEOUT = float(os.environ.get("GITXP_LOCK_TIMEOUT", 120.0))
HOST = socket.gethostname()


_RUN_FILES = {"run.parquet", "metrics.parquet", "diff.patch", "stdout.log", "artifacts.json"}


def valid_path(path: str) -> bool:
    """Whether a path on the ref is one gitxp writes: ``runs/<c>/<b>/<run id>/<file>``, ``packs/<hex>.parquet``,
    ``gitxp.json`` (a run id is 26 characters of the ULID alphabet, and ``c``, ``b`` its last two)."""
    parts = path.split("/")
    if parts == ["gitxp.json"]:
        return True
    if len(parts) == 2 and parts[0] == "packs":
        return bool(re.fullmatch(r"[0-9a-f]{8,64}\.parquet", parts[1]))
    if len(parts) == 5 and parts[0] == "runs":
        run_id = parts[3]
        return (
            is_run_id(run_id) and parts[1] == run_id[-1] and parts[2] == run_id[-2] and parts[4] in _RUN_FILES
        )
    if (
        len(parts) > 5 and parts[0] == "runs" and parts[4] == "artifacts"
    ):  # gitxp.artifacts: .../artifacts/<name>
        run_id = parts[3]
        names_ok = all(p not in ("", ".", "..") for p in parts[5:])
        return is_run_id(run_id) and parts[1] == run_id[-1] and parts[2] == run_id[-2] and names_ok
    return parts[0] not in ("runs", "packs") and ".." not in parts and not path.startswith("/")


def check_incoming(entries: Iterable[tuple[str, str, str]]) -> None:
    """Refuse a store to merge (e.g. pulled from a clone) that holds a path gitxp would never write."""
    for _kind, _sha, path in entries:
        if not valid_path(path):
            raise StoreError(
                f"refusing to merge: the incoming store holds {path!r}, which is not a gitxp run file "
                "(run ids are 26 characters of 0-9a-z without i, l, o, u); nothing was merged"
            )


def run_path(run_id: str) -> str:
    """The directory of a run inside the store's tree."""
    return f"runs/{run_id[-1]}/{run_id[-2]}/{run_id}"


# ---------------------------------------------------------------------- process liveness


def _pid_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (distinguishes a reused pid), where /proc exists."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or _pid_start(pid) in (None, start)


# ---------------------------------------------------------------------- tables


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, allow_nan=True))
    os.replace(tmp, path)


def _ts_array(values: list[float | None]) -> pa.Array:
    import pyarrow as pa

    return pa.array(
        [None if v is None else round(v * 1_000_000) for v in values], pa.timestamp("us", tz="UTC")
    )


def record_table(record: Mapping[str, Any]) -> pa.Table:
    """The one-row wide table of a run record (the format of ``run.parquet``)."""
    import pyarrow as pa

    columns: dict[str, pa.Array] = {}
    for name in BASE_COLUMNS:
        value = record.get(name)
        if name in ("started", "ended"):
            columns[name] = _ts_array([value])
        elif name == "duration":
            columns[name] = pa.array([value], pa.float64())
        else:
            columns[name] = pa.array([value], pa.string())
    for group in GROUPS:
        for key in sorted(record.get(group) or {}):
            value = record[group][key]
            try:
                columns[f"{group}.{key}"] = pa.array([value])
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise TypeError(f"{group} {key!r}: cannot store {value!r}: {error}") from error
    return pa.table(columns, metadata={"gitxp.schema": str(SCHEMA_VERSION)})


def _column_order(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    base = [n for n in BASE_COLUMNS if n in names]
    rest = [n for n in names if n not in BASE_COLUMNS]
    order = {g: i for i, g in enumerate(GROUPS)}
    rest.sort(key=lambda n: (order.get(n.split(".", 1)[0], len(GROUPS)), n))
    return base + rest


def _unified_type(types: list[pa.DataType]) -> pa.DataType:
    import pyarrow as pa

    real = [t for t in dict.fromkeys(types) if not pa.types.is_null(t)]
    if not real:
        return pa.null()
    if len(real) == 1:
        return real[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) for t in real):
        if all(pa.types.is_integer(t) or pa.types.is_boolean(t) for t in real):
            return pa.int64()
        return pa.float64()
    return pa.string()


def _as_type(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    import pyarrow as pa

    if column.type == target:
        return column
    if pa.types.is_string(target) and (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        values = [None if v is None else json.dumps(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    return column.cast(target)


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Concatenate run tables whose columns differ: missing columns become nulls, clashing types are unified
    (ints and floats to float, anything else mixed to string)."""
    import pyarrow as pa

    tables = [t for t in tables if t.num_columns]
    if not tables:
        return empty_table()
    try:
        merged = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        types: dict[str, list[pa.DataType]] = {}
        for table in tables:
            for field in table.schema:
                types.setdefault(field.name, []).append(field.type)
        target = {name: _unified_type(ts) for name, ts in types.items()}
        aligned = []
        for table in tables:
            cols = {name: _as_type(table[name], target[name]) for name in table.column_names}
            aligned.append(pa.table(cols))
        merged = pa.concat_tables(aligned, promote_options="permissive")
    return merged.select(_column_order(merged.column_names)).combine_chunks()


def empty_table() -> pa.Table:
    return record_table({}).slice(0, 0)


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

    The process that owns the run keeps ``lock`` (see gitxp.liveness) until the run has ended."""

    path: Path
    lock: Any = field(default=None, compare=False, repr=False)

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
        return record  # type: ignore[no-any-return]

    def write_record(self, record: Mapping[str, Any]) -> None:
        _write_json(self.path / "record.json", record)

    def touch(self) -> None:
        try:
            os.utime(self.path / "heartbeat")
        except FileNotFoundError:
            pass

    def heartbeat(self) -> float:
        try:
            return (self.path / "heartbeat").stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def is_dead(self, record: Mapping[str, Any]) -> bool:
        """True when the process that owns this live run is gone: its liveness lock is free (this machine), or
        its heartbeat went stale (another host, or a run staged without a lock)."""
        held = liveness.is_held(self.path)
        if held is not None and record.get("host") == HOST:
            return not held
        if held:
            return False
        if record.get("host") == HOST and record.get("pid") and held is None:
            return not _alive(int(record["pid"]), record.get("pid_start"))  # staged by an older gitxp
        return time.time() - self.heartbeat() > STALE_AFTER

    def metrics_table(self) -> pa.Table | None:
        """The curves logged so far; a chunk cut short by a crash is dropped, earlier chunks are kept."""
        path = self.path / "metrics.arrows"
        if not path.exists() or path.stat().st_size == 0:
            return None
        import pyarrow as pa
        import pyarrow.ipc as ipc

        batches = []
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


# ---------------------------------------------------------------------- background commits


class _Committer:
    """Commits ended runs to the ref from a background thread, many per commit.

    A run is durable (and listed) as soon as its final record is staged; the commit follows within milliseconds.
    Batching whatever ended while the previous commit was being written keeps a loop of short runs from paying
    one ``git fast-import`` per run. ``flush()`` waits for everything submitted; it runs at interpreter exit and
    before this process reads the store. If the process dies first, the next reader commits the staged runs.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: list[StagedRun] = []
        self.busy = False
        self.errors: list[BaseException] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, staged: StagedRun) -> None:
        with self.cond:
            self.pending.append(staged)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="gitxp-committer", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                batch, self.pending, self.busy = self.pending, [], True
            try:
                self.store.commit(batch)
            except BaseException as error:  # runs stay staged; recover() commits them later
                self.errors.append(error)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def flush(self) -> None:
        with self.cond:
            while self.pending or self.busy:
                self.cond.wait()
            errors, self.errors = self.errors, []
        if errors:
            import warnings

            warnings.warn(
                f"gitxp: could not commit runs (they stay staged and will be retried): {errors[-1]}",
                GitxpWarning,
                stacklevel=2,
            )


_committers: dict[str, _Committer] = {}


def flush_all() -> None:
    """Wait until every run ended in this process is committed."""
    for committer in list(_committers.values()):
        committer.flush()


def _forget_committers() -> None:  # a forked child has none of its parent's threads
    _committers.clear()


atexit.register(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_committers)


# ---------------------------------------------------------------------- the store


class Store:
    """Runs of one repository: staging directory, ref and read cache."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.detach_commits = False
        self.root = repo.common_dir / "gitxp"
        self.staging = self.root / "staging"
        self.cache_dir = self.root / "cache"

    # -------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = False) -> Store:
        """The store of the git repository containing ``path`` (default: the current directory).

        Outside any repository, the store is a private bare repository in ``./.gitxp``: used if it exists,
        created when ``create`` (runs recorded with ``git=False`` / ``--no-git``), an error otherwise.
        """
        from gitxp.errors import NotARepositoryError

        try:
            return cls(Repo.discover(path))
        except NotARepositoryError:
            fallback = Path(path or os.getcwd()) / ".gitxp"
            if not create and not (fallback / "HEAD").exists():
                raise
            return cls(Repo.init_bare(fallback))

    def lock(self) -> Any:
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "store.lock"), timeout=LOCK_TIMEOUT)

    def head(self) -> str | None:
        return self.repo.read_ref(REF)

    def commit_later(self, staged: StagedRun) -> None:
        """Queue an ended run for the background committer (see ``_Committer``).

        With ``detach_commits`` (set by ``gitxp run`` for a single run) and pyarrow not loaded yet, a detached
        ``python -m gitxp._commit`` process writes the commit instead, so that the wrapper exits without paying for
        importing pyarrow (~0.1 s); the run is already durable in staging, and listed, when the wrapper returns.
        """
        if self.detach_commits and "pyarrow" not in sys.modules and not os.environ.get("GITXP_SYNC"):
            import subprocess

            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gitxp._commit",
                    str(self.repo.worktree or self.repo.git_dir),
                    staged.run_id,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
            return
        key = str(self.root)
        committer = _committers.get(key)
        if committer is None:
            committer = _committers[key] = _Committer(self)
        committer.submit(staged)

    def flush(self) -> None:
        committer = _committers.get(str(self.root))
        if committer is not None:
            committer.flush()

    # -------------------------------------------------------------- staging

    def stage(self, record: Mapping[str, Any], patch: bytes) -> StagedRun:
        """Create the staging directory of a new run."""
        staged = StagedRun(self.staging / record["run_id"])
        staged.path.mkdir(parents=True)
        staged.lock = liveness.hold(staged.path)  # before the record: a reader never sees a lockless live run
        if patch:
            (staged.path / "diff.patch").write_bytes(patch)
        (staged.path / "heartbeat").touch()
        staged.write_record(record)
        return staged

    def staged_runs(self) -> list[StagedRun]:
        try:
            names = sorted(os.listdir(self.staging))
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for name in names:
            if name.startswith("."):
                continue
            if not (self.staging / name).is_dir():
                self.quarantine(self.staging / name, "not a staging directory")
                continue
            out.append(StagedRun(self.staging / name))
        return out

    def quarantine(self, path: Path, why: str) -> None:
        """Move a bad staging entry aside to ``staging/.corrupt/`` (nothing is deleted) and say so once."""
        target = self.staging / ".corrupt" / path.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target = target.with_name(f"{path.name}.{time.time_ns()}")
            path.rename(target)
        except OSError:
            return
        warnings.warn(
            f"gitxp: moved the staging entry {path.name} aside to {target} ({why}); the other runs are unaffected",
            GitxpWarning,
            stacklevel=3,
        )

    def _record_or_quarantine(self, item: StagedRun) -> dict[str, Any] | None:
        try:
            return item.read_record()
        except CorruptRecord as error:
            if liveness.is_held(item.path):
                return None  # its owner is alive and writing: not ours to judge
            self.quarantine(item.path, str(error))
            return None

    # -------------------------------------------------------------- committing

    def _files_for(
        self, staged: StagedRun, record: Mapping[str, Any], extra: list[pa.Table] | None = None
    ) -> dict[str, bytes]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        base = run_path(record["run_id"])
        sink = pa.BufferOutputStream()
        # Uncompressed: a one-row file gains nothing from compression and parses 3x faster without it.
        pq.write_table(record_table(record), sink, compression="none")
        files = {f"{base}/run.parquet": sink.getvalue().to_pybytes()}
        metrics = staged.metrics_table()
        if extra:
            metrics = concat_tables([t for t in (metrics, *extra) if t is not None])
        if metrics is not None:
            sink = pa.BufferOutputStream()
            pq.write_table(metrics, sink, compression="zstd")
            files[f"{base}/metrics.parquet"] = sink.getvalue().to_pybytes()
        for name in ("diff.patch", "stdout.log"):
            if (staged.path / name).exists():
                files[f"{base}/{name}"] = (staged.path / name).read_bytes()
        if (staged.path / "artifacts.json").exists():
            from gitxp.artifacts import committed_files

            files.update(committed_files(staged.path, base))
        return files

    def commit(self, staged: list[StagedRun], *, crashed: Iterable[str] = ()) -> None:
        """Commit staged runs to the ref in one commit and remove their staging directories.

        Runs named in ``crashed`` are recorded with status ``crashed`` (their process died mid-run).
        """
        crashed = set(crashed)
        with self.lock():
            files: dict[str, bytes] = {}
            done = []
            for item in staged:
                try:
                    record = item.read_record()
                except CorruptRecord as error:
                    self.quarantine(item.path, str(error))
                    continue
                if record is None:
                    continue  # already committed by someone else, or never initialised
                extra: list[pa.Table] = []
                if item.run_id in crashed:
                    from gitxp.attached import fold

                    ended = item.last_sign_of_life(record["started"])
                    record.update(status="crashed", ended=ended, duration=ended - record["started"])
                    record.setdefault("meta", {})["error"] = (
                        "process died without recording an end (crash, kill -9 or power loss)"
                    )
                    # what the wrapped command recorded through the API before its wrapper died
                    extra = fold(
                        record,
                        item.path / "attached",
                        experiment_given=bool(record.get("experiment_given")),
                        remove=False,
                    )
                try:
                    files.update(self._files_for(item, record, extra))
                except Exception as error:  # a value no Parquet file can hold: never block the other runs
                    self.quarantine(item.path, f"cannot be stored: {type(error).__name__}: {error}")
                    continue
                done.append(record)
            if not done:
                return
            what = done[0]["run_id"] if len(done) == 1 else f"{len(done)} runs"
            message = f"gitxp: record {what}\n\n" + "".join(
                f"{r['run_id']} {r.get('experiment')} {r.get('status')} {r.get('version')}\n" for r in done
            )
            self._commit_files(files, message)
            for item in staged:
                shutil.rmtree(item.path, ignore_errors=True)

    def _commit_files(
        self,
        files: Mapping[str, bytes | str],
        message: str,
        *,
        merge: str | None = None,
        delete: Iterable[str] = (),
    ) -> str:
        files = {"gitxp.json": json.dumps({"schema": SCHEMA_VERSION}).encode() + b"\n", **files}
        delete = list(delete)
        for attempt in range(50):
            parent = self.head()
            sha = self.repo.commit_files(REF, parent, files, message, merge=merge, delete=delete)
            if sha is not None:
                return sha
            time.sleep(random.uniform(0.001, 0.02) * (attempt + 1))
        raise StoreError(
            f"could not update {REF}: it kept moving under concurrent writers; your runs are still staged in {self.staging}"
        )

    def recover(self) -> int:
        """Commit staged runs whose process is gone (as ``crashed``) or which ended but were not committed."""
        dead, finished = [], []
        for item in self.staged_runs():
            record = self._record_or_quarantine(item)
            if record is None:
                if time.time() - item.heartbeat() > STALE_AFTER and not liveness.is_held(item.path):
                    shutil.rmtree(item.path, ignore_errors=True)  # never got past creation
                continue
            if (record.get("meta") or {}).get(DETACHED) and record.get("status") in ("queued", "running"):
                continue  # left to Slurm by `gitxp run --detach`: `gitxp collect` records it when its job ends
            if record.get("status") in FINAL_STATUSES:
                if item.is_dead(record):
                    finished.append(item)
            elif item.is_dead(record):
                dead.append(item)
        if dead or finished:
            self.commit(dead + finished, crashed=[d.run_id for d in dead])
        return len(dead) + len(finished)

    # -------------------------------------------------------------- merging stores

    def merge(self, other: str) -> int:
        """Merge another store's commit (e.g. fetched from a clone) into ours as a union of runs.

        Runs only the other side has are added; runs both sides have keep our copy. Returns the number added.
        """
        self.flush()
        check_incoming(self.repo.ls_tree(other))
        ours = self.head()
        if ours is None:
            self.repo.git("update-ref", "-m", "gitxp: merge", REF, other, ZERO)
            return len([p for _k, _s, p in self.repo.ls_tree(other, "runs") if p.endswith("/run.parquet")])
        if self.repo.run(["merge-base", "--is-ancestor", other, ours], check=False).returncode == 0:
            return 0
        theirs = {p: s for _k, s, p in self.repo.ls_tree(other, "runs", "packs")}
        mine = {p for _k, _s, p in self.repo.ls_tree(ours, "runs", "packs")}
        new_runs = {p.rsplit("/", 1)[0] for p in theirs if p not in mine and p.endswith("/run.parquet")}
        files = {
            p: s
            for p, s in theirs.items()
            if p.rsplit("/", 1)[0] in new_runs or (p.startswith("packs/") and p not in mine)
        }
        with self.lock():
            self._commit_files(files, f"gitxp: merge {len(new_runs)} runs from {other[:12]}", merge=other)
        return len(new_runs)

    # -------------------------------------------------------------- reading

    def committed_table(self) -> pa.Table:
        """All committed runs as one wide table, from the incrementally maintained cache."""
        table = self._indexed_table()
        table = table.drop_columns([BLOB]) if BLOB in table.column_names else table
        if table.num_rows and "run_id" in table.column_names:
            import pyarrow.compute as pc

            valid = pc.fill_null(
                pc.match_substring_regex(table["run_id"], r"^[0-9a-hjkmnp-tv-z]{26}$"), False
            )
            if not pc.all(valid).as_py():
                bad = table.filter(pc.invert(valid))["run_id"].to_pylist()
                warnings.warn(
                    f"gitxp: ignoring {len(bad)} run(s) with a malformed run id in {REF} (e.g. {bad[0]!r})",
                    GitxpWarning,
                    stacklevel=2,
                )
                table = table.filter(valid)
        return table

    def _parse_runs(self, entries: list[tuple[str, str]]) -> list[pa.Table]:
        """Parse ``(blob sha, path)`` run files (one ``cat-file --batch``), tagging each row with its blob."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = []
        for (sha, path), blob in zip(entries, self.repo.read_blobs(s for s, _p in entries)):
            try:
                table = pq.ParquetFile(pa.BufferReader(blob)).read(use_threads=False)
            except (pa.ArrowInvalid, OSError) as error:
                import warnings

                warnings.warn(
                    f"gitxp: skipping unreadable run file {path} in {REF}: {error}",
                    GitxpWarning,
                    stacklevel=2,
                )
                continue
            out.append(table.append_column(BLOB, pa.array([sha] * table.num_rows, pa.string())))
        return out

    def _cold_tables(self, head: str) -> list[pa.Table]:
        """Every run of commit ``head``: rows of the packs whose run file is unchanged since it was packed, plus
        the run files no pack covers."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        entries = self.repo.ls_tree(head, "runs", "packs")
        runs = {
            p.rsplit("/", 2)[-2]: (s, p)
            for k, s, p in entries
            if p.startswith("runs/") and p.endswith("/run.parquet")
        }
        packs = [s for k, s, p in entries if p.startswith("packs/") and p.endswith(".parquet")]
        parts: list[pa.Table] = []
        covered: set[str] = set()
        readable = []
        if packs:
            for sha, blob in zip(packs, self.repo.read_blobs(packs)):
                try:
                    readable.append(pq.read_table(pa.BufferReader(blob)))
                except (pa.ArrowInvalid, OSError) as error:
                    warnings.warn(
                        f"gitxp: pack {sha[:12]} on {REF} is damaged ({str(error).splitlines()[0]}); its runs are "
                        "read from their own files instead. 'gitxp gc' writes a new pack",
                        GitxpWarning,
                        stacklevel=2,
                    )
        if packs and readable:
            packed = concat_tables(readable)
            current = pa.array([f"{rid}:{sha}" for rid, (sha, _p) in runs.items()], pa.string())
            key = pc.binary_join_element_wise(packed["run_id"], packed[BLOB], ":")
            packed = packed.filter(pc.is_in(key, value_set=current))
            first: dict[str, int] = {}
            for i, rid in enumerate(packed["run_id"].to_pylist()):
                first.setdefault(rid, i)  # overlapping packs (merged from clones): one row per run
            packed = packed.take(pa.array(sorted(first.values()), pa.int64()))
            covered = set(first)
            parts.append(packed)
        parts += self._parse_runs([entry for rid, entry in runs.items() if rid not in covered])
        return parts

    def _check_store(self, head: str) -> None:
        """Say so when the ref holds something that is not a gitxp store (instead of listing "no runs")."""
        if not self.repo.ls_tree(head, "gitxp.json"):
            warnings.warn(
                f"gitxp: {REF} points at commit {head[:12]}, which is not a gitxp store (no gitxp.json in its "
                f"tree); repair it with 'git update-ref {REF} <a store commit from git reflog {REF}>' or delete it",
                GitxpWarning,
                stacklevel=3,
            )

    def _indexed_table(self) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        head = self.head()
        if head is None:
            return empty_table()
        cache_file = self.cache_dir / "runs.parquet"
        if not cache_file.exists():  # a cold read: check once that the ref is a store at all
            self._check_store(head)
        state_file = self.cache_dir / "state.json"
        if self.cache_dir.exists() and not self.cache_dir.is_dir():
            self.cache_dir.unlink()  # derived data only: rebuilt below
        try:
            state = json.loads(state_file.read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError, OSError):
            state = {}
        if not isinstance(state, dict) or not all(
            isinstance(state.get(k, ""), (str, int)) for k in ("ref", "cache")
        ):
            state = {}
        cached = None
        if state.get("cache") == CACHE_VERSION and cache_file.exists():
            if state.get("ref") == head:
                try:
                    return pq.read_table(cache_file)
                except (OSError, pa.ArrowInvalid):
                    pass
            elif state.get("ref") and self.repo.has_object(state["ref"]):
                try:
                    cached = pq.read_table(cache_file)
                except (OSError, pa.ArrowInvalid):
                    cached = None
        if cached is not None:
            changed = [
                (s, p)
                for _st, s, p in self.repo.changed_paths(state["ref"], head)
                if p.endswith("/run.parquet")
            ]
            new = self._parse_runs(changed)
            if new and cached.num_rows:
                import pyarrow.compute as pc

                ids = pa.array([p.rsplit("/", 2)[-2] for _s, p in changed])
                cached = cached.filter(pc.invert(pc.is_in(cached["run_id"], value_set=ids)))
            parts = ([cached] if cached.num_rows else []) + new
        else:
            parts = self._cold_tables(head)
        table = concat_tables(parts)
        if table.num_rows and "started" in table.column_names:
            table = table.sort_by([("started", "ascending"), ("run_id", "ascending")])
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".runs.{os.getpid()}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, cache_file)
        _write_json(state_file, {"ref": head, "schema": SCHEMA_VERSION, "cache": CACHE_VERSION})
        return table

    # -------------------------------------------------------------- packs

    def pack(self, *, min_new: int = 0) -> int:
        """Write every committed run into one ``packs/<hash>.parquet`` on the ref (replacing older packs) so that
        a fresh clone reads the whole store from a few files instead of one file per run. Run files stay the
        source of truth: a pack row is used only while its run file is unchanged. Returns the number of runs
        packed (0 when fewer than ``min_new`` runs are not packed yet)."""
        import hashlib

        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        self.flush()
        head = self.head()
        if head is None:
            return 0
        with self.lock():
            head = self.head()
            assert head is not None
            table = self._indexed_table()
            table = table.filter(pc.is_in(table["status"], value_set=pa.array(list(FINAL_STATUSES))))
            old = [p for _k, _s, p in self.repo.ls_tree(head, "packs")]
            packed_rows = 0
            if old:
                packed_rows = sum(
                    pq.read_metadata(pa.BufferReader(b)).num_rows
                    for b in self.repo.read_blobs(s for _k, s, _p in self.repo.ls_tree(head, "packs"))
                )
            if table.num_rows == 0 or table.num_rows - packed_rows < max(1, min_new):
                return 0
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            data = sink.getvalue().to_pybytes()
            name = f"packs/{hashlib.sha256(data).hexdigest()[:16]}.parquet"
            self._commit_files({name: data}, f"gitxp: pack {table.num_rows} runs", delete=old)
        return int(table.num_rows)

    def live_table(self) -> pa.Table:
        """Runs still in staging (running, or dead and about to be recovered)."""
        records = [r for r in (self._record_or_quarantine(s) for s in self.staged_runs()) if r is not None]
        return concat_tables([record_table(r) for r in records]) if records else empty_table()

    def table(self, *, recover: bool = True) -> pa.Table:
        """Every run: committed ones plus live ones, after committing the runs of dead processes."""
        self.flush()
        if recover:
            try:
                self.recover()
            except StoreError as error:  # e.g. a leftover lock file: reading must still work
                warnings.warn(
                    f"gitxp: could not record the runs of dead processes ({error}); they are listed as staged",
                    GitxpWarning,
                    stacklevel=2,
                )
        live = self.live_table()
        committed = self.committed_table()
        if not live.num_rows:
            return committed
        import pyarrow.compute as pc

        committed = committed.filter(pc.invert(pc.is_in(committed["run_id"], value_set=live["run_id"])))
        return concat_tables([committed, live])

    def resolve_run(self, prefix: str, table: pa.Table | None = None) -> str:
        """Return the one run id starting with ``prefix``."""
        import pyarrow.compute as pc

        prefix = prefix.strip().lower()
        if not prefix:
            raise RunNotFoundError("empty run id")
        table = self.table() if table is None else table
        ids = table.filter(pc.starts_with(table["run_id"], prefix))["run_id"].to_pylist()
        if not ids:
            raise RunNotFoundError(f"no run matches {prefix!r} (see 'gitxp ls')")
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
            raise RunNotFoundError(
                f"run id {prefix!r} is ambiguous: {len(ids)} runs match ({shown}); type more characters"
            )
        return str(ids[0])

    def run_file(self, run_id: str, name: str) -> bytes | None:
        """A file of a run (``metrics.parquet``, ``diff.patch``, ``stdout.log``), committed or still staged."""
        staged = self.staging / run_id
        if staged.exists():
            if name == "metrics.parquet":
                table = StagedRun(staged).metrics_table()
                if table is None:
                    return None
                import pyarrow as pa
                import pyarrow.parquet as pq

                sink = pa.BufferOutputStream()
                pq.write_table(table, sink)
                return sink.getvalue().to_pybytes()
            if (staged / name).exists():
                return (staged / name).read_bytes()
        head = self.head()
        return self.repo.read_blob(head, f"{run_path(run_id)}/{name}") if head else None

    def metrics(self, run_id: str) -> pa.Table:
        """The curves of one run: columns step, name, value, time."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = self.run_file(run_id, "metrics.parquet")
        if data is None:
            return pa.table(
                {
                    "step": pa.array([], pa.int64()),
                    "name": pa.array([], pa.string()),
                    "value": pa.array([], pa.float64()),
                    "time": pa.array([], pa.float64()),
                }
            )
        try:
            return pq.read_table(pa.BufferReader(data))
        except (pa.ArrowInvalid, OSError) as error:
            raise StoreError(
                f"run {run_id} is damaged: its metrics.parquet on {REF} cannot be read "
                f"({str(error).splitlines()[0]}); its params and results are still listed"
            ) from None


ZERO = "0" * 40
