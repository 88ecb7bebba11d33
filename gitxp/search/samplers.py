"""Informed search on Optuna's samplers, behind gitxp's store (Optuna is a library here, never the storage).

Each proposal rebuilds an in-memory Optuna study from the :class:`~gitxp.search.history.History` (complete, failed,
pruned and running trials, each with the sampler state it was proposed with) and asks the sampler for the next
point. The sampler object lives as long as the sweep, so its random state moves on from proposal to proposal;
its seed is offset by the number of trials already recorded, so that a second ``-n 20`` does not replay the
first one's random start.

Importing this module imports Optuna (~0.3 s): only informed strategies and ``gitxp.optimize`` do.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from gitxp.errors import UsageError
from gitxp.search.history import ATTRS_KEY, DISTS_KEY, History
from gitxp.search.quiet import quiet
from gitxp.space import ArrayOf, Categorical, Distribution, LogUniform, Normal, RandInt, Space, Uniform

__all__ = [
    "SAMPLERS",
    "OptunaStrategy",
    "make_sampler",
    "to_optuna",
    "study_from_history",
    "distribution_of",
    "TrialSampler",
]

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

SAMPLERS = ("tpe", "cmaes", "gp", "qmc", "nsga2")
_STATES = {
    "complete": TrialState.COMPLETE,
    "fail": TrialState.FAIL,
    "pruned": TrialState.PRUNED,
    "running": TrialState.RUNNING,
}


def distribution_of(name: str, dist: Distribution) -> BaseDistribution:
    """The Optuna distribution of one of gitxp's (a usage error for one an informed search cannot bound)."""
    if isinstance(dist, LogUniform):
        return FloatDistribution(dist.low, dist.high, log=True)
    if isinstance(dist, Uniform):
        return FloatDistribution(min(dist.low, dist.high), max(dist.low, dist.high))
    if isinstance(dist, RandInt):
        return IntDistribution(dist.low, dist.high)
    if isinstance(dist, Categorical):
        return CategoricalDistribution(list(dist.values))
    if isinstance(dist, Normal):
        raise UsageError(
            f"{name}=normal({dist.mu:g},{dist.sigma:g}) has no bounds, and informed strategies search a bounded "
            f"range: use uniform(a,b) or loguniform(a,b) for {name}, or --strategy random"
        )
    raise UsageError(f"{name}: informed strategies cannot search a {type(dist).__name__} distribution")


def to_optuna(space: Space) -> dict[str, BaseDistribution]:
    """The searched dimensions of a space: sampled params, and grid axes as categorical choices."""
    dims: dict[str, BaseDistribution] = {
        k: CategoricalDistribution(list(dict.fromkeys(v))) for k, v in space.grid.items()
    }
    for name, dist in space.sample.items():
        if isinstance(dist, ArrayOf):  # one dimension per element: name[0], name[1], ...
            dims.update({f"{name}[{i}]": distribution_of(name, dist.item) for i in range(dist.length)})
        else:
            dims[name] = distribution_of(name, dist)
    return dims


def _fold(params: Mapping[str, Any], space: Space) -> dict[str, Any]:
    """``lr[0]``, ``lr[1]`` back into the list param ``lr`` (Studio's array flag)."""
    out = {k: v for k, v in params.items() if "[" not in k}
    for name, dist in space.sample.items():
        if isinstance(dist, ArrayOf):
            out[name] = [params.get(f"{name}[{i}]") for i in range(dist.length)]
    return out


def _unfold(params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, list):
            out.update({f"{name}[{i}]": v for i, v in enumerate(value)})
        else:
            out[name] = value
    return out


