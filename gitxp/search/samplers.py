"""Informed search on Optuna's samplers, behind gitxp's store (Optuna is a library here, never the storage).

An in-memory Optuna study holds the :class:`~gitxp.search.history.History` (complete, failed, pruned and running
trials, each with the sampler state it was proposed with); each proposal brings it up to date with what changed
in the store and asks the sampler for the next point. The sampler object lives as long as the sweep, so its random state moves on from proposal to proposal;
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
from optuna.trial import TrialState

from gitxp.errors import UsageError
from gitxp.search.history import ATTRS_KEY, DISTS_KEY, WARM_KEY, History, Trial
from gitxp.search.quiet import quiet
from gitxp.search.studies import contained, frozen_trial, study_from_history, unfold
from gitxp.search.warm import WarmStart, ranks
from gitxp.space import ArrayOf, Categorical, Distribution, LogUniform, Normal, RandInt, Space, Uniform

__all__ = [
    "SAMPLERS",
    "OptunaStrategy",
    "make_sampler",
    "to_optuna",
    "study_from_history",
    "frozen_trial",
    "distribution_of",
    "TrialSampler",
]

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

SAMPLERS = ("tpe", "cmaes", "gp", "qmc", "nsga2")


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


WARM_SAMPLERS = (
    "tpe",
    "gp",
)  # samplers whose whole state is the trials (a study of earlier runs means something)


class OptunaStrategy:
    """``--strategy tpe|cmaes|gp|qmc|nsga2``: one of Optuna's samplers over the store's history.

    The Optuna study lives as long as the strategy: each proposal adds to it only the trials that changed since
    the last one (``History.log``), so a proposal costs what Optuna's own ``ask`` costs, whatever the history.
    With runs of earlier versions in the history (``History.prior``) and a single objective, TPE and GP start
    warm (:mod:`gitxp.search.warm`)."""

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
        self.history = history if history is not None else History(objectives=self.objectives)
        base = len(self.history.trials)
        self.seed = seed
        self.sampler = make_sampler(sampler, None if seed is None else seed + base, len(self.objectives))
        self.pending_meta: dict[str, Any] = {}
        self.pending_trial: optuna.Trial | None = None
        self._study: optuna.Study | None = None
        self._synced: tuple[History, int] | None = None
        self._seen = 0
        self._ids: dict[str, int] = {}  # run id -> trial id in the study
        self._pending: int | None = None  # the trial id of the last proposal, until started() names its run
        self.warm: WarmStart | None = None
        self._notes: list[str] = []
        prior = self.history.prior
        if prior and len(self.objectives) == 1 and sampler in WARM_SAMPLERS:
            self.warm = WarmStart(
                prior,
                self.history.prior_versions,
                self.objectives[0][1],
                declared={k: json.loads(v) for k, v in json.loads(_dists_json(self.distributions)).items()}
                if self.distributions
                else None,
                seed=seed,
            )
            done = sum(1 for t in self.history.trials if t.state == "complete")
            self.warm.proposed = min(len(self.warm.seeds), done)  # seeds already measured by a past sweep
        elif prior:
            why = f"--strategy {sampler}" if sampler not in WARM_SAMPLERS else "several objectives"
            self._notes.append(
                f"warm start: not with {why}; the {len(prior)} runs of earlier versions are left out"
            )

    def notes(self) -> list[str]:
        """What the user should hear about this search since the last call (the warm start's summary, the
        moment it stopped trusting the earlier versions), once each."""
        notes, self._notes = self._notes, []
        return notes + (self.warm.take_notes() if self.warm is not None else [])

    def study(self, history: History | None = None) -> optuna.Study:
        """The study of this version's trials, brought up to date with ``history``."""
        if history is not None:
            self.history = history
        history = self.history
        fresh = not history.incremental or self._synced != (history, history.generation)
        if self._study is None or fresh:  # a history without a log (built by hand) is read whole every time
            kept = History([t for t in history.trials if not self._left_out(t)], history.objectives)
            self._study = study_from_history(
                kept, self.distributions, [goal for _, goal in self.objectives], self.sampler
            )
            self._ids = {t.user_attrs["run_id"]: t._trial_id for t in self._study.get_trials(deepcopy=False)}
            self._synced, self._seen = (history, history.generation), len(history.log)
            return self._study
        for trial in history.log[self._seen :]:
            if not self._left_out(trial):
                self._apply(trial)
        self._seen = len(history.log)
        return self._study

    def _left_out(self, trial: Trial) -> bool:
        """A run a distrusted prior chose (a warm start's seed): real, but not a draw of the sampler's, and
        TPE's start-up assumes its first trials are; the search goes on as if it started cold after them."""
        return trial.seeded and self.warm is not None and not self.warm.trusted

    def _apply(self, trial: Trial) -> None:
        """Add one new or changed trial to the study (a trial it holds as running gets its end)."""
        study = self._study
        assert study is not None
        storage, n = study._storage, len(self.objectives)
        frozen = frozen_trial(trial, self.distributions, n)
        known = self._ids.get(trial.run_id)
        if known is None:
            self._ids[trial.run_id] = storage.create_new_trial(study._study_id, template_trial=frozen)
            return
        held = storage.get_trial(known)
        if held.state.is_finished() or frozen.state == TrialState.RUNNING:
            return
        for name, value in frozen.params.items():
            if name not in held.params:
                dist = frozen.distributions[name]
                try:
                    storage.set_trial_param(known, name, dist.to_internal_repr(value), dist)
                except ValueError:
                    pass
        for step, value in frozen.intermediate_values.items():
            storage.set_trial_intermediate_value(known, step, value)
        storage.set_trial_state_values(known, frozen.state, frozen.values)

    def started(self, run_id: str) -> None:
        """The last proposal became run ``run_id`` (so that its end updates the trial proposed, not a copy)."""
        if self._pending is not None:
            self._ids[run_id] = self._pending
            self._pending = None

    def ask(self, history: History | None = None) -> dict[str, Any] | None:
        """The next point (None when the budget is spent), given the latest history from the store."""
        if self.total is not None and self.count >= self.total:
            return None
        study = self.study(history)
        kind = "cold"
        if self.warm is not None:
            trusted = self.warm.trusted
            self.warm.check(self.history.trials)
            kind = self.warm.next_kind()
            if trusted and not self.warm.trusted:  # dropped just now: the study without the seeds
                self._synced = None
                study = self.study()
        if kind == "seed" and self.warm is not None:
            point = unfold(self.warm.take_seed())
            if self.distributions:
                point = {
                    k: v
                    for k, v in point.items()
                    if k in self.distributions and contained(self.distributions[k], v)
                }
            study.enqueue_trial(point)
        if kind == "warm":
            with quiet():
                trial = self._warm_study().ask(dict(self.distributions))
            self._pending = None
        else:
            with quiet():
                trial = study.ask(dict(self.distributions))
            self._pending = trial._trial_id
        if self.warm is not None:
            self.warm.advance()
        self.pending_trial = trial if self.define_by_run else None
        attrs = _sampler_state(trial.study, trial._trial_id)
        self.pending_meta = {ATTRS_KEY: attrs} if attrs else {}
        if self.distributions:
            self.pending_meta[DISTS_KEY] = _dists_json(self.distributions)
        if kind == "seed":
            self.pending_meta[WARM_KEY] = "seed"
        self.count += 1
        return {**self.space.fixed, **_fold(trial.params, self.space)}

    def _warm_study(self) -> optuna.Study:
        """A study of the earlier versions' runs (their rank within their version) and this version's (their
        rank among themselves), minimised, for one warm proposal."""
        assert self.warm is not None
        warm = self.warm
        seed = None if self.seed is None else self.seed * 7919 + self.count
        study = optuna.create_study(sampler=make_sampler(self.name, seed, 1), direction="minimize")
        current = self.history.trials
        done = [
            t for t in current if t.state == "complete" and t.value is not None and math.isfinite(t.value)
        ]
        sign = 1.0 if warm.goal == "min" else -1.0
        scores = dict(zip((t.run_id for t in done), ranks([sign * (t.value or 0.0) for t in done])))
        trials = [frozen_trial(t, self.distributions, 1, [warm.score(t)]) for t in warm.thinned(len(done))]
        for t in current:
            if t.run_id in scores:
                trials.append(frozen_trial(t, self.distributions, 1, [scores[t.run_id]]))
            elif t.state == "running":
                trials.append(frozen_trial(t, self.distributions, 1))
        study.add_trials(trials)
        return study

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
        if not self.drawn:
            # the study's cached list of trials is per thread and only its ask() clears it: the run may draw in
            # another thread (an executor's), where the list would still be the one of an earlier trial
            trial.study._thread_local.cached_all_trials = None
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
