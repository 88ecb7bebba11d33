"""What a run needs before it starts: the store and version to record into, the wrapper run to attach to, the
default experiment name, the seed; and the registry of runs open in this process."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from gitxp.errors import NotARepositoryError
from gitxp.store import Store
from gitxp.values import flatten
from gitxp.versioning import Version

END_STATUSES = ("finished", "failed", "interrupted", "pruned", "cancelled")

_open_runs: dict[str, Any] = {}  # every Run started and not ended in this process (ended at exit)


class RunInterrupted(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM during a run (recorded as ``interrupted``)."""


def _parse_metric(metric: str | None) -> tuple[str, str] | None:
    if not metric:
        return None
    name, _, mode = metric.rpartition(":")
    if not name or mode not in ("min", "max", "last"):
        if mode and name:
            raise ValueError(f"metric {metric!r}: mode must be min, max or last")
        name, mode = metric, "max"
    return name, mode


def _attach_target() -> tuple[str, str, Path, dict[str, Any]] | None:
    """When running under ``gitxp run``: (run id, experiment, wrapper's staging dir, wrapper's params)."""
    run_id = os.environ.get("GITXP_RUN_ID")
    root = os.environ.get("GITXP_ATTACH_DIR")
    if not run_id or not root or not Path(root).is_dir() or any(r.attached for r in _open_runs.values()):
        return None
    import json

    try:
        given = json.loads(os.environ.get("GITXP_PARAMS") or "{}")
    except ValueError:
        given = {}
    return run_id, os.environ.get("GITXP_EXPERIMENT", ""), Path(root), flatten(given, what="param")


def _env_seed() -> int | None:
    value = os.environ.get("GITXP_SEED")
    return int(value) if value and value.lstrip("-").isdigit() else None


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise RunInterrupted(f"received signal {signal.Signals(signum).name}")


def _open(path: str | os.PathLike[str] | None, git: bool) -> tuple[Store, Version]:
    if not git:
        store = Store.open(path, create=True)
        return store, Version(None)
    store = Store.open(path)
    if store.repo.worktree is None:
        raise NotARepositoryError(
            "not inside a git working tree (pass --no-git / git=False to record without a version)"
        )
    from gitxp.versioncache import capture_cached

    return store, capture_cached(store.repo)


def _default_experiment(store: Store | None) -> str:
    if store is None:
        return Path.cwd().name
    if store.repo.worktree is not None:
        main = store.repo.common_dir.parent if store.repo.common_dir.name == ".git" else store.repo.worktree
        return main.name
    return Path.cwd().name
