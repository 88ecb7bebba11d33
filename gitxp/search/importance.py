"""Which params matter for an experiment's objective: Optuna's importance evaluators over the store's history.

``gitxp show -e EXP --importance`` builds an in-memory study from the experiment's complete trials (with the
distributions recorded when they were proposed, or ones inferred from the values: the numeric range, or the set
of choices) and asks fANOVA (default), mean decrease impurity or PED-ANOVA for each param's share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from gitxp.errors import UsageError
from gitxp.search.history import History
from gitxp.search.samplers import study_from_history

__all__ = ["EVALUATORS", "importances"]

EVALUATORS = ("fanova", "mdi", "ped-anova")


def _evaluator(name: str, seed: int) -> Any:
    if name == "fanova":
        return optuna.importance.FanovaImportanceEvaluator(seed=seed)
    if name == "mdi":
        return optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=seed)
    if name == "ped-anova":
        return optuna.importance.PedAnovaImportanceEvaluator()
    raise UsageError(f"--evaluator {name!r}: expected one of {', '.join(EVALUATORS)}")


def _inferred(values: Sequence[Any]) -> BaseDistribution | None:
    """A distribution covering the values a param took: ints, floats (log scale over a wide positive range) or
    choices. None when it never varied (nothing to attribute to it)."""
    distinct = list(dict.fromkeys(repr(v) for v in values))
    if len(distinct) < 2:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return IntDistribution(min(values), max(values))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        low, high = float(min(values)), float(max(values))
        return FloatDistribution(low, high, log=low > 0 and high / low >= 100)
    if all(isinstance(v, (str, int, float, bool)) for v in values):
        return CategoricalDistribution(list(dict.fromkeys(values)))
    return None


def importances(history: History, *, evaluator: str = "fanova", seed: int = 0) -> dict[str, float]:
    """Each param's share of the objective's variance (they sum to 1), most important first."""
    complete = [t for t in history.completed() if t.values]
    if len(complete) < 3:
        raise UsageError(
            f"importance needs at least 3 finished runs with the objective; this experiment has {len(complete)}"
        )
    names = sorted({k for t in complete for k in t.params})
    dists: dict[str, BaseDistribution] = {}
    for name in names:
        recorded = [t.distributions.get(name) for t in complete if t.distributions.get(name)]
        if recorded:
            dists[name] = optuna.distributions.json_to_distribution(recorded[-1])
            continue
        inferred = _inferred([t.params[name] for t in complete if name in t.params])
        if inferred is not None:
            dists[name] = inferred
    if not dists:
        raise UsageError("importance: no param varied between the finished runs")
    only = History([t for t in complete if all(k in t.params for k in dists)], history.objectives)
    goals = [goal for _, goal in history.objectives][:1]
    study = study_from_history(only, dists, goals, optuna.samplers.RandomSampler(seed=seed))
    params = [p for p in dists if all(p in t.params for t in study.get_trials(deepcopy=False))]
    result = optuna.importance.get_param_importances(
        study, evaluator=_evaluator(evaluator, seed), params=params, target=lambda t: t.values[0]
    )
    return dict(result)
