"""What a run needs before it starts: the store and version to record into, the wrapper run to attach to, the
default experiment name, the seed; and the registry of runs open in this process."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterable, Sequence
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


_FLAG = re.compile(r"--([A-Za-z_][A-Za-z0-9_.-]*)")


def argv_params(argv: Sequence[str], *, shell: bool = False, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The ``--name value`` and ``--name=value`` flags of a wrapped command as params, typed as ``-p`` values are
    (``--lr 0.05`` -> ``lr = 0.05``, ``--batch-size 32`` -> ``batch_size = 32``, as argparse names them): a run
    started by hand records what a sweep of the same script records. Left out: the flags of the params in
    ``skip`` (the sweep's own, which fill these flags), values that are ``{templates}``, flags without a value
    (``--verbose``), flags named like secrets (``--api-key``, see gitxp.secrets), and everything after ``--``.
    A repeated flag counts once, with its last value (as argparse)."""
    from gitxp.secrets import masked_names
    from gitxp.space.values import parse_value

    words = list(argv)
    if shell:
        import shlex

        try:
            words = shlex.split(" ".join(argv))
        except ValueError:
            return {}
    taken = {k.replace("-", "_") for k in skip}
    out: dict[str, Any] = {}
    i = 1
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            break
        flag, eq, value = word.partition("=")
        match = _FLAG.fullmatch(flag)
        if match is None:
            continue
        if not eq:
            following = words[i] if i < len(words) else None
            if following is None or (
                following.startswith("-") and not isinstance(parse_value(following), float | int)
            ):
                continue  # a switch (--verbose), or the next flag
            value = following
            i += 1
        name = match.group(1).replace("-", "_")
        if name in taken or masked_names([flag]) or re.search(r"\{[A-Za-z_][\w.-]*\}", value):
            continue
        out.pop(name, None)
        out[name] = parse_value(value)
    return out
