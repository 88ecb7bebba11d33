"""The history of a search, read from the store: every run of the experiment, as a trial.

The store is the single source of truth. A proposal rebuilds the history from it, so that runs of earlier sessions,
of other machines whose store was pulled, and of other sweeps running at the same time all count:

- ``finished`` with every objective reported -> ``complete`` (with its values);
- ``finished`` without an objective, ``failed``, ``crashed``, ``interrupted``, ``cancelled`` -> ``fail``;
- ``pruned`` -> ``pruned`` (with the step and value it was stopped at);
- ``running`` (in flight: this sweep's ``-j N`` or another process) -> ``running``, so that samplers with a
  constant liar do not propose the same point twice.

Nothing here imports Optuna: third-party strategies get the same :class:`History`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitxp.query import objective

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.store import Store

__all__ = [
    "Trial",
    "History",
    "HistoryReader",
    "load_history",
    "ATTRS_KEY",
    "DISTS_KEY",
    "PRUNED_STEP_KEY",
    "WARM_KEY",
    "PRUNED_VALUE_KEY",
]

ATTRS_KEY = "search.attrs"  # meta key: a sampler's per-trial state (CMA-ES generation, ...), as JSON
DISTS_KEY = "search.dists"  # meta key: the distribution each param was drawn from (Optuna's JSON form)
WARM_KEY = (
    "search.warm"  # meta key: "seed" on a run proposed from an earlier version's point (gitxp.search.warm)
)
PRUNED_STEP_KEY = "pruned.step"
PRUNED_VALUE_KEY = "pruned.value"
_FAILED = ("failed", "crashed", "interrupted", "cancelled")


@dataclass
class Trial:
    """One run of the experiment as a search sees it."""

    run_id: str
    params: dict[str, Any]
    state: str  # complete, fail, pruned, running
    values: list[float] | None = None
    intermediate: dict[int, float] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)  # param -> distribution JSON, when recorded
    version: str | None = None  # the code version the run measured
    commit: str | None = None
    seeded: bool = False  # proposed by a warm start from an earlier version's point, not by the sampler

    @property
    def value(self) -> float | None:
        """The single objective's value (None for several objectives or no value)."""
        return self.values[0] if self.values and len(self.values) == 1 else None


@dataclass
class History:
    """The trials of an experiment, oldest first. Iterating gives ``(params, value)`` of the complete ones (the
    shape the first strategy plugins were given).

    Read for a version (:class:`HistoryReader`), ``trials`` are that version's runs and ``prior`` the runs of the
    earlier versions a warm start may use (``prior_versions`` of them). ``log`` lists every trial added or changed,
    in that order, so that a consumer can catch up from where it stopped instead of re-reading everything
    (``incremental``: only a reader's history keeps it); ``generation`` changes when the history was read again
    from scratch (the log starts over)."""

    trials: list[Trial] = field(default_factory=list)
    objectives: list[tuple[str, str]] = field(default_factory=list)
    prior: list[Trial] = field(default_factory=list)
    prior_versions: int = 0
    log: list[Trial] = field(default_factory=list)
    generation: int = 0
    incremental: bool = (
        False  # the log is kept (HistoryReader): a consumer may catch up instead of re-reading
    )

    def completed(self) -> list[Trial]:
        return [t for t in self.trials if t.state == "complete"]

    def __iter__(self) -> Iterator[tuple[dict[str, Any], float]]:
        return iter([(t.params, t.values[0]) for t in self.completed() if t.values])

    def __len__(self) -> int:
        return len(self.completed())

    def count(self, state: str) -> int:
        return sum(1 for t in self.trials if t.state == state)


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _columns(table: pa.Table, names: Sequence[str], objectives: Sequence[tuple[str, str]]) -> list[str]:
    columns = set(table.column_names)
    wanted = [c for c in ("run_id", "status", "version", "commit") if c in columns]
    wanted += [f"params.{n}" for n in names if f"params.{n}" in columns]
    for name, goal in objectives:
        found = objective.column(name, goal, table.column_names)
        if found:
            wanted.append(found)
    extra = (ATTRS_KEY, DISTS_KEY, PRUNED_STEP_KEY, PRUNED_VALUE_KEY, WARM_KEY)
    wanted += [f"meta.{k}" for k in extra if f"meta.{k}" in columns]
    if not names:  # define-by-run: every param the runs recorded
        wanted += [c for c in table.column_names if c.startswith("params.")]
    return list(dict.fromkeys(wanted))


