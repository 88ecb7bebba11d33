"""Life-cycle operations: select the runs (ids, prefixes, filters), work out what actually changes, record it as
one event file on the ref (see :mod:`gitxp.store.lifecycle`); and prune the data of removed runs (``gitxp gc``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import RunNotFoundError, UsageError, did_you_mean
from gitxp.store import Store
from gitxp.store.lifecycle import State, clone_id, event_file, load_state, now_us, valid_tag

__all__ = [
    "Plan",
    "select_runs",
    "plan",
    "record",
    "prune_removed",
    "grace_seconds",
    "parse_duration",
    "ACTIONS",
]

ACTIONS = ("tag", "untag", "note", "archive", "unarchive", "rm", "undo")
DEFAULT_GRACE = "14d"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, what: str = "duration") -> float:
    """``14d``, ``12h``, ``30m``, ``90s``, ``2w``, or a plain number of days, as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text))
    if not match:
        raise UsageError(f"{what} {text!r}: expected a duration such as 14d, 12h, 30m, 90s or 0")
    return float(match.group(1)) * _UNITS[match.group(2) or "d"]


def grace_seconds(store: Store) -> float:
    """How long a removed run's data is kept before ``gitxp gc`` prunes it: ``$GITXP_RM_GRACE``, else git config
    ``gitxp.rmGrace``, else 14 days."""
    text = os.environ.get("GITXP_RM_GRACE")
    where = "GITXP_RM_GRACE"
    if not text:
        proc = store.repo.run(["config", "--get", "gitxp.rmGrace"], check=False)
        text, where = proc.stdout.decode().strip(), "git config gitxp.rmGrace"
    return parse_duration(text or DEFAULT_GRACE, where)


