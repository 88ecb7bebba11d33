"""Warm start: runs of earlier code versions as a prior that can lose (docs/design.md, "Search across versions").

What is transferred: the earlier versions' complete trials (params and objective), each version's values turned
into ranks within that version (0 best, 1 worst), so that a change of scale between versions means nothing.

How they are used, while trusted:

1. the first proposals are earlier points (as Optuna's ``enqueue_trial``): the ``SEEDS`` best distinct ones,
   interleaved with earlier points of middling and poor rank (``PROBES``), so that this version is measured
   where the earlier values are known, good and bad;
2. after those, the sampler is asked on a study holding the earlier runs (ranks) and this version's runs (ranks
   among themselves), the earlier ones thinned as this version's runs accumulate (all of them up to ``FULL``
   complete runs of this version, none from ``HORIZON`` on; TPE itself also weighs older trials less).

How disagreement is detected: at every proposal from ``CHECK_AFTER`` complete runs of this version on, what the
earlier runs predict for each of them (the mean rank of its ``K`` nearest earlier points, in the unit cube of the
space) is compared with what this version measured: Spearman's rank correlation. Below ``RHO_MIN`` the prior is
dropped for good. The seeds then leave the sampler's study (they stay recorded runs, marked ``search.warm=seed``):
TPE's start-up assumes its first trials are its own random draws, and points clustered by a wrong prior cost it
far more than their number. So a misleading prior costs the seeds measured before the check (three, when the
best earlier points measure worse than a probe) and not more: from then on the proposals are the sampler's from
scratch, as Optuna's with the same seed.

Plain Python (no Optuna, no numpy): the caller turns trials into Optuna's.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitxp.search.history import Trial

__all__ = ["WarmStart", "SEEDS", "FULL", "HORIZON", "RHO_MIN", "spearman", "ranks"]

SEEDS = 3  # earlier best points proposed first
PROBES = (0.5, 0.9)  # and earlier points of these ranks among the rest, between them
CHECK_AFTER = 3  # complete runs of this version before the first check (two seeds and a probe)
FULL = 30  # complete runs of this version up to which every earlier run counts
HORIZON = 60  # complete runs of this version after which none does (thinned evenly in between)
RHO_MIN = 0.2  # rank correlation (predicted vs measured) below which the prior is dropped
K = 3  # nearest earlier points behind a prediction
MAX_PRIOR = 500  # newest earlier runs kept (a bound on the cost of a warm proposal)


def ranks(values: Sequence[float]) -> list[float]:
    """Average ranks scaled to [0, 1] (0 the smallest; a single value is 0.5)."""
    n = len(values)
    if n == 1:
        return [0.5]
    order = sorted(range(n), key=lambda i: values[i])
    out = [0.0] * n
    i = 0
    while i < n:
        j = i
        while j + 1 < n and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 / (n - 1)
        i = j + 1
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (0 when either side is constant)."""
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb) if va > 0 and vb > 0 else 0.0


@dataclass
class _Axis:
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] | None = None

    def unit(self, value: Any) -> float | None:
        if self.choices is not None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        v = float(value)
        lo, hi = self.low, self.high
        if self.log:
            if v <= 0 or lo <= 0:
                return None
            v, lo, hi = math.log(v), math.log(lo), math.log(hi)
        return 0.5 if hi <= lo else min(1.0, max(0.0, (v - lo) / (hi - lo)))


def _axes(trials: Sequence[Trial], declared: dict[str, Any] | None) -> dict[str, _Axis]:
    """Each param's range: the declared space's, else the distributions the runs recorded, else the values."""
    axes: dict[str, _Axis] = {}
    for name, spec in (declared or {}).items():
        axes[name] = _axis_of(spec)
    for trial in trials:
        for name, text in trial.distributions.items():
            if name not in axes:
                try:
                    axes[name] = _axis_of(json.loads(text) if isinstance(text, str) else text)
                except (ValueError, TypeError, KeyError):
                    pass
    seen: dict[str, list[Any]] = {}
    for trial in trials:
        for name, value in trial.params.items():
            if name not in axes:
                seen.setdefault(name, []).append(value)
    for name, values in seen.items():
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(values) and numbers:
            axes[name] = _Axis(min(numbers), max(numbers))
        else:
            axes[name] = _Axis(choices=tuple(dict.fromkeys(map(repr, values))))
    return axes


def _axis_of(spec: Any) -> _Axis:
    """An axis from Optuna's distribution JSON (``{"name": ..., "attributes": {...}}``)."""
    attrs = spec.get("attributes", {})
    if "choices" in attrs:
        return _Axis(choices=tuple(attrs["choices"]))
    return _Axis(float(attrs["low"]), float(attrs["high"]), bool(attrs.get("log", False)))


def _oriented(trial: Trial, goal: str) -> float | None:
    value = trial.value
    if value is None or not math.isfinite(value):
        return None
    return value if goal == "min" else -value