def trials_of(table: pa.Table, names: Sequence[str], objectives: Sequence[tuple[str, str]]) -> list[Trial]:
    """The rows of a run table as trials (see the module docstring), in the table's order."""
    out = []
    for row in table.select(_columns(table, names, objectives)).to_pylist():
        if names:
            params = {n: row[f"params.{n}"] for n in names if row.get(f"params.{n}") is not None}
        else:
            params = {
                k[len("params.") :]: v for k, v in row.items() if k.startswith("params.") and v is not None
            }
        results = {k[len("results.") :]: v for k, v in row.items() if k.startswith("results.")}
        values = [objective.lookup(results, name, goal) for name, goal in objectives]
        status = row["status"]
        trial = Trial(row["run_id"], params, "fail", version=row.get("version"), commit=row.get("commit"))
        trial.seeded = row.get(f"meta.{WARM_KEY}") == "seed"
        if status == "finished" and all(v is not None for v in values):
            trial.state, trial.values = "complete", [float(v) for v in values if v is not None]
        elif status == "running":
            trial.state = "running"
        elif status == "pruned":
            trial.state = "pruned"
            step, value = row.get(f"meta.{PRUNED_STEP_KEY}"), _finite(row.get(f"meta.{PRUNED_VALUE_KEY}"))
            if isinstance(step, int) and value is not None:
                trial.intermediate = {step: value}
        elif status not in _FAILED and status != "finished":
            continue  # an unknown status: not evidence either way
        for key, attr in ((ATTRS_KEY, "system_attrs"), (DISTS_KEY, "distributions")):
            text = row.get(f"meta.{key}")
            if text:
                try:
                    setattr(trial, attr, json.loads(text))
                except ValueError:
                    pass
        out.append(trial)
    return out


def _of_experiment(table: pa.Table, experiment: str, include_archived: bool = False) -> pa.Table:
    import pyarrow.compute as pc

    if not table.num_rows:
        return table
    table = table.filter(pc.equal(table["experiment"], experiment))
    if not include_archived and table.num_rows and "meta.archived" in table.column_names:
        table = table.filter(pc.invert(pc.fill_null(pc.equal(table["meta.archived"], True), False)))
    return table


