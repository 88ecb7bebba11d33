"""scikit-learn: an estimator's params (defaults included, from ``get_params()``) and a hyper-parameter search's
candidates as one child run each.

>>> from gitxp.integrations.sklearn import log_estimator, log_search   # doctest: +SKIP
>>> log_estimator(model)          # params of the current run (or of a new one): every get_params() value
>>> log_search(GridSearchCV(...).fit(X, y))   # one child run per candidate, best_* on the current run

Child runs carry ``meta.parent`` (the current run's id) and ``meta.search`` (``GridSearchCV``); their params are
the candidate's, their results the cross-validation columns of ``cv_results_`` (``mean_test_score``,
``std_test_score``, ``rank_test_score``, ``mean_fit_time``, ``split0_test_score``, ...).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gitxp.integrations import active_run, add_params, plain

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["estimator_params", "log_estimator", "log_search"]


def estimator_params(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=True)`` as plain params: nested estimators become their class name (their own params
    appear under ``step__param`` names), callables and objects their ``str``."""
    params: dict[str, Any] = {"estimator": type(estimator).__name__}
    for name, value in estimator.get_params(deep=True).items():
        params[name] = type(value).__name__ if hasattr(value, "get_params") else plain(value)
    return {k: v for k, v in params.items() if v is not None}


def log_estimator(estimator: Any, *, experiment: str | None = None) -> Run:
    """Record ``estimator``'s params (defaults included) into the current run, or a new one; returns the run."""
    run, _ = active_run(experiment, estimator_params(estimator))
    return run


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def log_search(search: Any, *, experiment: str | None = None) -> list[str]:
    """Record a fitted ``GridSearchCV``/``RandomizedSearchCV``: one child run per candidate (its params and
    cross-validation results) and, on the current run, the base estimator's params plus ``best_score`` and
    ``best_params.*``. Returns the child run ids in candidate order."""
    from gitxp.run import start

    if not hasattr(search, "cv_results_"):
        from gitxp.errors import UsageError

        raise UsageError("log_search: fit the search first (it has no cv_results_)")
    parent, _ = active_run(experiment, estimator_params(search.estimator))
    results = search.cv_results_
    columns = [name for name in results if not name.startswith("param") and name != "params"]
    kind = type(search).__name__
    ids = []
    for index, candidate in enumerate(results["params"]):
        values = {name: _number(results[name][index]) for name in columns}
        with start(
            parent.experiment,
            {**estimator_params(search.estimator), **{k: plain(v) for k, v in candidate.items()}},
            meta={"parent": parent.id, "search": kind, "candidate": index},
        ) as child:
            child.result({k: v for k, v in values.items() if v is not None})
            ids.append(child.id)
    best: dict[str, Any] = {}
    if getattr(search, "best_score_", None) is not None and _number(search.best_score_) is not None:
        best["best_score"] = _number(search.best_score_)
    if getattr(search, "best_params_", None):
        best.update({f"best_params.{k}": plain(v) for k, v in search.best_params_.items()})
    if best:
        parent.result(best)
    parent.meta(search=kind, candidates=len(ids))
    add_params(parent, {})
    return ids
