"""Issue 8: informed search on Optuna's samplers behind the store, end to end (CLI on real repos, Python API)."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_wrapper import write

import gitxp
from gitxp import hookimpl
from gitxp.plugins import get_plugin_manager
from gitxp.search.history import History, load_history
from gitxp.store import Store

QUAD = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--y", type=float, default=0.0)
a = p.parse_args()
print(f"gitxp: f={(a.x - 0.7) ** 2 + 3 * (a.y + 1.3) ** 2}")
"""
SPACE = ["--sample", "x=uniform(-5,5)", "--sample", "y=uniform(-5,5)", "--metric", "f:min"]
CMD = ["--", sys.executable, "quad.py", "--x", "0", "--y", "0"]


def _points(experiment: str) -> list[tuple[float, float]]:
    table = gitxp.load(experiment=experiment, sort="started")
    return list(zip(table["params.x"].to_pylist(), table["params.y"].to_pylist()))


def test_two_sweeps_continue_one_search(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    for _ in range(2):  # the same command twice, same seed: one search of 24, not the same 12 twice
        result = invoke("run", "-e", "q", "--strategy", "tpe", "-n", "12", "--seed", "5", *SPACE, *CMD)
        assert result.exit_code == 0, result.output
    points = _points("q")
    assert len(points) == 24 and len(set(points)) == 24
    f = gitxp.load(experiment="q", sort="started")["results.f"].to_pylist()
    assert min(f[12:]) < min(f[:12])  # the second sweep built on the first one's results
    history = load_history(Store.open(), "q", ["x", "y"], [("f", "min")])
    assert isinstance(history, History) and len(history) == 24 and history.count("complete") == 24


def test_crashed_and_failed_runs_are_failed_trials(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import time, gitxp\nrun = gitxp.start(experiment='q', params={'x': 0.5, 'y': 0.5}, metric='f:min')\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=repo, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    write(repo, "quad.py", QUAD + "\nimport sys\nsys.exit(3 if a.x > 4.5 else 0)\n")
    result = invoke("run", "-e", "q", "--strategy", "tpe", "-n", "6", "--seed", "1", *SPACE, *CMD)
    assert result.exit_code in (0, 1), result.output
    history = load_history(Store.open(), "q", ["x", "y"], [("f", "min")])
    states = {t.run_id: t.state for t in history.trials}
    crashed = gitxp.load(experiment="q", status="crashed")["run_id"].to_pylist()
    assert len(crashed) == 1 and states[crashed[0]] == "fail"
    assert history.count("complete") + history.count("fail") == 7


def test_running_runs_are_in_the_history_and_j2_never_proposes_twice(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    with gitxp.start(experiment="q", params={"x": 1.0, "y": 1.0}, metric="f:min"):
        history = load_history(Store.open(), "q", ["x", "y"], [("f", "min")])
        assert [t.state for t in history.trials] == ["running"]
    write(repo, "quad.py", "import time\ntime.sleep(0.2)\n" + QUAD)
    result = invoke("run", "-e", "j", "--strategy", "tpe", "-n", "14", "-j", "2", "--seed", "0", *SPACE, *CMD)
    assert result.exit_code == 0, result.output
    points = _points("j")
    assert len(points) == 14 and len(set(points)) == 14


def test_pruning_stops_a_wrapped_script(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "curve.py",
        """
        import sys, time
        bad = float(sys.argv[1])
        for step in range(30):
            print(f"gitxp: step={step} loss={bad + 1.0 / (step + 1)}", flush=True)
            time.sleep(0.03)
        print(f"gitxp: loss={bad}")
        """,
    )
    result = invoke(
        "run", "-e", "p", "--grid", "bad=0.1,0.2,0.15,5,6", "--prune", "median", "--metric", "loss:min",
        "--", sys.executable, "curve.py", "{bad}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["params.bad"]: r for r in gitxp.load(experiment="p").to_pylist()}
    assert {rows[b]["status"] for b in (0.1, 0.2, 0.15)} == {"finished"}
    assert rows[5.0]["status"] == "pruned" and rows[6.0]["status"] == "pruned"
    assert rows[5.0]["meta.pruned.step"] < 29
    steps = gitxp.metrics(rows[6.0]["run_id"])["step"].to_pylist()
    assert max(steps) < 29  # stopped early: SIGTERM to the script
    assert "2 pruned (saving about" in result.output
    history = load_history(Store.open(), "p", ["bad"], [("loss", "min")])
    assert history.count("pruned") == 2


def test_multi_objective_front(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "mo.py",
        """
        import sys
        w, d = float(sys.argv[1]), int(sys.argv[2])
        print(f"gitxp: acc={1 - 1 / (1 + w * d)} latency_ms={w * d * 3}")
        """,
    )
    result = invoke(
        "run", "-e", "mo", "--sample", "w=0.1:10:l", "--sample", "d=randint(1,8)", "--strategy", "nsga2",
        "-n", "12", "--seed", "1", "--metric", "acc:max", "--metric", "latency_ms:min",
        "--", sys.executable, "mo.py", "{w}", "{d}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Pareto front:" in result.output
    front = json.loads(invoke("ls", "-e", "mo", "--pareto", "--format", "json").output)
    everything = gitxp.load(experiment="mo").to_pylist()
    ids = {r["run_id"] for r in front}
    for run in everything:  # nothing outside the front beats a front run on both objectives
        for member in front:
            better = run["results.acc"] >= member["results"]["acc"] and (
                run["results.latency_ms"] <= member["results"]["latency_ms"]
            )
            strictly = run["results.acc"] > member["results"]["acc"] or (
                run["results.latency_ms"] < member["results"]["latency_ms"]
            )
            assert not (better and strictly), (run, member)
    assert 1 <= len(ids) <= len(everything)
    importance = invoke("show", "-e", "mo", "--importance")
    assert importance.exit_code == 0 and "param importance for acc" in importance.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--sample", "x=0:1:q", "--strategy", "tpe", "-n", "3", "--metric", "f:min"], "'0:1:q'"),
        (["--sample", "x=normal(0,1)", "--strategy", "tpe", "-n", "3", "--metric", "f:min"], "no bounds"),
        (["--sample", "x=uniform(0,1)", "--strategy", "tpe", "-n", "3"], "needs --metric"),
        (["--sample", "x=uniform(0,1)", "--strategy", "tpe", "-n", "3", "--parse", "f=(?P<f>[0-9.]+)"], "needs --metric NAME:min|max (what to optimise); --parse reads f: e.g. --metric f:max"),
        (["--sample", "x=uniform(0,1)", "--strategy", "tpe", "--metric", "f:min"], "needs -n"),
        (["--sample", "x=uniform(0,1)", "--strategy", "cmaes", "-n", "3", "--metric", "f:min", "--metric", "g:max"], "cmaes optimises one"),
        (["--sample", "x=0:1:5:", "-n", "3"], "only meaningful with the array flag"),
    ],
)  # fmt: skip
def test_bad_search_input_is_exit_2(repo: Path, invoke, args: list[str], text: str) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    result = invoke("run", *args, "--allow-unused", *CMD)
    assert result.exit_code == 2, result.output
    assert text in result.output and result.output.count("\n") == 1
    assert gitxp.load().num_rows == 0


def test_studio_array_spec_becomes_a_list_param(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "arr.py",
        "import json, os\nv = json.loads(os.environ['GITXP_PARAMS'])['v']\nprint(f'gitxp: s={sum(v)}')\n",
    )
    result = invoke(
        "run", "-e", "arr", "--sample", "v=0:1:3:a", "--strategy", "tpe", "-n", "4", "--metric", "s:max",
        "--allow-unused", "--", sys.executable, "arr.py",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    values = gitxp.load(experiment="arr")["params.v"].to_pylist()
    assert all(isinstance(v, list) and len(v) == 3 and all(0 <= x <= 1 for x in v) for v in values)


def _branin(run: gitxp.Run) -> float:
    return _branin_of(run.uniform("x", -5, 10), run.uniform("y", 0, 15))


def _branin_of(x: float, y: float) -> float:
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )


@pytest.mark.parametrize("strategy", ["tpe", "cmaes", "qmc", "gp", "random"])
def test_optimize_with_every_strategy(repo: Path, strategy: str) -> None:
    if strategy == "gp":
        pytest.importorskip("torch")
    best = gitxp.optimize(
        _branin, n_trials=12, experiment=strategy, metric="branin:min", strategy=strategy, seed=0
    )
    assert isinstance(best, gitxp.Run) and best.status == "finished"
    table = gitxp.load(experiment=strategy)
    assert table.num_rows == 12 and min(table["results.branin"].to_pylist()) == best.results["branin"]
    again = gitxp.optimize(
        _branin, n_trials=4, experiment=strategy, metric="branin:min", strategy=strategy, seed=0
    )
    assert gitxp.load(experiment=strategy).num_rows == 16 and isinstance(again, gitxp.Run)


def test_define_by_run_conditional_space_and_pruning(repo: Path) -> None:
    seen: list[dict[str, Any]] = []

    def objective(run: gitxp.Run) -> float:
        optimizer = run.categorical("optimizer", ["sgd", "adam"])
        lr = run.log_uniform("lr", 1e-4, 1e-1)
        momentum = run.uniform("momentum", 0.0, 0.99) if optimizer == "sgd" else 0.0
        loss = 1.0
        for step in range(10):
            loss = abs(math.log10(lr) + 2) + (0.5 if optimizer == "adam" else momentum / 10) + 1 / (step + 1)
            run.log(step=step, loss=loss)
            if run.should_prune():
                break
        seen.append(dict(run.params))
        return loss

    best = gitxp.optimize(
        objective, n_trials=20, experiment="cond", metric="loss:min", seed=2, prune="median"
    )
    assert isinstance(best, gitxp.Run)
    assert all(("momentum" in p) == (p["optimizer"] == "sgd") for p in seen)
    statuses = gitxp.load(experiment="cond")["status"].to_pylist()
    assert statuses.count("pruned") >= 1 and statuses.count("finished") >= 3
    dists = gitxp.load(experiment="cond")["meta.search.dists"].to_pylist()
    assert all(d and "lr" in json.loads(d) for d in dists)


def test_ask_tell_and_multi_objective_api(repo: Path) -> None:
    sweep = gitxp.Sweep(experiment="at", metric="branin:min", seed=0)
    for _ in range(5):
        with sweep.ask() as run:
            run.result(branin=_branin(run))
    best = sweep.best()
    assert isinstance(best, gitxp.Run) and gitxp.load(experiment="at").num_rows == 5

    def two(run: gitxp.Run) -> dict[str, float]:
        w = run.uniform("w", 0.1, 10)
        return {"acc": 1 - 1 / (1 + w), "cost": w}

    front = gitxp.optimize(
        two, n_trials=8, experiment="mo2", metric=["acc:max", "cost:min"], strategy="nsga2", seed=0
    )
    assert isinstance(front, list) and front and all(r.status == "finished" for r in front)


class Recording:
    """A third-party strategy: it must get the same History object the built-ins get."""

    seen: list[Any] = []

    @hookimpl
    def gitxp_search_strategies(self, register: Any) -> None:
        class Mine:
            def __init__(self, space: Any, **options: Any) -> None:
                Recording.seen.append(options["history"])
                self.total = 1

            def ask(self, history: History) -> dict[str, Any] | None:
                Recording.seen.append(history)
                return None if len(Recording.seen) > 2 else {"x": 1.0, "y": 2.0}

        register("mine", Mine)


def test_third_party_strategy_gets_the_history(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    plugin = Recording()
    get_plugin_manager().register(plugin)
    try:
        result = invoke("run", "-e", "q", "--strategy", "mine", *SPACE, *CMD)
    finally:
        get_plugin_manager().unregister(plugin)
    assert result.exit_code == 0, result.output
    assert all(isinstance(h, History) for h in Recording.seen) and len(Recording.seen) >= 2


@pytest.mark.parametrize(
    "args", [["-c", "import gitxp"], ["-m", "gitxp", "ls"], ["-m", "gitxp", "show", "--help"]]
)
def test_listing_never_imports_optuna(repo: Path, args: list[str]) -> None:
    probe = "import sys, runpy; sys.argv = ['gitxp'] + sys.argv[1:]; "
    code = (
        f"import sys; sys.argv = {['gitxp', *args[2:]]!r}\n"
        "try:\n    import runpy; runpy.run_module('gitxp', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('optuna' in sys.modules)\n"
        if args[0] == "-m"
        else "import gitxp, sys; print('optuna' in sys.modules)"
    )
    del probe
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_proposing_the_1000th_trial_is_fast_enough(repo: Path) -> None:
    """Not a timing test: checks that history building scales by running it on 300 recorded runs."""
    store = Store.open()
    for i in range(300):
        with gitxp.start(experiment="big", params={"x": i / 300, "y": 0.5}, metric="f:min") as run:
            run.result(f=(i / 300 - 0.3) ** 2)
    store.flush()
    started = time.perf_counter()
    history = load_history(store, "big", ["x", "y"], [("f", "min")])
    assert len(history) == 300
    from gitxp.search.samplers import OptunaStrategy
    from gitxp.space import Space, Uniform

    strategy = OptunaStrategy(
        Space(sample={"x": Uniform(0, 1), "y": Uniform(0, 1)}),
        sampler="tpe",
        n=1,
        objective=("f", "min"),
        history=history,
    )
    assert strategy.ask(history) is not None
    assert time.perf_counter() - started < 30  # generous: a sanity bound, the benchmark measures it


def test_metric_files_feed_the_pruner_while_the_script_runs(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(
        repo,
        "files.py",
        """
        import os, sys, time
        bad = float(sys.argv[1])
        with open(os.path.join(os.environ["GITXP_OUTPUT_DIR"], "metric_loss.log"), "w") as f:
            for step in range(40):
                f.write(f"{step}\\t{bad + 1.0 / (step + 1)}\\n")
                f.flush()
                time.sleep(0.05)
        """,
    )
    result = invoke(
        "run", "-e", "files", "--grid", "bad=0.1,0.2,0.15,9", "--prune", "median", "--metric", "loss:min",
        "--", sys.executable, "files.py", "{bad}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["params.bad"]: r for r in gitxp.load(experiment="files").to_pylist()}
    assert rows[9.0]["status"] == "pruned" and rows[0.1]["status"] == "finished"
    assert len(gitxp.metrics(rows[0.1]["run_id"])) == 40  # read live and at the end: no point twice


def test_space_file_with_an_informed_strategy(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    (repo / "space.yaml").write_text("sample:\n  x: uniform(-5,5)\n  y: '-5:5:'\nn: 6\n")
    result = invoke(
        "run", "-e", "sp", "--space", "space.yaml", "--strategy", "tpe", "--metric", "f:min", *CMD
    )
    assert result.exit_code == 0, result.output
    assert gitxp.load(experiment="sp").num_rows == 6


@pytest.mark.parametrize("strategy", ["tpe", "cmaes"])
def test_same_proposals_as_optuna_driven_directly(repo: Path, strategy: str) -> None:
    """Rebuilding the study from the store at every proposal loses nothing: trial for trial, gitxp proposes what
    Optuna's own sampler proposes with the same seed (CMA-ES's state travels in the runs' meta)."""
    import optuna

    gitxp.optimize(_branin, n_trials=20, experiment=strategy, metric="branin:min", strategy=strategy, seed=3)
    ours = gitxp.load(experiment=strategy, sort="started")
    sampler = (
        optuna.samplers.TPESampler(seed=3, constant_liar=True, multivariate=True)
        if strategy == "tpe"
        else optuna.samplers.CmaEsSampler(seed=3, warn_independent_sampling=False)
    )
    study = optuna.create_study(sampler=sampler)
    study.optimize(
        lambda t: _branin_of(t.suggest_float("x", -5, 10), t.suggest_float("y", 0, 15)), n_trials=20
    )
    theirs = [(t.params["x"], t.params["y"]) for t in study.trials]
    assert list(zip(ours["params.x"].to_pylist(), ours["params.y"].to_pylist())) == theirs


# ---------------------------------------------------------------------- issue 26: search across versions


def _commit(repo: Path, name: str, text: str) -> str:
    from conftest import git

    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"change {name}")
    return git(repo, "rev-parse", "HEAD")


def _bowl(center: float) -> Any:
    def objective(run: gitxp.Run) -> float:
        x, y = run.uniform("x", -5, 5), run.uniform("y", -5, 5)
        return (x - center) ** 2 + (y - 1.0) ** 2

    return objective


def _xy(experiment: str) -> list[tuple[float, float]]:
    table = gitxp.load(experiment=experiment, sort="started")
    return list(zip(table["params.x"].to_pylist(), table["params.y"].to_pylist()))


def _of_version(experiment: str, version: str) -> list[dict[str, Any]]:
    rows = gitxp.load(experiment=experiment, sort="started").to_pylist()
    return [r for r in rows if r["version"] == version]


def test_warm_start_seeds_the_best_earlier_points_and_says_so(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gitxp.optimize(_bowl(2.0), n_trials=15, experiment="w", metric="f:min", seed=1)
    old = gitxp.load(experiment="w").to_pylist()
    best = min(old, key=lambda r: r["results.f"])
    _commit(repo, "train.py", "print('a small change')\n")
    capsys.readouterr()
    gitxp.optimize(_bowl(2.1), n_trials=4, experiment="w", metric="f:min", seed=1)
    err = capsys.readouterr().err
    assert "warm start: 15 runs of 1 earlier version" in err.splitlines()[0]
    new = [
        r for r in gitxp.load(experiment="w", sort="started").to_pylist() if r["version"] != old[0]["version"]
    ]
    assert len(new) == 4
    assert (new[0]["params.x"], new[0]["params.y"]) == (best["params.x"], best["params.y"])  # enqueued first


def test_no_warm_start_is_optuna_from_scratch_even_with_earlier_versions(repo: Path) -> None:
    """Earlier versions' runs no longer pass for this version's: with warm_start=False the proposals are
    Optuna's own for the same seed (before, the old runs were mixed in as if they measured today's code)."""
    import optuna

    gitxp.optimize(_bowl(-3.0), n_trials=12, experiment="c", metric="f:min", seed=5)
    _commit(repo, "train.py", "print('new code')\n")
    version = gitxp.load(experiment="c")["version"][0].as_py()
    gitxp.optimize(_bowl(3.0), n_trials=14, experiment="c", metric="f:min", seed=5, warm_start=False)
    ours = [(r["params.x"], r["params.y"]) for r in gitxp.load(experiment="c", sort="started").to_pylist()
            if r["version"] != version]  # fmt: skip
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=5, constant_liar=True, multivariate=True)
    )
    study.optimize(
        lambda t: (t.suggest_float("x", -5, 5) - 3) ** 2 + (t.suggest_float("y", -5, 5) - 1) ** 2, 14
    )
    assert ours == [(t.params["x"], t.params["y"]) for t in study.trials]


def test_a_misleading_prior_is_dropped_and_the_user_told(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gitxp.optimize(_bowl(4.0), n_trials=20, experiment="m", metric="f:min", seed=2)
    _commit(repo, "train.py", "print('the optimum moved')\n")
    capsys.readouterr()
    gitxp.optimize(_bowl(-4.0), n_trials=20, experiment="m", metric="f:min", seed=2)
    err = capsys.readouterr().err
    assert "warm start: 20 runs of 1 earlier version" in err
    stopped = [line for line in err.splitlines() if "stopped trusting" in line]
    assert len(stopped) == 1, err
    assert int(stopped[0].split(" after ")[1].split()[0]) <= 8  # a few runs, not the whole search
    rows = gitxp.load(experiment="m", sort="started").to_pylist()
    new = [(r["params.x"], r["params.y"]) for r in rows if r["version"] != rows[0]["version"]]
    seeds = int(stopped[0].split(" after ")[1].split()[0])
    import optuna  # from then on: Optuna's own proposals from scratch with the same seed, the seeds left out

    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=2, constant_liar=True, multivariate=True)
    )
    study.optimize(
        lambda t: (t.suggest_float("x", -5, 5) + 4) ** 2 + (t.suggest_float("y", -5, 5) - 1) ** 2, 20 - seeds
    )
    assert new[seeds:] == [(t.params["x"], t.params["y"]) for t in study.trials]


def test_warm_start_uses_ancestors_only_unless_asked(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import git

    git(repo, "checkout", "-qb", "side")
    _commit(repo, "side.py", "side\n")
    gitxp.optimize(
        _bowl(1.0), n_trials=5, experiment="a", metric="f:min", seed=0
    )  # a sibling, not an ancestor
    git(repo, "checkout", "-q", "main")
    gitxp.optimize(
        _bowl(1.0), n_trials=6, experiment="a", metric="f:min", seed=0
    )  # an ancestor of what follows
    _commit(repo, "train.py", "print('next')\n")
    capsys.readouterr()
    gitxp.optimize(_bowl(1.0), n_trials=1, experiment="a", metric="f:min", seed=0)
    assert "warm start: 6 runs of 1 earlier version" in capsys.readouterr().err
    gitxp.optimize(_bowl(1.0), n_trials=1, experiment="a", metric="f:min", seed=0, warm_start=True)
    assert "warm start: 11 runs of 2 earlier versions" in capsys.readouterr().err
    gitxp.optimize(_bowl(1.0), n_trials=1, experiment="a", metric="f:min", seed=0, warm_start=False)
    assert "warm start" not in capsys.readouterr().err
    with pytest.raises(gitxp.errors.UsageError, match="warm_start"):
        gitxp.optimize(_bowl(1.0), n_trials=1, experiment="a", warm_start="all")  # type: ignore[arg-type]


def test_cli_warm_start_flags_and_first_line(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    write(repo, "quad.py", QUAD)
    result = invoke("run", "-e", "q", "--strategy", "tpe", "-n", "5", "--seed", "1", *SPACE, *CMD)
    assert result.exit_code == 0, result.output
    _commit(repo, "train.py", "print('v2')\n")
    result = invoke("run", "-e", "q", "--strategy", "tpe", "-n", "2", "--seed", "1", *SPACE, *CMD)
    assert result.exit_code == 0, result.output
    first = [line for line in result.output.splitlines() if line.startswith("gitxp: sweep")][0]
    assert first.endswith("; warm start: 5 runs of 1 earlier version"), first
    result = invoke("run", "-e", "q", "--strategy", "tpe", "-n", "2", "--no-warm-start", *SPACE, *CMD)
    assert result.exit_code == 0 and "warm start" not in result.output, result.output
    result = invoke("run", "-e", "q", "--strategy", "cmaes", "-n", "2", *SPACE, *CMD)
    assert result.exit_code == 0 and "warm start: not with --strategy cmaes" in result.output, result.output


def test_history_reader_follows_the_store_incrementally(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The history is read once and then caught up: runs another process adds (committed or still running)
    and a run's end show up, an archived run leaves, and the result equals a full read."""
    from conftest import run_python

    import gitxp.search.history
    from gitxp.search.history import HistoryReader

    monkeypatch.setattr(
        gitxp.search.history, "REREAD", 0.0
    )  # runs committed elsewhere: at once, not within 2 s

    store = Store.open()
    for i in range(3):
        with gitxp.start(experiment="h", params={"x": i / 10, "y": 0.0}, metric="f:min") as run:
            run.result(f=float(i))
    store.flush()
    version = gitxp.load(experiment="h")["version"][0].as_py()
    reader = HistoryReader(store, "h", ["x", "y"], [("f", "min")], version=version)
    history = reader.read()
    assert [t.state for t in history.trials] == ["complete"] * 3 and len(history.log) == 3
    run_python(
        "import gitxp\nfor i in range(2):\n    with gitxp.start(experiment='h', params={'x': 0.5 + i, 'y': 1.0}, "
        "metric='f:min') as r:\n        r.result(f=9.0)\n",
        repo,
    )
    live = gitxp.start(experiment="h", params={"x": 0.9, "y": 0.9}, metric="f:min")
    assert reader.read() is history
    assert [t.state for t in history.trials] == ["complete"] * 5 + ["running"]
    live.result(f=-1.0)
    live.end()
    reader.read()
    assert history.trials[-1].state == "complete" and history.trials[-1].values == [-1.0]
    full = load_history(store, "h", ["x", "y"], [("f", "min")])
    assert [(t.run_id, t.state, t.values) for t in history.trials] == [
        (t.run_id, t.state, t.values) for t in full.trials
    ]
    gitxp.archive(history.trials[0].run_id)
    reader.read()
    assert len(history.trials) == 5 and history.generation == 1


def test_rank_correlation_helpers() -> None:
    from gitxp.search.warm import ranks, spearman

    assert ranks([3.0, 1.0, 2.0, 2.0]) == [1.0, 0.0, 0.5, 0.5]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0
