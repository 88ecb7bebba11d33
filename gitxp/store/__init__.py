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

- ``staging/<id>/``: a live run, the directory itself locked by its owner (see gitxp.store.liveness; a ``lock`` file
  where the file system cannot lock a directory), ``record.json`` (params, meta,
  results, status; replaced atomically), ``metrics.arrows`` (an Arrow IPC stream appended one chunk at a time),
  ``diff.patch``, ``heartbeat`` (from the first beat; the directory's time before). A kill -9 leaves these behind;
  readers find the free lock (or the dead pid, or the stale heartbeat) and commit the run as ``crashed``.
  A committed run's directory goes to ``staging/.free/`` for the next run to reuse when it holds only its record
  (see gitxp.store.recycle), else to ``staging/.committed/``, deleted there in the background.
- ``cache/runs.parquet``: every committed run in one wide table, keyed by the ref's commit and updated
  incrementally (only runs added since the cached commit are read from git). Listing reads this one file.
- ``store.lock``: serialises writers on one machine; the ref update itself is a compare-and-swap, so writers on
  other machines (or a lock timeout) can never lose runs.

The package, one question per module: ``schema`` (ref, paths, constants), ``tables`` (records as Arrow tables),
``staging`` (one live run's directory, liveness), ``recycle`` (reused directories), ``committer`` (background
commits), ``base`` / ``area`` (the staging area) / ``writer`` (the ref writer: fast-import + compare-and-swap,
recovery, merge) / ``cache`` (the read cache) / ``packs``, stacked in that order into ``core.Store``.
"""

from __future__ import annotations

# ruff: noqa: F401  (re-exports: ``from gitxp.store import X`` keeps working for every X the old module had)
from gitxp.store.committer import flush_all
from gitxp.store.core import Store
from gitxp.store.schema import (
    BASE_COLUMNS,
    BLOB,
    CACHE_VERSION,
    DETACHED,
    FINAL_STATUSES,
    GROUPS,
    HOST,
    LOCK_TIMEOUT,
    REF,
    SCHEMA_VERSION,
    ZERO,
    check_incoming,
    run_path,
    valid_path,
)
from gitxp.store.staging import STALE_AFTER, CorruptRecord, StagedRun, pid_start, write_json
from gitxp.store.tables import concat_tables, empty_table, record_table

__all__ = ["Store", "REF", "SCHEMA_VERSION", "BASE_COLUMNS", "FINAL_STATUSES", "run_path"]