def _resolve(
    prefix: str, pool: Sequence[str], other: Sequence[str], scope: str, pruned: Sequence[str] = ()
) -> str:
    """The one id in ``pool`` starting with ``prefix``; a clear error otherwise (``other``: the runs of the other
    scope, to say "was removed" rather than "no such run")."""
    text = prefix.strip().lower()
    if not text:
        raise RunNotFoundError("empty run id")
    from gitxp.store.ids import check_prefix

    check_prefix(text)
    found = [i for i in pool if i.startswith(text)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        shown = ", ".join(found[:5]) + (" ..." if len(found) > 5 else "")
        raise RunNotFoundError(
            f"run id {prefix!r} is ambiguous: {len(found)} runs match ({shown}); type more"
        )
    elsewhere = [i for i in other if i.startswith(text)]
    gone = [i for i in pruned if i.startswith(text)]
    if gone and not elsewhere:
        raise RunNotFoundError(
            f"run {gone[0]} was removed and its data pruned by 'gitxp gc': it cannot come back"
        )
    if elsewhere and scope == "removed":
        raise RunNotFoundError(f"run {elsewhere[0]} is not removed: nothing to undo")
    if elsewhere:
        raise RunNotFoundError(
            f"run {elsewhere[0]} was removed (bring it back with 'gitxp rm --undo {elsewhere[0]}')"
        )
    hint = did_you_mean(text, {i[: len(text)] for i in pool})
    raise RunNotFoundError(f"no run matches {prefix!r}{hint} (see 'gitxp ls')")


def select_runs(
    store: Store,
    runs: Sequence[str] = (),
    *,
    experiment: Sequence[str] = (),
    status: str | None = None,
    where: str | None = None,
    tags: Sequence[str] = (),
    scope: str = "active",
) -> list[str]:
    """Run ids named by ``runs`` (ids or unique prefixes) and/or matching the filters (as ``gitxp ls``: both
    given, the named runs that match). ``scope``: "active" (every run not removed, archived ones included) or
    "removed" (removed runs only, for ``rm --undo``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from gitxp.query import check_experiments, select

    if not (runs or experiment or status or where or tags):
        raise UsageError("name the runs: RUN ids or prefixes, or -e EXP, --status, --where, --tag")
    table = store.table(show="all")
    removed_ids = sorted(load_state(store.repo, store.head(), store.cache_dir).removed())
    removed = pa.array(removed_ids, pa.string())
    is_removed = pc.is_in(table["run_id"], value_set=removed) if table.num_rows else None
    if is_removed is None:
        pool_table, other = table, []
    elif scope == "removed":
        pool_table, other = (
            table.filter(is_removed),
            table.filter(pc.invert(is_removed))["run_id"].to_pylist(),
        )
    else:
        pool_table, other = (
            table.filter(pc.invert(is_removed)),
            table.filter(is_removed)["run_id"].to_pylist(),
        )
    pool = pool_table["run_id"].to_pylist() if pool_table.num_rows else []
    pruned = sorted(set(removed_ids) - set(pool) - set(other))
    named = [_resolve(r, pool, other, scope, pruned) for r in runs]
    if experiment and table.num_rows:
        check_experiments(table, list(experiment))
    if not (experiment or status or where or tags):
        return list(dict.fromkeys(named))
    if tags:
        for tag in tags:
            check_tag(tag)
        have = {
            t
            for ts in (pool_table["tags"].to_pylist() if "tags" in pool_table.column_names else [])
            if ts
            for t in ts.split(",")
        }
        for tag in tags:
            if tag not in have:
                raise UsageError(f"--tag {tag!r}: no run has this tag{did_you_mean(tag, have)}")
        keep = pool_table["tags"].to_pylist()
        mask = [bool(ts) and set(tags) <= set(ts.split(",")) for ts in keep]
        pool_table = pool_table.filter(pa.array(mask, pa.bool_()))
    chosen = select(
        store,
        pool_table,
        experiment=list(experiment) or None,
        status=status,
        where=where,
        keep_order=True,
        columns=["run_id"],
    )["run_id"].to_pylist()
    if named:
        wanted = set(chosen)
        return [r for r in dict.fromkeys(named) if r in wanted]
    return chosen


def check_tag(name: str) -> None:
    if not valid_tag(name):
        raise UsageError(
            f"tag {name!r}: a tag is one word of at most 100 characters, without spaces or commas"
        )


@dataclass
class Plan:
    """What an op changes: ``ops`` to record and the runs it leaves as they are (``unchanged``)."""

    action: str
    runs: list[str]
    ops: list[tuple[str, str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return list(dict.fromkeys(op[0] for op in self.ops))


def plan(
    store: Store, action: str, runs: Sequence[str], value: Any = None, *, state: State | None = None
) -> Plan:
    """The ops that ``action`` (one of ``ACTIONS``) on ``runs`` records: only real changes."""
    if action not in ACTIONS:
        raise ValueError(f"unknown life-cycle action {action!r}")
    if action in ("tag", "untag"):
        check_tag(str(value))
    if action == "note" and value is not None and not isinstance(value, str):
        raise TypeError(f"gitxp note: the note must be a text, not {type(value).__name__}")
    state = state or load_state(store.repo, store.head(), store.cache_dir)
    out = Plan(action, list(runs))
    if action == "rm":
        _refuse_running(store, runs)
    stamp = time.time()
    for run in runs:
        op: tuple[str, str, Any] | None  # (run, key, value): one of the Plan's ops, None when nothing changes
        if action == "tag":
            op = None if value in state.tags(run) else (run, f"tag:{value}", True)
        elif action == "untag":
            op = (run, f"tag:{value}", False) if value in state.tags(run) else None
        elif action == "note":
            text = value or None
            op = None if (state.value(run, "note") or None) == text else (run, "note", text)
        elif action in ("archive", "unarchive"):
            want = action == "archive"
            op = None if bool(state.value(run, "archived")) == want else (run, "archived", want)
        elif action == "rm":
            op = None if state.value(run, "removed") else (run, "removed", stamp)
        else:  # undo
            op = (run, "removed", None) if state.value(run, "removed") else None
        if op is None:
            out.unchanged.append(run)
        else:
            out.ops.append(op)
    return out


def _refuse_running(store: Store, runs: Sequence[str]) -> None:
    live = {s.run_id for s in store.staged_runs()}
    for run in runs:
        if run in live:
            raise UsageError(
                f"run {run} is still running: stop it first with 'gitxp cancel {store.short_id(run)}'"
            )


def record(store: Store, the_plan: Plan) -> str | None:
    """Write the plan's ops as one event file on the ref (one commit); returns its path (None: nothing to do)."""
    if not the_plan.ops:
        return None
    store.flush()
    with store.lock():
        state = load_state(store.repo, store.head(), store.cache_dir)
        stamp = max(
            now_us(), state.clock + 1
        )  # after every op this clone has seen (see events: hybrid clock)
        path, data = event_file(clone_id(store.root), stamp, the_plan.ops)
        runs = the_plan.changed
        what = runs[0] if len(runs) == 1 else f"{len(runs)} runs"
        store.commit_files({path: data}, f"gitxp: {the_plan.action} {what}")
    return path


def prune_removed(
    store: Store, *, grace: float | None = None, now: float | None = None, dry_run: bool = False
) -> list[str]:
    """Delete from the ref the files of runs removed more than ``grace`` seconds ago (default
    :func:`grace_seconds`) and rewrite the pack without them; returns the pruned run ids. Their events stay, so
    they stay removed even if a pull brings their files back from a clone that has not pruned them yet (the
    next ``gitxp gc`` prunes those again)."""
    grace = grace_seconds(store) if grace is None else grace
    now = time.time() if now is None else now
    store.flush()
    state = load_state(store.repo, store.head(), store.cache_dir)
    due = {run for run, when in state.removed().items() if when <= now - grace}
    if not due:
        return []
    with store.lock():
        head = store.head()
        if head is None:
            return []
        paths = [p for _k, _s, p in store.repo.ls_tree(head, "runs") if p.split("/")[3] in due]
        pruned = sorted({p.split("/")[3] for p in paths})
        if not paths or dry_run:
            return pruned
        store.commit_files({}, f"gitxp: prune {len(pruned)} removed runs", delete=paths)
        (store.cache_dir / "state.json").unlink(missing_ok=True)  # the read cache still holds their rows
    store.pack(force=True)  # the old pack still holds them too
    return pruned
