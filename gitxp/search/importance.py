"""Which params matter for an experiment's objective: Optuna's importance evaluators over the store's history.

``gitxp show -e EXP --importance`` and the dashboard's sweep page build an in-memory study from the experiment's
finished trials (with the distributions recorded when they were proposed, or ones inferred from the values: the
numeric range, or the set of choices) and ask fANOVA (default), mean decrease impurity or PED-ANOVA for each
param's share.

Conditional params: Optuna's evaluators keep only the trials that hold every param (its intersection rule), so
the categorical that gates a conditional param (``optim`` choosing whether ``momentum`` exists) lost every trial
that mattered and scored 0, and with no trial holding every param there was nothing left at all. Here a trial
without a param holds a level of its own: one more choice (``None``) of a categorical, or a value just outside a
numeric param's range (below its low end; half of it on a log scale), so the random forest of fANOVA can split
"absent" from every present value and every finished run counts.

Code versions: when the runs measured several versions of the code, the version is a factor of its own (the
pseudo-param ``(code version)``), so that what a code change did to the objective is shown as such instead of
being spread over the params (alone, ``lr`` took the whole share of an experiment whose score moved with a new
model). The header says how many versions the runs stand on.

Cost: fANOVA grows faster than linearly with the trials (a forest of 64 trees, 210 s at 5,000 runs). At most
``SAMPLE`` trials are used (``$GITXP_IMPORTANCE_SAMPLE``): a seeded random sample of a larger experiment, the same
for the same store, and the result says so (``Importance.sampled``). ``cached`` keeps results on disk by
(experiment, objective, evaluator, store state), so a second look costs a file read.

``python -m gitxp.search.importance REPO EXPERIMENT METRIC EVALUATOR`` computes one result and prints it as JSON:
the dashboard runs it in a child process it can stop at once (client gone, server stopping). Optuna is imported
only when a result is computed: the cache (``cache_key``, ``recall``) is light.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.search.history import History, Trial

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

    from gitxp.store import Store

__all__ = ["EVALUATORS", "SAMPLE", "VERSION", "Importance", "cached", "compute", "importances"]

EVALUATORS = ("fanova", "mdi", "ped-anova")
SAMPLE = 1000  # trials an importance stands on at most (a seeded sample of a larger experiment)
# fANOVA's forest: Optuna's default (64 trees, depth 64) took 26 s on 1,000 trials, this one 1.9 s (shares within
# 0.03 of it on benchmarks/bench_importance.py's data); 256 leaves a tree still split 1,000 trials finely
FOREST = {"n_trees": 32, "max_depth": 8}
VERSION = "(code version)"  # the factor standing for the code version, when the runs measured several


@dataclass(frozen=True)
class Importance:
    """Each param's share of the objective's variance (summing to 1, most important first), and what it stands
    on: ``runs`` trials used of ``eligible`` finished ones with the objective (fewer only when ``sampled``);
    ``conditional``: params absent from some of them (absence counted as a level of its own)."""

    values: dict[str, float]
    runs: int
    eligible: int
    sampled: bool
    conditional: tuple[str, ...]
    evaluator: str
    versions: int = 1  # code versions the runs measured; more than one: VERSION is a factor of its own

    def describe(self, metric: str) -> str:
        """The header line: what the values stand on."""
        used = (
            f"a sample of {self.runs:,} of {self.eligible:,} runs" if self.sampled else f"{self.runs:,} runs"
        )
        line = f"param importance for {metric} ({self.evaluator}, {used})"
        if self.conditional:
            line += f"; absent counted as a level for {', '.join(self.conditional)}"
        if self.versions > 1:
            line += f"; {self.versions} code versions, a factor of their own: {VERSION}"
        return line

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["conditional"] = list(self.conditional)
        return data


def sample_size() -> int:
    """``SAMPLE``, or ``$GITXP_IMPORTANCE_SAMPLE`` when set (at least 3)."""
    text = os.environ.get("GITXP_IMPORTANCE_SAMPLE", "")
    if not text:
        return SAMPLE
    if not text.isdigit() or int(text) < 3:
        raise UsageError(f"GITXP_IMPORTANCE_SAMPLE={text!r}: expected a whole number of at least 3")
    return int(text)


def _evaluator(name: str, seed: int) -> Any:
    import optuna

    if name == "fanova":  # a smaller forest than Optuna's default (64 trees of depth 64): see FOREST
        return optuna.importance.FanovaImportanceEvaluator(**FOREST, seed=seed)
    if name == "mdi":
        return optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=seed)
    if name == "ped-anova":
        return optuna.importance.PedAnovaImportanceEvaluator()
    raise UsageError(f"--evaluator {name!r}: expected one of {', '.join(EVALUATORS)}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _distribution(
    recorded: BaseDistribution | None, values: Sequence[Any], partial: bool
) -> BaseDistribution | None:
    """A distribution covering every value a param took (the recorded one's kind and scale, widened to the
    values); None when it never varied (and is in every trial: ``partial`` is False) or its values are not
    scalars."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    distinct = list(dict.fromkeys(repr(v) for v in values))
    if len(distinct) < 2 and not partial and not isinstance(recorded, CategoricalDistribution):
        return None
    if isinstance(recorded, CategoricalDistribution) or not all(_number(v) for v in values):
        if not all(isinstance(v, (str, int, float, bool)) for v in values):
            return None
        choices = list(recorded.choices) if isinstance(recorded, CategoricalDistribution) else []
        choices += [v for v in dict.fromkeys(values) if v not in choices]
        return CategoricalDistribution(choices)
    low, high = min(values), max(values)
    log = bool(getattr(recorded, "log", False))
    if isinstance(recorded, (FloatDistribution, IntDistribution)):
        low, high = min(low, recorded.low), max(high, recorded.high)
    elif recorded is None:
        log = low > 0 and high / low >= 100 if low > 0 else False
    if all(isinstance(v, int) for v in values) and not isinstance(recorded, FloatDistribution):
        return IntDistribution(int(low), int(high), log=log and low >= 1)
    return FloatDistribution(float(low), float(high), log=log and low > 0)


