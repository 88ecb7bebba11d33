"""Default meta-data: where and how a run was made (host, user, python, platform, argv, cwd, pid, env summary)."""

from __future__ import annotations

import getpass
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.hookspecs import hookimpl
from gitxp.store.envs import platform_name
from gitxp.version.secrets import mask_argv

if TYPE_CHECKING:
    from gitxp.run import Run


def _notebook_meta(run: Run) -> dict[str, Any]:
    """A run made in a Jupyter kernel: its notebook, executed cells, stale modules (gitxp.notebook.kernel)."""
    if "IPython" not in sys.modules:
        return {}
    from gitxp.notebook.kernel import meta_for

    return meta_for(run.version)


@hookimpl
def gitxp_run_end(run: Run, status: str) -> None:
    """What a run's end adds to its meta: the cells a kernel executed after the one that started it, and the
    environment when it was hashed in the background."""
    _later_cells(run)
    _late_environment(run)


def _later_cells(run: Run) -> None:
    """A kernel's run left open across cells: the cells executed after the one that started it, until it ended
    (``gitxp rerun`` executes them too)."""
    if "IPython" not in sys.modules or run.meta().get("notebook.cells") is None:
        return
    from gitxp.notebook.kernel import later_cells

    later = later_cells(int(run.meta()["notebook.cells"]))
    if later:
        run.meta({"notebook.later_cells": later})


_ENV_KEYS = ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "SLURM_JOB_ID", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV")


def current_user() -> str:
    """The user name recorded in a run's meta (a uid where there is no passwd entry)."""
    return _user()


_USERS: dict[tuple[object, ...], str] = {}


def _user() -> str:
    """``getpass.getuser()``, looked up once per uid and environment (it reads the passwd file each time)."""
    key = (
        os.getuid() if hasattr(os, "getuid") else None,
        *(os.environ.get(name) for name in ("LOGNAME", "USER", "LNAME", "USERNAME")),
    )
    if key not in _USERS:
        try:
            _USERS[key] = getpass.getuser()
        except Exception:  # no passwd entry (containers)
            _USERS[key] = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return _USERS[key]


_STATIC: dict[str, str] = {}


def _static() -> dict[str, str]:
    """What cannot change while the process lives (``platform.platform()`` alone costs ~30 us per call)."""
    if not _STATIC:
        _STATIC.update(python=platform.python_version(), platform=platform_name(), executable=sys.executable)
    return _STATIC


@hookimpl
def gitxp_collect_meta(run: Run) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "host": platform.node(),
        "user": _user(),
        **_static(),
        "argv": mask_argv(sys.argv),  # --token X is recorded as --token ***
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }
    for key in _ENV_KEYS:
        if os.environ.get(key):
            meta[f"env.{key}"] = os.environ[key]
    meta.update(_notebook_meta(run))
    from gitxp.store import envs

    digest = envs.cached_hash(_store_root(run))
    if digest:
        meta["environment"] = digest  # envs/<hash>.json on the ref (gitxp.store.envs)
    else:  # walked in the background while the run starts (gitxp run: while its command starts)
        envs.hash_later(_store_root(run))
    return meta


def _late_environment(run: Run) -> None:
    """A run that started before its environment was hashed gets it now (none if it chose none: another
    interpreter, see gitxp.wrap.command)."""
    from gitxp.store import envs

    if not envs.pending() or "environment" in run.meta():
        return
    digest = envs.wait_hash(_store_root(run))
    if digest:
        run.meta({"environment": digest})


def _store_root(run: Run) -> Path | None:
    """The store's directory in .git (for the environment's file): the run's store, or the wrapper's when the run
    is attached to ``gitxp run`` (``$GITXP_ATTACH_DIR`` is ``<root>/staging/<run>``)."""
    store = getattr(run, "store", None)
    if store is not None:
        return Path(store.root)
    attach = os.environ.get("GITXP_ATTACH_DIR")
    return Path(attach).parent.parent if attach else None
