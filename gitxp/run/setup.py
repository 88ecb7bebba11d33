"""What a run needs before it starts: the store and version to record into, the wrapper run to attach to, the
default experiment name, the seed; and the registry of runs open in this process."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from gitxp.errors import NotARepositoryError
from gitxp.store import Store
from gitxp.store.values import flatten
from gitxp.version.capture import Version

END_STATUSES = ("finished", "failed", "interrupted", "pruned", "cancelled")

open_runs: dict[str, Any] = {}  # every Run started and not ended in this process (ended at exit)
_ATTACHED: list[str] = []  # the wrapper run this process attached to (only its first run attaches)


class RunInterrupted(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM during a run (recorded as ``interrupted``)."""


def parse_metric(metric: str | None) -> tuple[str, str] | None:
    """``"valid_acc:max"`` -> ``("valid_acc", "max")`` (the mode defaults to max); None when no metric is given."""
    if not metric:
        return None
    name, _, mode = metric.rpartition(":")
    if not name or mode not in ("min", "max", "last"):
        if mode and name:
            raise ValueError(f"metric {metric!r}: mode must be min, max or last")
        name, mode = metric, "max"
    return name, mode


def attach_target() -> tuple[str, str, Path, dict[str, Any]] | None:
    """When running under ``gitxp run``: (run id, experiment, wrapper's staging dir, wrapper's params).

    Only the first run a process starts is the wrapper's run: a second one (a loop of runs in a script, several
    ``gitxp.start`` cells of a notebook executed by ``gitxp run -- jupyter nbconvert --execute``) is a run of its own
    with its own version, never silently merged into the first (see :func:`wrapper_parent`)."""
    run_id = os.environ.get("GITXP_RUN_ID")
    root = os.environ.get("GITXP_ATTACH_DIR")
    if not run_id or not root or not Path(root).is_dir() or _ATTACHED:
        return None
    _ATTACHED.append(run_id)
    import json

    try:
        given = json.loads(os.environ.get("GITXP_PARAMS") or "{}")
    except ValueError:
        given = {}
    return run_id, os.environ.get("GITXP_EXPERIMENT", ""), Path(root), flatten(given, what="param")


def env_seed() -> int | None:
    """``$GITXP_SEED`` as an int, when it is one."""
    value = os.environ.get("GITXP_SEED")
    return int(value) if value and value.lstrip("-").isdigit() else None


def raise_interrupted(signum: int, frame: Any) -> None:
    """The SIGTERM handler of a run's ``with`` block: the run ends ``interrupted``."""
    raise RunInterrupted(f"received signal {signal.Signals(signum).name}")


def open_store(path: str | os.PathLike[str] | None, git: bool) -> tuple[Store, Version]:
    """The store to record into and the version to record (``git=False``: none, and a store outside git)."""
    if not git:
        store = Store.open(path, create=True)
        return store, Version(None)
    store = Store.open(path)
    if store.repo.worktree is None:
        raise NotARepositoryError(
            "not inside a git working tree (pass --no-git / git=False to record without a version)"
        )
    from gitxp.version.cache import capture_cached

    return store, kernel_version(store, capture_cached(store.repo))


def kernel_version(store: Store, version: Version) -> Version:
    """In a Jupyter kernel, the version plus the cells the kernel executed (:mod:`gitxp.notebook.kernel`)."""
    import sys

    if "IPython" not in sys.modules:
        return version
    from gitxp.notebook.kernel import record

    return record(store.repo, version)


_DEFAULTS: dict[str, str] = {}  # repository -> its default experiment, decided once per process


def default_experiment(store: Store | None) -> str:
    """The experiment a run records into when none is named: ``git config gitxp.experiment`` when set; else the
    repository's name in origin's URL (``git@host:acme/churn.git`` -> ``churn``), so that every clone of a project
    records into the same experiment whatever its directory is called; else the main worktree's directory name.

    When origin's name is not the directory's, the choice is remembered as ``gitxp.experiment`` in the clone's git
    config (:meth:`gitxp.git.repo.Repo.config`, read once per process): a clone that already recorded runs under its
    directory's name keeps that name, so an upgrade never splits an experiment in two."""
    if store is None:
        return Path.cwd().name
    folder = Path.cwd().name
    if store.repo.worktree is not None:
        main = store.repo.common_dir.parent if store.repo.common_dir.name == ".git" else store.repo.worktree
        folder = main.name
    key = str(store.repo.common_dir)
    if key not in _DEFAULTS:
        config = store.repo.config()
        name = (config.get("gitxp.experiment") or [""])[-1].strip()
        if not name:
            name = repository_name((config.get("remote.origin.url") or [""])[-1]) or folder
            if name != folder:
                if store.has_runs_of(folder):
                    name = folder
                store.repo.set_config("gitxp.experiment", name)  # (a read-only .git: decided in each process)
        _DEFAULTS[key] = name
    return _DEFAULTS[key]


def repository_name(url: str) -> str:
    """The repository's name in a remote URL or path (``https://host/acme/churn.git/`` -> ``churn``); ``""``."""
    tail = url.strip().rstrip("/")
    tail = tail.removesuffix(".git").rstrip("/")
    name = tail.replace("\\", "/").replace(":", "/").rsplit("/", 1)[-1]
    return "" if name in ("", ".", "..") else name


def wrapper_parent() -> str | None:
    """Under ``gitxp run``, once this process's first run took the wrapper's run: the wrapper's run id (recorded
    as ``meta.parent`` of the process's further runs), else None."""
    run_id = os.environ.get("GITXP_RUN_ID")
    return run_id if run_id and _ATTACHED and _ATTACHED[0] == run_id else None


def bare_run() -> Any:
    """The newest run of this thread started by ``run = gitxp.start(...)`` (no ``with``) and not ended: it is
    active for ``gitxp.current()`` until it ends, as in MLflow and W&B (a notebook's cells each run in a fresh
    context, so a context variable alone would lose it)."""
    import threading

    me = threading.get_ident()
    for run in reversed(list(open_runs.values())):
        if run.bare_thread == me and run.status == "running":
            return run
    return None


def ipython_running() -> bool:
    """Whether this process is an IPython kernel or shell (without importing IPython when it is not loaded)."""
    import sys

    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except Exception:  # noqa: BLE001 - a broken IPython install is not a kernel
        return False


def end_open_runs() -> None:
    """At exit: end the runs started without ``with`` and never ended: ``failed`` when the script died of an
    uncaught exception, else ``finished``. In an IPython kernel or shell, ``sys.last_value`` is the last exception
    any cell raised (an unrelated typo, long handled): it says nothing about the run, so a run left open across
    cells ends ``finished`` (and says it was ended by the kernel's shutdown)."""
    import sys

    interactive = ipython_running()
    for run in list(open_runs.values()):
        if interactive:
            run.meta({"ended_by": "kernel shutdown"})
            run.end("finished")
        else:
            run.end("failed" if getattr(sys, "last_value", None) is not None else "finished")
