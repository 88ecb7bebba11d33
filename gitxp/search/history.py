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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitxp import objective

if TYPE_CHECKING:
    from gitxp.store import Store

__all__ = [
    "Trial",
    "History",
    "load_history",
    "ATTRS_KEY",
    "DISTS_KEY",
    "PRUNED_STEP_KEY",
    "PRUNED_VALUE_KEY",
]

ATTRS_KEY = "search.attrs"  # meta key: a sampler's per-trial state (CMA-ES generation, ...), as JSON
DISTS_KEY = "search.dists"  # meta key: the distribution each param was drawn from (Optuna's JSON form)
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

    @property
    def value(self) -> float | None:
        """The single objective's value (None for several objectives or no value)."""
        return self.values[0] if self.values and len(self.values) == 1 else None


@dataclass
class History:
    """The trials of an experiment, oldest first. Iterating gives ``(params, value)`` of the complete ones (the
    shape the first strategy plugins were given)."""

    trials: list[Trial] = field(default_factory=list)
    objectives: list[tuple[str, str]] = field(default_factory=list)

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


def load_history(
    store: Store,
    experiment: str,
    names: Sequence[str],
    objectives: Sequence[tuple[str, str]],
    *,
    include_archived: bool = False,
) -> History:
    """The trials of ``experiment`` in ``store`` (see the module docstring), with the params in ``names``."""
    import pyarrow.compute as pc

    table = store.table(show="archived" if include_archived else "visible")  # gitxp archive / rm
    history = History(objectives=list(objectives))
    if not table.num_rows:
        return history
    table = table.filter(pc.equal(table["experiment"], experiment))
    if not table.num_rows:
        return history
    if "started" in table.column_names:
        table = table.take(
            pc.sort_indices(table, sort_keys=[("started", "ascending"), ("run_id", "ascending")])
        )
    columns = set(table.column_names)
    if not include_archived and "meta.archived" in columns:
        table = table.filter(pc.invert(pc.fill_null(pc.equal(table["meta.archived"], True), False)))
    wanted = ["run_id", "status"]
    wanted += [f"params.{n}" for n in names if f"params.{n}" in columns]
    for name, goal in objectives:
        found = objective.column(name, goal, table.column_names)
        if found:
            wanted.append(found)
    extra = (ATTRS_KEY, DISTS_KEY, PRUNED_STEP_KEY, PRUNED_VALUE_KEY)
    wanted += [f"meta.{k}" for k in extra if f"meta.{k}" in columns]
    if not names:  # define-by-run: every param the runs recorded
        wanted += [c for c in table.column_names if c.startswith("params.")]
    for row in table.select(list(dict.fromkeys(wanted))).to_pylist():
        if names:
            params = {n: row[f"params.{n}"] for n in names if row.get(f"params.{n}") is not None}
        else:
            params = {
                k[len("params.") :]: v for k, v in row.items() if k.startswith("params.") and v is not None
            }
        results = {k[len("results.") :]: v for k, v in row.items() if k.startswith("results.")}
        values = [objective.lookup(results, name, goal) for name, goal in objectives]
        status = row["status"]
        trial = Trial(row["run_id"], params, "fail")
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
        history.trials.append(trial)
    return history
