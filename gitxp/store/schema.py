"""What a store is made of: the ref, the file layout on it, the constants every part of the store shares."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable

from gitxp.errors import StoreError
from gitxp.store.ids import is_run_id

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
LOCK_TIMEOUT = float(os.environ.get("GITXP_LOCK_TIMEOUT", 120.0))
HOST = socket.gethostname()
ZERO = "0" * 40


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
    ):  # gitxp.store.artifacts: .../artifacts/<name>
        run_id = parts[3]
        names_ok = all(p not in ("", ".", "..") for p in parts[5:])
        return is_run_id(run_id) and parts[1] == run_id[-1] and parts[2] == run_id[-2] and names_ok
    if parts[0] == "envs":  # gitxp.store.envs: one file per environment, named by its hash
        return len(parts) == 2 and bool(re.fullmatch(r"[0-9a-f]{16}\.json", parts[1]))
    return parts[0] not in ("runs", "packs") and ".." not in parts and not path.startswith("/")


_ULID = "[0-9a-hjkmnp-tv-z]"
_RUN_FILE = re.compile(  # runs/<c>/<b>/<run id ending in b, c>/<file>: what valid_path says, for most paths at once
    rf"runs/({_ULID})/({_ULID})/{_ULID}{{24}}\2\1/(?:{'|'.join(re.escape(f) for f in sorted(_RUN_FILES))})"
)


def check_incoming(entries: Iterable[tuple[str, str, str]]) -> None:
    """Refuse a store to merge (e.g. pulled from a clone) that holds a path gitxp would never write."""
    fullmatch = _RUN_FILE.fullmatch
    for _kind, _sha, path in entries:
        if fullmatch(path) is None and not valid_path(path):
            raise StoreError(
                f"refusing to merge: the incoming store holds {path!r}, which is not a gitxp run file "
                "(run ids are 26 characters of 0-9a-z without i, l, o, u); nothing was merged"
            )


def run_path(run_id: str) -> str:
    """The directory of a run inside the store's tree."""
    return f"runs/{run_id[-1]}/{run_id[-2]}/{run_id}"
