"""Optuna studies from gitxp's history: one trial of the store as Optuna's ``FrozenTrial``, a whole history as an
in-memory study."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState, create_trial

from gitxp.search.history import History, Trial

__all__ = ["frozen_trial", "study_from_history", "contained", "unfold"]

_STATES = {
    "complete": TrialState.COMPLETE,
    "fail": TrialState.FAIL,
    "pruned": TrialState.PRUNED,
    "running": TrialState.RUNNING,
}


def unfold(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, list):
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        else:
            out[name] = value
    return out


def contained(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def frozen_trial(
    trial: Trial,
    distributions: Mapping[str, BaseDistribution],
    objectives: int,
    values: list[float] | None = None,
) -> optuna.trial.FrozenTrial:
    """One trial of the history as Optuna's (params outside today's space left out; ``values`` replaces the
    trial's own)."""
    dists = dict(distributions)
    for name, text in trial.distributions.items():
        if name not in dists:
            try:
                dists[name] = optuna.distributions.json_to_distribution(text)
            except (ValueError, KeyError, TypeError):
                continue
    params = {k: v for k, v in unfold(trial.params).items() if k in dists and contained(dists[k], v)}
    state = _STATES[trial.state]
    values = values if values is not None else trial.values if state == TrialState.COMPLETE else None
    if values is not None and (len(values) != objectives or not all(map(math.isfinite, values))):
        state, values = TrialState.FAIL, None
    return create_trial(
        state=state,
        values=values,
        params=params,
        distributions={k: dists[k] for k in params},
        intermediate_values=dict(trial.intermediate),
        system_attrs=dict(trial.system_attrs),
        user_attrs={"run_id": trial.run_id},
    )


def study_from_history(
    history: History,
    distributions: Mapping[str, BaseDistribution],
    directions: Sequence[str],
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """An in-memory study holding every trial of ``history`` (params outside today's space are left out)."""
    from gitxp.search.quiet import quiet

    with quiet():  # Optuna's INFO "A new study created in memory" is not the user's business
        study = optuna.create_study(
            sampler=sampler,
            pruner=pruner,
            directions=["minimize" if d == "min" else "maximize" for d in directions],
        )
    trials = [frozen_trial(t, distributions, len(directions)) for t in history.trials]
    if trials:
        study.add_trials(trials)
    return study
