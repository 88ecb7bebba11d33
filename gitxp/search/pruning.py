"""Pruning: stop trials whose curve is already worse than their peers', with Optuna's pruners.

A :class:`Pruning` belongs to one sweep. Every point a trial logs for the objective (``run.log(step=..., loss=...)``,
or a wrapped command's ``gitxp: step=N loss=...`` lines) becomes an intermediate value; ``run.should_prune()``
asks the pruner, over an in-memory study holding the experiment's other trials with their curves: finished runs of
earlier sessions (curves read from the store once), and this sweep's runs as they log. A pruned run ends with
status ``pruned``, recording the step and value it stopped at, and counts as a pruned trial in later proposals.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState, create_trial

from gitxp.errors import UsageError
from gitxp.search.history import PRUNED_STEP_KEY, PRUNED_VALUE_KEY, load_history
from gitxp.search.quiet import quiet

if TYPE_CHECKING:
    from gitxp.run import Run
    from gitxp.store import Store

__all__ = ["PRUNERS", "Pruning", "make_pruner"]

PRUNERS = ("median", "hyperband", "asha")


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``--prune NAME``."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    raise UsageError(f"--prune {name!r}: expected one of {', '.join(PRUNERS)}")


class Pruning:
    """The pruner of one sweep and the curves it judges by."""

    def __init__(self, name: str, store: Store, experiment: str, objective: tuple[str, str]) -> None:
        if objective[1] not in ("min", "max"):
            raise UsageError("--prune needs --metric NAME:min or NAME:max (which way is better)")
        self.pruner = make_pruner(name)
        self.name = name
        self.metric, self.goal = objective
        self.lock = threading.Lock()
        self.curves: dict[str, dict[int, float]] = {}  # run id -> step -> value, of this sweep's runs
        self.final: dict[str, str] = {}  # run id -> complete | pruned | fail, for this sweep's ended runs
        self.pruned_steps: dict[str, int] = {}
        self.told: set[str] = (
            set()
        )  # runs should_prune() said to stop (a trial that never heard it completed)
        history = load_history(store, experiment, [], [objective])
        self.past: list[Any] = []
        for trial in history.trials:  # earlier sessions: curves from the store, read once
            if trial.state not in ("complete", "pruned"):
                continue
            curve = trial.intermediate or _curve(store, trial.run_id, self.metric)
            if curve:
                self.past.append((trial.state, trial.values, curve))

    def observe(self, run: Run, step: int, value: float) -> None:
        """A point the trial ``run`` logged for the objective."""
        if math.isfinite(value):
            with self.lock:
                self.curves.setdefault(run.id, {})[step] = value

    def ended(self, run: Run, status: str) -> None:
        with self.lock:
            self.final[run.id] = {"finished": "complete", "pruned": "pruned"}.get(status, "fail")

    def should_prune(self, run: Run) -> bool:
        """Whether ``run``'s curve so far says it should stop (False until it has logged the objective)."""
        with self.lock:
            mine = dict(self.curves.get(run.id, {}))
            if not mine:
                return False
            trials = []
            for state, values, curve in self.past:
                trials.append(self._trial(state, curve, values[0] if values else None))
            for run_id, curve in self.curves.items():
                if run_id == run.id:
                    continue
                state = self.final.get(run_id, "running")
                last = curve[max(curve)] if curve else None
                trials.append(self._trial(state, curve, last))
        with quiet():  # a throw-away study per decision: no "A new study created" line each time
            study = optuna.create_study(
                direction="minimize" if self.goal == "min" else "maximize", pruner=self.pruner
            )
        if trials:
            study.add_trials(trials)
        study.add_trial(create_trial(state=TrialState.RUNNING, intermediate_values=mine))
        frozen = study.get_trials(deepcopy=False)[-1]
        stop = bool(self.pruner.prune(study, frozen))
        if stop:
            with self.lock:
                self.told.add(run.id)
        return stop

    @staticmethod
    def _trial(state: str, curve: dict[int, float], value: float | None) -> Any:
        if state == "complete" and value is not None and math.isfinite(value):
            return create_trial(state=TrialState.COMPLETE, value=value, intermediate_values=curve)
        if state == "pruned":
            return create_trial(state=TrialState.PRUNED, intermediate_values=curve)
        if state == "running":
            return create_trial(state=TrialState.RUNNING, intermediate_values=curve)
        return create_trial(state=TrialState.FAIL, intermediate_values=curve)

    def record_pruned(self, run: Run) -> None:
        """Note where ``run`` was stopped, so that later proposals count it as a pruned trial."""
        with self.lock:
            curve = self.curves.get(run.id, {})
        if curve:
            step = max(curve)
            self.pruned_steps[run.id] = step
            run.meta({PRUNED_STEP_KEY: step, PRUNED_VALUE_KEY: curve[step]})

    def saved(self) -> tuple[int, float]:
        """(trials pruned, share of the steps they did not run, against the longest finished curve)."""
        with self.lock:
            longest = max([max(c) + 1 for c in self.curves.values() if c] or [0])
            done = sum(max(c) + 1 for c in self.curves.values() if c)
            pruned = len(self.pruned_steps)
            skipped = sum(longest - (step + 1) for step in self.pruned_steps.values())
        total = done + skipped
        return pruned, (skipped / total if total else 0.0)


def _curve(store: Store, run_id: str, name: str) -> dict[int, float]:
    table = store.metrics(run_id)
    out: dict[int, float] = {}
    for step, metric, value in zip(
        table["step"].to_pylist(), table["name"].to_pylist(), table["value"].to_pylist()
    ):
        if metric == name and isinstance(value, float) and math.isfinite(value):
            out[int(step)] = value
    return out