def make_sampler(name: str, seed: int | None, objectives: int) -> optuna.samplers.BaseSampler:
    """Optuna's sampler for a strategy name, with the settings gitxp documents (defaults plus a constant liar)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _make_sampler(name, seed, objectives)


def _make_sampler(name: str, seed: int | None, objectives: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
    if name == "cmaes":
        if objectives > 1:
            raise UsageError("--strategy cmaes optimises one --metric; for several use nsga2 or tpe")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        try:
            import scipy  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            raise UsageError("--strategy gp needs torch and scipy: pip install 'gitxp[gp]'") from None
        return optuna.samplers.GPSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise UsageError(f"unknown sampler {name!r}: expected one of {', '.join(SAMPLERS)}")


def _contained(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def study_from_history(
    history: History,
    distributions: Mapping[str, BaseDistribution],
    directions: Sequence[str],
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """An in-memory study holding every trial of ``history`` (params outside today's space are left out)."""
    with quiet():  # one throw-away study per proposal: Optuna's "A new study created" each time
        study = optuna.create_study(
            sampler=sampler,
            pruner=pruner,
            directions=["minimize" if d == "min" else "maximize" for d in directions],
        )
    trials = []
    for trial in history.trials:
        dists = dict(distributions)
        for name, text in trial.distributions.items():
            if name not in dists:
                try:
                    dists[name] = optuna.distributions.json_to_distribution(text)
                except (ValueError, KeyError, TypeError):
                    continue
        params = {k: v for k, v in _unfold(trial.params).items() if k in dists and _contained(dists[k], v)}
        state = _STATES[trial.state]
        values = trial.values if state == TrialState.COMPLETE else None
        if values is not None and (len(values) != len(directions) or not all(map(math.isfinite, values))):
            state, values = TrialState.FAIL, None
        trials.append(
            create_trial(
                state=state,
                values=values,
                params=params,
                distributions={k: dists[k] for k in params},
                intermediate_values=dict(trial.intermediate),
                system_attrs=dict(trial.system_attrs),
                user_attrs={"run_id": trial.run_id},
            )
        )
    if trials:
        study.add_trials(trials)
    return study


class OptunaStrategy:
    """``--strategy tpe|cmaes|gp|qmc|nsga2``: one of Optuna's samplers over the store's history."""

    informed = True

    def __init__(
        self,
        space: Space,
        *,
        sampler: str,
        seed: int | None = None,
        n: int | None = None,
        objective: tuple[str, str] | None = None,
        objectives: Sequence[tuple[str, str]] | None = None,
        history: History | None = None,
        **_: Any,
    ) -> None:
        self.objectives = list(objectives or ([objective] if objective else []))
        if not self.objectives:
            raise UsageError(f"--strategy {sampler} needs --metric NAME:min|max (what to optimise)")
        if any(goal not in ("min", "max") for _, goal in self.objectives):
            raise UsageError(f"--strategy {sampler}: --metric needs :min or :max, not :last")
        if n is not None and n < 1:
            raise UsageError(f"--strategy {sampler}: -n must be at least 1")
        self.name = sampler
        self.space = space
        self.distributions = to_optuna(space)
        self.define_by_run = not self.distributions  # params are sampled through the run (gitxp.optimize)
        self.total: int | None = n
        self.count = 0
        self.history = history or History(objectives=self.objectives)
        base = len(self.history.trials)
        self.sampler = make_sampler(sampler, None if seed is None else seed + base, len(self.objectives))
        self.pending_meta: dict[str, Any] = {}
        self.pending_trial: optuna.Trial | None = None

    def study(self, history: History | None = None) -> optuna.Study:
        return study_from_history(
            history if history is not None else self.history,
            self.distributions,
            [goal for _, goal in self.objectives],
            self.sampler,
        )

    def ask(self, history: History | None = None) -> dict[str, Any] | None:
        """The next point (None when the budget is spent), given the latest history from the store."""
        if self.total is not None and self.count >= self.total:
            return None
        if history is not None:
            self.history = history
        study = self.study()
        with quiet():
            trial = study.ask(dict(self.distributions))
        self.pending_trial = trial if self.define_by_run else None
        attrs = _sampler_state(study, trial._trial_id)
        self.pending_meta = {ATTRS_KEY: attrs} if attrs else {}
        if self.distributions:
            self.pending_meta[DISTS_KEY] = _dists_json(self.distributions)
        self.count += 1
        return {**self.space.fixed, **_fold(trial.params, self.space)}

    # the first strategy protocol, for callers that do not pass a history
    def suggest(self) -> dict[str, Any] | None:
        return self.ask()

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass


def _sampler_state(study: optuna.Study, trial_id: int) -> str | None:
    """The sampler's state kept on a trial (JSON), to be stored with its run; TPE's is only a cache."""
    attrs = {
        k: v for k, v in study._storage.get_trial_system_attrs(trial_id).items() if not k.startswith("tpe:")
    }
    return json.dumps(attrs, sort_keys=True) if attrs else None


def _dists_json(distributions: Mapping[str, BaseDistribution]) -> str:
    return json.dumps(
        {k: optuna.distributions.distribution_to_json(d) for k, d in distributions.items()}, sort_keys=True
    )


class TrialSampler:
    """Define-by-run inside an informed sweep: ``run.log_uniform("lr", 1e-5, 1e-1)`` asks the sweep's sampler
    (through the Optuna trial proposed for this run) instead of drawing at random; conditional params are fine.
    The distributions drawn from are recorded in the run's meta, so later proposals know them."""

    def __init__(self, trial: optuna.Trial, run: Any) -> None:
        self.trial = trial
        self.run = run
        self.drawn: dict[str, BaseDistribution] = {}

    def sample_param(self, name: str, kind: str, *args: Any) -> Any:
        trial = self.trial
        if kind == "uniform":
            value = trial.suggest_float(name, float(args[0]), float(args[1]))
        elif kind == "log_uniform":
            value = trial.suggest_float(name, float(args[0]), float(args[1]), log=True)
        elif kind == "randint":
            value = trial.suggest_int(name, int(args[0]), int(args[1]))
        elif kind == "categorical":
            value = trial.suggest_categorical(name, list(args[0]))
        else:
            raise UsageError(
                f"run.{kind}({name!r}, ...) has no bounds, and an informed search needs them: use run.uniform "
                "or run.log_uniform"
            )
        self.drawn[name] = trial.distributions[name]
        record = {DISTS_KEY: _dists_json(self.drawn)}
        attrs = _sampler_state(
            trial.study, trial._trial_id
        )  # set by the first draw (CMA-ES's generation, ...)
        if attrs:
            record[ATTRS_KEY] = attrs
        self.run.meta(record)
        return value