def _with_absent(dist: BaseDistribution) -> tuple[BaseDistribution, Any]:
    """``dist`` widened by a level that stands for "this trial has no such param", and that level."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        absent = None if None not in dist.choices else "(absent)"
        return CategoricalDistribution([*dist.choices, absent]), absent
    if isinstance(dist, IntDistribution):
        if dist.log and dist.low > 1:
            return IntDistribution(dist.low - 1, dist.high, log=True), dist.low - 1
        step = dist.step if not dist.log else 1
        return IntDistribution(dist.low - step, dist.high, step=step), dist.low - step
    assert isinstance(dist, FloatDistribution)
    if dist.log:
        return FloatDistribution(dist.low / 2, dist.high, log=True), dist.low / 2
    below = dist.low - max((dist.high - dist.low) / 2, abs(dist.low) * 0.5, 1e-9)
    return FloatDistribution(below, dist.high), below


def compute(
    history: History,
    *,
    evaluator: str = "fanova",
    seed: int = 0,
    sample: int | None = None,
    eligible: int | None = None,
) -> Importance:
    """Each param's importance over the finished trials of ``history`` (a seeded sample of ``sample`` of them,
    default ``sample_size()``), a trial without a param counting as a level of that param (see the module).
    ``eligible``: how many finished runs ``history`` was sampled from, when it already is a sample."""
    import optuna
    from optuna.trial import create_trial

    complete = [t for t in history.completed() if t.values and _number(t.values[0])]
    if len(complete) < 3:
        raise UsageError(
            f"importance needs at least 3 finished runs with the objective; this experiment has {len(complete)}"
        )
    limit = sample_size() if sample is None else sample
    used: list[Trial] = complete
    if len(complete) > limit:
        used = random.Random(seed).sample(complete, limit)
    names = sorted({k for t in used for k in t.params})
    dists: dict[str, BaseDistribution] = {}
    absent: dict[str, Any] = {}
    for name in names:
        recorded = None
        texts = [t.distributions[name] for t in used if t.distributions.get(name)]
        if texts:
            try:
                recorded = optuna.distributions.json_to_distribution(texts[-1])
            except (ValueError, KeyError, TypeError):
                recorded = None
        values = [t.params[name] for t in used if t.params.get(name) is not None]
        dist = _distribution(recorded, values, len(values) < len(used)) if values else None
        if dist is None:
            continue
        if len(values) < len(used):
            dist, absent[name] = _with_absent(dist)
        if dist.single():
            continue
        dists[name] = dist
    if not dists:
        raise UsageError("importance: no param varied between the finished runs")
    versions = list(dict.fromkeys(t.version or "(unknown)" for t in used))
    if len(versions) > 1:  # what the code changes did is theirs, not the params' (see the module)
        dists[VERSION] = optuna.distributions.CategoricalDistribution(versions)
    trials = []
    for t in used:
        params = {n: t.params[n] if t.params.get(n) is not None else absent[n] for n in dists if n != VERSION}
        if len(versions) > 1:
            params[VERSION] = t.version or "(unknown)"
        value = float((t.values or [math.nan])[0])
        trials.append(
            create_trial(
                state=optuna.trial.TrialState.COMPLETE, values=[value], params=params, distributions=dists
            )
        )
    import warnings

    # PED-ANOVA explains what makes the target low: a "max" objective is negated for it (and its warning saying
    # so is not shown); variance-based fANOVA and MDI do not care
    sign = (
        -1.0
        if evaluator == "ped-anova" and history.objectives[:1] and history.objectives[0][1] == "max"
        else 1.0
    )
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created in memory" line
    try:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        study.add_trials(trials)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*computes the importances of params to achieve low")
            shares = optuna.importance.get_param_importances(
                study,
                evaluator=_evaluator(evaluator, seed),
                params=list(dists),
                target=lambda t: sign * t.values[0],
            )
    finally:
        optuna.logging.set_verbosity(verbosity)
    return Importance(
        values={k: float(v) for k, v in shares.items()},
        runs=len(used),
        eligible=max(eligible or 0, len(complete)),
        sampled=len(used) < max(eligible or 0, len(complete)),
        conditional=tuple(n for n in dists if n in absent),
        evaluator=evaluator,
        versions=len(versions),
    )


def importances(history: History, *, evaluator: str = "fanova", seed: int = 0) -> dict[str, float]:
    """Each param's share of the objective's variance (they sum to 1), most important first."""
    return compute(history, evaluator=evaluator, seed=seed).values


# -------------------------------------------------------------------------- cache


def cache_key(store: Store, experiment: str, metric: tuple[str, str], evaluator: str) -> str:
    """What an importance result depends on: the experiment, objective and evaluator, the sample size, and the
    store's state (its ref, which every recorded run, archive and removal moves, and the runs still staged)."""
    head, staged = store.state()
    text = json.dumps([experiment, list(metric), evaluator, sample_size(), head, list(staged), VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cache_file(store: Store, key: str) -> Path:
    return Path(store.cache_dir) / "importance" / f"{key}.json"


def recall(store: Store, key: str) -> Importance | None:
    """A result cached under ``key`` (``cache_key``), or None."""
    try:
        data = json.loads(_cache_file(store, key).read_text())
        data["conditional"] = tuple(data["conditional"])
        return Importance(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def remember(store: Store, key: str, result: Importance) -> None:
    """Keep ``result`` under ``key`` (derived data: a failure to write is no error)."""
    path = _cache_file(store, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result.to_json()))
        os.replace(tmp, path)
    except OSError:
        pass


def sampled_history(
    store: Store, experiment: str, metric: tuple[str, str], *, seed: int = 0, sample: int | None = None
) -> tuple[History, int]:
    """The finished runs of ``experiment`` that report ``metric`` as complete trials: all of them, or a seeded
    sample of ``sample`` (default ``sample_size()``) taken from the run table before any row becomes a Python
    object (building every trial of 50,000 runs took seconds). Returns the history and how many were eligible."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from gitxp.query import objective
    from gitxp.search.history import DISTS_KEY

    history = History(objectives=[metric])
    table = store.table()
    if not table.num_rows:
        return history, 0
    table = table.filter(
        pc.and_(pc.equal(table["experiment"], experiment), pc.equal(table["status"], "finished"))
    )
    column = objective.column(metric[0], metric[1], table.column_names)
    if column is None or not table.num_rows:
        return history, 0
    values = table[column]
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        return history, 0
    table = table.filter(pc.fill_null(pc.is_finite(pc.cast(values, pa.float64())), False))
    eligible = table.num_rows
    limit = sample_size() if sample is None else sample
    if eligible > limit:  # the same sample for the same runs, whatever their order in the table
        table = table.take(pc.sort_indices(table, sort_keys=[("run_id", "ascending")]))
        picked = sorted(random.Random(seed).sample(range(eligible), limit))
        table = table.take(pa.array(picked, pa.int64()))
    params = [
        c for c in table.column_names if c.startswith("params.") and table[c].null_count < table.num_rows
    ]
    dists = f"meta.{DISTS_KEY}"
    wanted = ["run_id", "version", column, *params, *([dists] if dists in table.column_names else [])]
    for row in table.select(wanted).to_pylist():
        trial = Trial(row["run_id"], {p[7:]: row[p] for p in params if row[p] is not None}, "complete")
        trial.version = row["version"]
        trial.values = [float(row[column])]
        if row.get(dists):
            try:
                trial.distributions = json.loads(row[dists])
            except ValueError:
                pass
        history.trials.append(trial)
    return history, eligible


def cached(store: Store, experiment: str, metric: tuple[str, str], evaluator: str = "fanova") -> Importance:
    """The importance of ``experiment``'s params for ``metric`` (name, goal): from the cache when the store has
    not changed since it was computed, else computed (on a bounded sample) and cached."""
    key = cache_key(store, experiment, metric, evaluator)
    found = recall(store, key)
    if found is not None:
        return found
    history, eligible = sampled_history(store, experiment, metric)
    result = compute(history, evaluator=evaluator, eligible=eligible)
    remember(store, key, result)
    return result


def main(argv: Sequence[str]) -> int:
    """``python -m gitxp.search.importance REPO EXPERIMENT NAME:GOAL EVALUATOR``: one result as JSON on stdout
    (``{"error": ...}`` for a usage error)."""
    from gitxp.errors import GitxpError
    from gitxp.query.objective import parse
    from gitxp.store import Store

    repo, experiment, metric, evaluator = argv
    try:
        result = cached(Store.open(repo), experiment, parse(metric), evaluator)
        print(json.dumps(result.to_json()))
    except GitxpError as error:
        print(json.dumps({"error": str(error)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