def _sorted(table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    if table.num_rows and "started" in table.column_names:
        table = table.take(
            pc.sort_indices(table, sort_keys=[("started", "ascending"), ("run_id", "ascending")])
        )
    return table


def load_history(
    store: Store,
    experiment: str,
    names: Sequence[str],
    objectives: Sequence[tuple[str, str]],
    *,
    include_archived: bool = False,
) -> History:
    """Every trial of ``experiment`` in ``store`` (see the module docstring), all versions, with the params in
    ``names`` (every param when empty)."""
    table = store.table(show="archived" if include_archived else "visible")  # gitxp archive / rm
    table = _sorted(_of_experiment(table, experiment, include_archived))
    history = History(objectives=list(objectives))
    history.trials = trials_of(table, names, objectives) if table.num_rows else []
    history.log = list(history.trials)
    return history


WARM_MODES = ("ancestors", True, False)
REREAD = 2.0  # seconds: how stale the committed part of a kept history may get (runs merged from elsewhere)


def warm_mode(value: Any) -> str | bool:
    """Check a ``warm_start`` value: ``"ancestors"`` (the default), ``True`` (every other version) or ``False``."""
    if value is None:
        return "ancestors"
    if isinstance(value, bool) or value == "ancestors":
        return value
    from gitxp.errors import UsageError

    raise UsageError(f"warm_start must be 'ancestors', True or False, not {value!r}")


class HistoryReader:
    """The history of one experiment for a search on one code version, read once and then kept up to date.

    The first :meth:`read` reads the store (committing the runs of dead processes first); every later one adds
    only what changed: the runs still staged (this process's trials and other processes' live ones) and the run
    files committed to the ref since the last read (``git diff-tree`` between the two commits of the ref: the
    store's own change detection). So a proposal costs the same at trial 10 and at trial 10,000. A change to
    the runs' life-cycle (``gitxp archive``/``rm``) reads everything again.

    ``version`` (a version id) splits the runs: that version's are the trials; runs of earlier versions are the
    ``prior`` a warm start may use, chosen by ``warm_start`` (``"ancestors"``: versions whose commit is the
    current commit or a git ancestor of it; ``True``: every other version; ``False``: none). The prior is read
    once, at the first read. Without ``version`` every run is a trial (as :func:`load_history`).
    """

    def __init__(
        self,
        store: Store,
        experiment: str,
        names: Sequence[str],
        objectives: Sequence[tuple[str, str]],
        *,
        version: str | None = None,
        commit: str | None = None,
        warm_start: str | bool = "ancestors",
    ) -> None:
        self.store = store
        self.experiment = experiment
        self.names = list(names)
        self.objectives = list(objectives)
        self.version = version
        self.commit = commit
        self.warm_start = warm_mode(warm_start)
        self.history = History(objectives=self.objectives, incremental=True)
        self._index: dict[str, int] = {}  # run id -> position in history.trials
        self._head: str | None = None
        self._read_at = 0.0
        self._running: set[str] = set()  # run ids held as running
        self._read = False

    def read(self) -> History:
        """The history as the store holds it now (the same object every time, updated in place)."""
        if not self._read:
            self._full()
        else:
            self._refresh()
        return self.history

    def _mine(self, trial: Trial) -> bool:
        return self.version is None or trial.version == self.version

    def _full(self) -> None:
        head = self.store.head()
        table = _sorted(_of_experiment(self.store.table(), self.experiment))
        trials = trials_of(table, self.names, self.objectives) if table.num_rows else []
        history = self.history
        history.generation += 1 if self._read else 0
        history.trials = [t for t in trials if self._mine(t)]
        history.log = list(history.trials)
        self._index = {t.run_id: i for i, t in enumerate(history.trials)}
        if not self._read:
            history.prior, history.prior_versions = self._prior([t for t in trials if not self._mine(t)])
        self._head, self._read_at = head, time.monotonic()
        self._running = {t.run_id for t in history.trials if t.state == "running"}
        self._read = True

    def _prior(self, others: list[Trial]) -> tuple[list[Trial], int]:
        if self.warm_start is False or not others:
            return [], 0
        if self.warm_start == "ancestors":
            commits = sorted({t.commit for t in others if t.commit})
            keep = _ancestors(self.store, self.commit, commits) if self.commit else set()
            others = [t for t in others if t.commit in keep]
        return others, len({t.version for t in others})

    def _refresh(self) -> None:
        import pyarrow.compute as pc

        live = self.store.live_table()  # first: a run committed after this is in the ref read next
        ids = set(live["run_id"].to_pylist()) if live.num_rows else set()
        changed = None
        # the ref is read when a run held as running left the staging area (committed, by us or by another
        # process), and at least every REREAD seconds (runs merged from elsewhere); not at every proposal
        if self._running - ids or time.monotonic() - self._read_at > REREAD:
            head, changed = self.store.runs_since(self._head)
            if changed is None:  # the life-cycle changed, or the ref was rewritten: read it all again
                self._full()
                return
            self._head, self._read_at = head, time.monotonic()
        parts = [t for t in (changed, live) if t is not None and t.num_rows]
        for part in parts:
            part = _of_experiment(part, self.experiment)
            if self.version is not None and part.num_rows and "version" in part.column_names:
                part = part.filter(pc.fill_null(pc.equal(part["version"], self.version), False))
            if part.num_rows:
                for trial in trials_of(_sorted(part), self.names, self.objectives):
                    self._put(trial)

    def _put(self, trial: Trial) -> None:
        history = self.history
        if trial.state == "running":
            self._running.add(trial.run_id)
        else:
            self._running.discard(trial.run_id)
        at = self._index.get(trial.run_id)
        if at is None:
            self._index[trial.run_id] = len(history.trials)
            history.trials.append(trial)
        else:
            old = history.trials[at]
            if (old.state, old.values, old.params, old.intermediate) == (
                trial.state,
                trial.values,
                trial.params,
                trial.intermediate,
            ):
                return
            history.trials[at] = trial
        history.log.append(trial)


def _ancestors(store: Store, commit: str, commits: list[str]) -> set[str]:
    """The commits among ``commits`` that are ``commit`` or its git ancestors (one ``git rev-list``)."""
    known = set(store.repo.existing(commits))
    if not known:
        return set()
    out = store.repo.run(["rev-list", commit]).stdout.decode().split()
    return known & (set(out) | {commit})
