"""The life-cycle operations in Python: ``gitxp.tag``, ``untag``, ``note``, ``archive``, ``unarchive``, ``remove``,
``restore`` and ``cancel`` (the same as the ``gitxp`` commands, without the confirmation prompt).

Runs are named as on the command line: an id, a unique prefix or a list of them, and/or the filters of
``gitxp.load`` (``experiment``, ``status``, ``where``, ``tag``); given both, the named runs that match. Each call
records one event on the store's ref and returns the ids it changed (runs already in the asked state are left
alone); ``dry_run=True`` returns them without recording anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

__all__ = ["tag", "untag", "note", "archive", "unarchive", "remove", "restore", "cancel", "RunLifecycle"]

Runs = str | Sequence[str] | None
PathLike = str | os.PathLike[str] | None


def _apply(
    action: str,
    runs: Runs,
    value: Any = None,
    *,
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    where: str | None = None,
    tag: str | Sequence[str] | None = None,
    path: PathLike = None,
    dry_run: bool = False,
    store: Any = None,
) -> list[str]:
    from gitxp.lifecycle.ops import plan, record, select_runs
    from gitxp.store import Store

    store = store if store is not None else Store.open(path)
    ids = select_runs(
        store,
        [runs] if isinstance(runs, str) else list(runs or ()),
        experiment=[experiment] if isinstance(experiment, str) else list(experiment or ()),
        status=status,
        where=where,
        tags=[tag] if isinstance(tag, str) else list(tag or ()),
        scope="removed" if action == "undo" else "active",
    )
    the_plan = plan(store, action, ids, value)
    if not dry_run:
        record(store, the_plan)
    return the_plan.changed


def tag(runs: Runs = None, name: str = "", **filters: Any) -> list[str]:
    """Add the tag ``name`` to the runs (``gitxp tag RUN... NAME``)."""
    return _apply("tag", runs, name, **filters)


def untag(runs: Runs = None, name: str = "", **filters: Any) -> list[str]:
    """Take the tag ``name`` off the runs (``gitxp untag RUN... NAME``)."""
    return _apply("untag", runs, name, **filters)


def note(runs: Runs = None, text: str | None = "", **filters: Any) -> list[str]:
    """Set the runs' note (free text, shown by ``gitxp show``, searched by ``gitxp ls --note``); "" or None
    clears it."""
    return _apply("note", runs, text, **filters)


def archive(runs: Runs = None, **filters: Any) -> list[str]:
    """Hide the runs from listings, comparisons and search histories (``gitxp archive``); nothing is deleted."""
    return _apply("archive", runs, **filters)


def unarchive(runs: Runs = None, **filters: Any) -> list[str]:
    """Show archived runs again (``gitxp unarchive``)."""
    return _apply("unarchive", runs, **filters)


def remove(runs: Runs = None, **filters: Any) -> list[str]:
    """Remove the runs from every listing (``gitxp rm``); their data is pruned by ``gitxp gc`` after the grace
    period (``$GITXP_RM_GRACE``, git config ``gitxp.rmGrace``, default 14 days); until then ``restore`` undoes it."""
    return _apply("rm", runs, **filters)


def restore(runs: Runs = None, **filters: Any) -> list[str]:
    """Undo ``remove`` for runs not pruned yet (``gitxp rm --undo``)."""
    return _apply("undo", runs, **filters)


def cancel(
    runs: Runs = None,
    *,
    experiment: str | Sequence[str] | None = None,
    grace: float | None = None,
    path: PathLike = None,
    dry_run: bool = False,
) -> dict[str, str]:
    """Stop running runs (ids, prefixes or experiment names; see ``gitxp cancel``) and return each one's recorded
    status (``cancelled``, or what it ended as first). ``grace``: seconds between SIGTERM and SIGKILL."""
    from gitxp.lifecycle.cancel import cancel as stop
    from gitxp.lifecycle.cancel import select_live
    from gitxp.store import Store

    store = Store.open(path)
    chosen = select_live(
        store,
        [runs] if isinstance(runs, str) else list(runs or ()),
        [experiment] if isinstance(experiment, str) else list(experiment or ()),
    )
    if dry_run:
        return {record["run_id"]: "running" for _s, record in chosen}
    return stop(store, chosen, grace=grace)


class RunLifecycle:
    """The life-cycle operations as methods of a :class:`gitxp.Run` (mixed into it): ``run.tag("best")``,
    ``run.untag(...)``, ``run.note("...")``, ``run.archive()``, ``run.unarchive()``, ``run.remove()``,
    ``run.restore()``; each returns whether it changed anything."""

    id: str
    store: Any

    def _lifecycle(self, action: str, value: Any = None) -> bool:
        return bool(_apply(action, self.id, value, store=self.store))

    def tag(self, name: str) -> bool:
        """Add the tag ``name`` to this run."""
        return self._lifecycle("tag", name)

    def untag(self, name: str) -> bool:
        """Take the tag ``name`` off this run."""
        return self._lifecycle("untag", name)

    def note(self, text: str | None) -> bool:
        """Set this run's note ("" or None clears it)."""
        return self._lifecycle("note", text)

    def archive(self) -> bool:
        """Hide this run from listings, comparisons and search histories."""
        return self._lifecycle("archive")

    def unarchive(self) -> bool:
        return self._lifecycle("unarchive")

    def remove(self) -> bool:
        """Remove this (ended) run from every listing; ``restore()`` until ``gitxp gc`` prunes it."""
        return self._lifecycle("rm")

    def restore(self) -> bool:
        return self._lifecycle("undo")