@dataclass
class WarmStart:
    """The prior of one search: which earlier runs, whether they are still trusted, what to propose next."""

    prior: list[Trial]
    versions: int
    goal: str  # min or max
    declared: dict[str, Any] | None = None  # param -> Optuna distribution JSON (a declared space)
    seed: int | None = None
    trusted: bool = True
    notes: list[str] = field(default_factory=list)  # what to tell the user, once each
    ended: str | None = None  # why the prior was dropped
    rho: float | None = None

    def __post_init__(self) -> None:
        complete = [t for t in self.prior if _oriented(t, self.goal) is not None]
        self.prior = complete[-MAX_PRIOR:]
        by_version: dict[str | None, list[Trial]] = {}
        for trial in self.prior:
            by_version.setdefault(trial.version, []).append(trial)
        self.scores: dict[str, float] = {}  # run id -> rank within its version (0 best)
        for trials in by_version.values():
            for trial, rank in zip(trials, ranks([_oriented(t, self.goal) or 0.0 for t in trials])):
                self.scores[trial.run_id] = rank
        self.axes = _axes(self.prior, self.declared)
        self.seeds = self._best_points()
        self.proposed = 0
        self._predictions: dict[str, float] = {}  # run id -> predict(its params)
        self.notes.append(self.summary())
        if not self.prior:
            self.trusted = False

    def summary(self) -> str:
        runs = len(self.prior)
        return (
            f"warm start: {runs} run{'' if runs == 1 else 's'} of {self.versions} earlier "
            f"version{'' if self.versions == 1 else 's'}"
        )

    def _best_points(self) -> list[dict[str, Any]]:
        """The seeds: the ``SEEDS`` best distinct earlier points, interleaved with earlier points of middling
        and poor rank (``PROBES``): measuring this version where the earlier values are known is the check."""
        newest_first = list(reversed(self.prior))
        ordered = sorted(newest_first, key=lambda t: self.scores[t.run_id])
        distinct: list[Trial] = []
        seen = set()
        for trial in ordered:
            key = json.dumps(trial.params, sort_keys=True, default=repr)
            if key not in seen and trial.params:
                seen.add(key)
                distinct.append(trial)
        best = distinct[:SEEDS]
        rest = distinct[SEEDS:]
        probes = [rest[min(len(rest) - 1, int(q * len(rest)))] for q in PROBES] if rest else []
        out: list[dict[str, Any]] = []
        for i, trial in enumerate(best):
            out.append(dict(trial.params))
            if i < len(probes) and dict(probes[i].params) not in out:
                out.append(dict(probes[i].params))
        return out

    # ------------------------------------------------------------------ trust

    def predict(self, params: dict[str, Any]) -> float:
        """What the earlier runs predict for ``params``: the mean rank of the K nearest earlier points."""
        names = list(self.axes)
        distances = []
        for trial in self.prior:
            d = 0.0
            for name in names:
                axis = self.axes[name]
                a, b = params.get(name), trial.params.get(name)
                if a is None or b is None:
                    d += 0.25
                elif axis.choices is not None:
                    d += 0.0 if a == b else 1.0
                else:
                    ua, ub = axis.unit(a), axis.unit(b)
                    d += 1.0 if ua is None or ub is None else (ua - ub) ** 2
            distances.append((d, self.scores[trial.run_id]))
        distances.sort(key=lambda item: item[0])
        near = distances[:K]
        return sum(score for _d, score in near) / len(near)

    def _predicted(self, trial: Trial) -> float:
        if trial.run_id not in self._predictions:
            self._predictions[trial.run_id] = self.predict(trial.params)
        return self._predictions[trial.run_id]

    def check(self, current: Sequence[Trial]) -> None:
        """Drop the prior when this version's complete runs disagree with it, or when they are enough."""
        if not self.trusted:
            return
        done = [t for t in current if t.state == "complete" and _oriented(t, self.goal) is not None]
        if len(done) >= CHECK_AFTER:
            measured = [_oriented(t, self.goal) or 0.0 for t in done]
            predicted = [self._predicted(t) for t in done]
            self.rho = spearman(predicted, measured)
            if self.rho < RHO_MIN:
                self._drop(
                    f"warm start: stopped trusting the earlier versions after {len(done)} runs of this one "
                    f"(what they predict and what this version measured correlate at {self.rho:+.2f})"
                )
                return
        if len(done) >= HORIZON:
            self._drop(
                f"warm start: {len(done)} runs of this version; the earlier versions' runs no longer count"
            )

    def _drop(self, why: str) -> None:
        self.trusted = False
        self.ended = why
        self.notes.append(why)

    # ------------------------------------------------------------------ proposals

    def next_kind(self) -> str:
        """``seed`` (propose the next seed), ``warm`` (the sampler on earlier and current runs) or ``cold``
        (the sampler on this version's runs alone: once the prior is dropped)."""
        if not self.trusted:
            return "cold"
        return "seed" if self.proposed < len(self.seeds) else "warm"

    def take_seed(self) -> dict[str, Any]:
        return self.seeds[self.proposed]

    def advance(self) -> None:
        self.proposed += 1

    def thinned(self, complete_now: int) -> list[Trial]:
        """The earlier runs a warm proposal uses: all at first, fewer as this version's runs accumulate."""
        keep = min(1.0, max(0.0, (HORIZON - complete_now) / (HORIZON - FULL)))
        count = round(len(self.prior) * keep)
        if count >= len(self.prior):
            return list(self.prior)
        rng = random.Random(self.seed if self.seed is not None else 0)
        return [self.prior[i] for i in sorted(rng.sample(range(len(self.prior)), count))]

    def score(self, trial: Trial) -> float:
        return self.scores[trial.run_id]

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes
