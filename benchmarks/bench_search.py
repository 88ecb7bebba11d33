"""W7 search quality: gitxp's informed strategies against Optuna's samplers driven directly, side by side.

    python benchmarks/bench_search.py [--seeds 10] [--budgets 30,100] [--quick]
    python benchmarks/bench_search.py --warm [--seeds 5] [--budget 40]     # issue 26: search across versions
    python benchmarks/bench_search.py --cost 10000                          # issue 26: per-trial cost vs history
    python benchmarks/bench_search.py --floor 0,900,9900     # Optuna's per-trial cost on a study of N trials

For each test function (2-D Branin, 6-D Hartmann, a mixed log/int/categorical "HPO-like" function; our own
implementations, known optima) and budget, the median best regret over the seeds of:

- gitxp ``strategy="tpe"`` through ``gitxp.optimize`` (every trial a real run in a real git store), sequential
  and with ``n_jobs=2``;
- Optuna's ``TPESampler`` driven directly with the same settings (``multivariate=True, constant_liar=True``, the
  same seed), ``study.optimize`` sequential and with ``n_jobs=2``;
- the same for ``cmaes`` against ``CmaEsSampler`` on the continuous functions.

Then the time to propose the 1,000th trial of an experiment (history read from the store + the sampler's ask).
Lower regret is better; the ratio column is gitxp / Optuna (the target: <= 1.2 sequential, <= 1.5 with -j 2).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

import gitxp

optuna.logging.set_verbosity(optuna.logging.ERROR)

# ---------------------------------------------------------------------- test functions (minimised)


def branin(x: float, y: float) -> float:
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


BRANIN_MIN = 0.397887

_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]
_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x: list[float]) -> float:
    total = 0.0
    for i in range(4):
        inner = sum(_A[i][j] * (x[j] - _P[i][j] * 1e-4) ** 2 for j in range(6))
        total -= _ALPHA[i] * math.exp(-inner)
    return total


HARTMANN_MIN = -3.32237

_OPT_PENALTY = {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}


def mixed(lr: float, layers: int, optimizer: str, dropout: float) -> float:
    """An HPO-like landscape: minimum 0 at lr=1e-3, 4 layers, adam, dropout 0.2."""
    return (
        (math.log10(lr) + 3) ** 2 / 4
        + (layers - 4) ** 2 / 9
        + _OPT_PENALTY[optimizer]
        + 2 * (dropout - 0.2) ** 2
    )


# each: (name, gitxp objective(run) -> value, optuna objective(trial) -> value, optimum, continuous?)


def _g_branin(run: Any) -> float:
    return branin(run.uniform("x", -5, 10), run.uniform("y", 0, 15))


def _o_branin(trial: Any) -> float:
    return branin(trial.suggest_float("x", -5, 10), trial.suggest_float("y", 0, 15))


def _g_hartmann(run: Any) -> float:
    return hartmann6([run.uniform(f"x{i}", 0, 1) for i in range(6)])


def _o_hartmann(trial: Any) -> float:
    return hartmann6([trial.suggest_float(f"x{i}", 0, 1) for i in range(6)])


def _g_mixed(run: Any) -> float:
    return mixed(
        run.log_uniform("lr", 1e-5, 1.0),
        run.randint("layers", 1, 8),
        run.categorical("optimizer", ["sgd", "adam", "rmsprop"]),
        run.uniform("dropout", 0.0, 0.8),
    )


def _o_mixed(trial: Any) -> float:
    return mixed(
        trial.suggest_float("lr", 1e-5, 1.0, log=True),
        trial.suggest_int("layers", 1, 8),
        trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"]),
        trial.suggest_float("dropout", 0.0, 0.8),
    )


FUNCTIONS: list[tuple[str, Callable[[Any], float], Callable[[Any], float], float, bool]] = [
    ("Branin", _g_branin, _o_branin, BRANIN_MIN, True),
    ("Hartmann-6", _g_hartmann, _o_hartmann, HARTMANN_MIN, True),
    ("mixed HPO-like", _g_mixed, _o_mixed, 0.0, False),
]


def _optuna_sampler(strategy: str, seed: int) -> optuna.samplers.BaseSampler:
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
    return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)


def optuna_regret(
    strategy: str, fn: Callable[[Any], float], optimum: float, budget: int, seed: int, jobs: int
) -> float:
    study = optuna.create_study(sampler=_optuna_sampler(strategy, seed))
    study.optimize(fn, n_trials=budget, n_jobs=jobs)
    return study.best_value - optimum


def gitxp_regret(
    root: Path, strategy: str, fn: Callable[[Any], float], optimum: float, budget: int, seed: int, jobs: int
) -> float:
    repo = Path(tempfile.mkdtemp(dir=root))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "f.py").write_text("# the objective\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=_GIT_ENV)
    best = gitxp.optimize(
        fn,
        n_trials=budget,
        experiment="bench",
        metric="f:min",
        strategy=strategy,
        seed=seed,
        n_jobs=jobs,
        path=repo,
    )
    assert isinstance(best, gitxp.Run)
    return best.results["f"] - optimum


_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@b",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@b",
}


def propose_1000th(root: Path) -> tuple[float, float]:
    """(seconds to read the history of 999 runs, seconds for the sampler's ask) for the 1,000th proposal."""
    repo = Path(tempfile.mkdtemp(dir=root))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "f.py").write_text("x\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=_GIT_ENV)
    gitxp.optimize(
        _g_branin, n_trials=999, experiment="big", metric="f:min", strategy="random", seed=0, path=repo
    )
    from gitxp.search.history import load_history
    from gitxp.search.samplers import OptunaStrategy
    from gitxp.space import Space

    store = gitxp.Store.open(repo)
    store.table()  # the read cache is warm, as it is for a sweep's every proposal after the first
    start = time.perf_counter()
    history = load_history(store, "big", [], [("f", "min")])
    loaded = time.perf_counter() - start
    strategy = OptunaStrategy(Space(), sampler="tpe", n=1, objective=("f", "min"), history=history, seed=0)
    start = time.perf_counter()
    strategy.ask(history)
    trial = strategy.pending_trial
    assert trial is not None
    trial.suggest_float("x", -5, 10)
    trial.suggest_float("y", 0, 15)
    asked = time.perf_counter() - start
    return loaded, asked


# ---------------------------------------------------------------------- issue 26: warm start across versions
#
# Our own test function: a 3-D shifted ellipsoid with a cosine ripple on [-5, 5]^3 (minimum 0 at ``center``). The
# earlier version's optimum is at C; a "small change" moves it by 0.4 and rescales the values (x1.3 + 2: a warm
# start must not depend on the values' scale); a "moved" optimum goes to the other side of the space (-C).

_C = (2.5, -1.5, 3.0)


def ripple(x: list[float], center: tuple[float, ...], scale: float = 1.0, offset: float = 0.0) -> float:
    d = [xi - ci for xi, ci in zip(x, center)]
    bowl = sum((i + 1) * di**2 for i, di in enumerate(d))
    wave = sum(1 - math.cos(2 * di) for di in d)
    return scale * (bowl + wave) + offset


def _g_ripple(center: tuple[float, ...], scale: float = 1.0, offset: float = 0.0) -> Callable[[Any], float]:
    return lambda run: ripple([run.uniform(f"x{i}", -5, 5) for i in range(3)], center, scale, offset)


def _o_ripple(center: tuple[float, ...]) -> Callable[[Any], float]:
    return lambda trial: ripple([trial.suggest_float(f"x{i}", -5, 5) for i in range(3)], center)


SMALL = (tuple(c + 0.4 for c in _C), 1.3, 2.0)  # center, scale, offset of the changed version
MOVED = (tuple(-c for c in _C), 1.0, 0.0)


def _repo(root: Path) -> Path:
    repo = Path(tempfile.mkdtemp(dir=root))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "f.py").write_text("# version 1\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "v1"], cwd=repo, check=True, env=_GIT_ENV)
    return repo


def warm_regret(root: Path, change: tuple[Any, float, float], budget: int, prior: int, seed: int) -> float:
    """Best regret of ``budget`` warm-started trials on the changed version, after ``prior`` trials of v1."""
    repo = _repo(root)
    kwargs: dict[str, Any] = dict(experiment="w", metric="f:min", strategy="tpe", path=repo)
    gitxp.optimize(_g_ripple(_C), n_trials=prior, seed=seed + 1000, **kwargs)
    (repo / "f.py").write_text("# version 2\n")
    subprocess.run(["git", "commit", "-qam", "v2"], cwd=repo, check=True, env=_GIT_ENV)
    center, scale, offset = change
    gitxp.optimize(_g_ripple(center, scale, offset), n_trials=budget, seed=seed, **kwargs)
    v1 = gitxp.load(experiment="w", sort="started", path=repo)
    versions = v1["version"].to_pylist()
    values = [(f - offset) / scale for v, f in zip(versions, v1["results.f"].to_pylist()) if v != versions[0]]
    assert len(values) == budget
    return min(values)


def cold_regret(change: tuple[Any, float, float], budget: int, seed: int) -> float:
    study = optuna.create_study(sampler=_optuna_sampler("tpe", seed))
    study.optimize(_o_ripple(change[0]), n_trials=budget)
    return study.best_value


def warm_main(seeds: int, budget: int, prior: int) -> None:
    import contextlib
    import io

    print(f"issue 26 warm start: median best regret over {seeds} seeds, {prior} runs of the earlier version")
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-warm-") as tmp:
        for name, change, warm_budget, target in (
            ("small change", SMALL, budget // 2, "warm N/2 <= Optuna N"),
            ("optimum moved", MOVED, budget, "warm N <= 1.5 x Optuna N"),
        ):
            with contextlib.redirect_stderr(io.StringIO()):
                ours = [warm_regret(Path(tmp), change, warm_budget, prior, s) for s in range(seeds)]
            theirs = [cold_regret(change, budget, s) for s in range(seeds)]
            a, b = statistics.median(ours), statistics.median(theirs)
            print(
                f"{name:14} gitxp warm {warm_budget:>3} trials {a:>9.4g}   Optuna TPE from scratch {budget:>3} "
                f"trials {b:>9.4g}   ratio {a / b if b > 0 else float('nan'):>5.2f}   ({target})",
                flush=True,
            )


# ---------------------------------------------------------------------- issue 26: per-trial cost


def _trivial(run: Any) -> float:
    return run.uniform("x", -5, 5) ** 2 + run.uniform("y", -5, 5) ** 2


def _trivial_o(trial: Any) -> float:
    return trial.suggest_float("x", -5, 5) ** 2 + trial.suggest_float("y", -5, 5) ** 2


def _windows(starts: list[float], total: int) -> list[tuple[str, float]]:
    """Mean ms per trial (gap between consecutive trial starts) in the windows 1-100, 900-1,000, 9,900-10,000."""
    out = []
    for lo, hi in ((1, 100), (900, 1000), (9900, 10000)):
        if hi > total:
            continue
        gaps = [b - a for a, b in zip(starts[lo - 1 : hi - 1], starts[lo:hi])]
        out.append((f"{lo:,}-{hi:,}", 1000 * statistics.mean(gaps)))
    return out


def cost_main(trials: int) -> None:
    """Per-trial cost of a ``trials``-trial TPE search of a trivial objective: gitxp.optimize (every trial a
    recorded run), then Optuna's TPESampler with sqlite storage and with its in-memory storage, in the same
    process one after the other; each window is printed as soon as it is measured (a 10,000-trial run is long)."""
    print(
        f"issue 26 per-trial cost, TPE on a trivial objective, {trials:,} trials (mean ms per trial)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-cost-") as tmp:
        root = Path(tmp)
        repo = _repo(root)
        gitxp.optimize(_trivial, n_trials=trials, experiment="c", metric="f:min", seed=0, path=repo)
        table = gitxp.load(experiment="c", sort="started", path=repo)
        ours = [t.timestamp() for t in table["started"].to_pylist()]
        for window, ms in _windows(ours, trials):
            print(f"gitxp.optimize           trials {window:>13}: {ms:7.1f} ms", flush=True)
        for name, storage in (
            ("Optuna + sqlite", f"sqlite:///{root / 'optuna.db'}"),
            ("Optuna in memory", None),
        ):
            study = optuna.create_study(storage=storage, sampler=_optuna_sampler("tpe", 0))
            starts: list[float] = []

            def clock(study: Any, trial: Any, starts: list[float] = starts, name: str = name) -> None:
                starts.append(trial.datetime_start.timestamp())
                for window, ms in _windows(starts, len(starts)):
                    if window.endswith(f"{len(starts):,}"):
                        print(f"{name:24} trials {window:>13}: {ms:7.1f} ms", flush=True)

            study.optimize(_trivial_o, n_trials=trials, callbacks=[clock])


def prefilled_cost(sizes: list[int], repeat: int = 30) -> None:
    """Optuna's per-trial cost (ask, the trivial objective, tell) with TPE on a study already holding n trials,
    for each n, with sqlite storage and in memory: the floor of a search's trial n+1 without running n trials
    first (TPE's work depends only on the trials it holds)."""
    import random

    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    dists = {"x": FloatDistribution(-5, 5), "y": FloatDistribution(-5, 5)}
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-floor-") as tmp:
        for n in sizes:
            rng = random.Random(n)
            points = [(rng.uniform(-5, 5), rng.uniform(-5, 5)) for _ in range(n)]
            trials = [
                create_trial(params={"x": x, "y": y}, distributions=dists, value=x * x + y * y)
                for x, y in points
            ]
            for name, storage in (
                ("Optuna + sqlite", f"sqlite:///{tmp}/floor{n}.db"),
                ("Optuna in memory", None),
            ):
                study = optuna.create_study(storage=storage, sampler=_optuna_sampler("tpe", 0))
                study.add_trials(trials)
                start = time.perf_counter()
                study.optimize(_trivial_o, n_trials=repeat)
                ms = 1000 * (time.perf_counter() - start) / repeat
                print(f"{name:24} trials {n + 1:,}-{n + repeat:,} after {n:,}: {ms:7.1f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budgets", default="30,100")
    parser.add_argument("--quick", action="store_true", help="3 seeds, budget 30, no -j 2 (a smoke run)")
    parser.add_argument("--warm", action="store_true", help="issue 26: warm start across code versions")
    parser.add_argument("--budget", type=int, default=40, help="--warm: Optuna's budget N")
    parser.add_argument("--prior", type=int, default=40, help="--warm: trials of the earlier version")
    parser.add_argument("--cost", type=int, metavar="TRIALS", help="issue 26: per-trial cost up to TRIALS")
    parser.add_argument(
        "--floor",
        default=None,
        metavar="N,N",
        help="issue 26: Optuna's per-trial cost after N trials (e.g. 0,900,9900)",
    )
    args = parser.parse_args()
    if args.warm:
        warm_main(args.seeds if args.seeds != 10 else 5, args.budget, args.prior)
        return
    if args.floor:
        prefilled_cost([int(n) for n in args.floor.split(",")])
        return
    if args.cost:
        cost_main(args.cost)
        return
    seeds = 3 if args.quick else args.seeds
    budgets = [30] if args.quick else [int(b) for b in args.budgets.split(",")]
    jobs_list = [1] if args.quick else [1, 2]
    print(f"W7 median best regret over {seeds} seeds (lower is better); ratio = gitxp / Optuna")
    print(f"{'function, budget':28} {'strategy':9} {'-j':>2} {'gitxp':>10} {'Optuna':>10} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-search-") as tmp:
        root = Path(tmp)
        for name, g_fn, o_fn, optimum, continuous in FUNCTIONS:
            for budget in budgets:
                for strategy in ("tpe", "cmaes") if continuous else ("tpe",):
                    for jobs in jobs_list if strategy == "tpe" else [1]:
                        ours = [
                            gitxp_regret(root, strategy, g_fn, optimum, budget, s, jobs) for s in range(seeds)
                        ]
                        theirs = [
                            optuna_regret(strategy, o_fn, optimum, budget, s, jobs) for s in range(seeds)
                        ]
                        a, b = statistics.median(ours), statistics.median(theirs)
                        ratio = a / b if b > 0 else float("nan")
                        print(
                            f"{name + ', ' + str(budget):28} {strategy:9} {jobs:>2} {a:>10.4g} {b:>10.4g} {ratio:>6.2f}",
                            flush=True,
                        )
        loaded, asked = propose_1000th(root)
        print(
            f"proposing the 1,000th trial: history from the store {loaded:.3f}s + TPE ask {asked:.3f}s = {loaded + asked:.3f}s"
        )


if __name__ == "__main__":
    main()
