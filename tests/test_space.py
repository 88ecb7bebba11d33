"""Search spaces: Studio.ml grid specs, distributions, space files, the Sampler, and the strategies."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from gitxp.errors import UsageError
from gitxp.search.history import History, Trial
from gitxp.search.samplers import OptunaStrategy
from gitxp.search.strategies import GridStrategy, RandomStrategy
from gitxp.space import (
    Categorical,
    LogUniform,
    Normal,
    RandInt,
    Sampler,
    Space,
    Uniform,
    load_space_file,
    parse_distribution,
    parse_grid,
    parse_value,
)


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("0.01:0.01:0.1", [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]),
        ("1e-5:l5:0.1", [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]),
        ("0:u5:1", [0.0, 0.25, 0.5, 0.75, 1.0]),
        ("1e-5:10:0.1", [1e-5 + i * (0.1 - 1e-5) / 9 for i in range(10)]),
        ("0:3", [0, 1, 2, 3]),
        (":3", [0, 1, 2, 3]),
        ("0:2:6", [0, 2, 4, 6]),
        ("2,5,6", [2, 5, 6]),
        ("adam,sgd", ["adam", "sgd"]),
        ("0.1", [0.1]),
        ("relu", ["relu"]),
    ],
)
def test_grid_specs_follow_studio(spec: str, values: list[object]) -> None:
    assert (
        parse_grid(spec) == pytest.approx(values)
        if all(isinstance(v, (int, float)) for v in values)
        else parse_grid(spec) == values
    )
    assert [type(v) for v in parse_grid(spec)] == [type(v) for v in values]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty SPEC"),
        ("1:x:3", "step 'x' is not a number"),
        ("1:2:3:4", "expected start:step:end"),
        ("0:l:1", "expected a count after 'l'"),
        ("-1:l3:1", "positive"),
        ("5:1:0", "never reaches"),
        ("0:0:1", "must not be 0"),
        ("a:3", "start 'a' is not a number"),
        ("1,,2", "empty item"),
    ],
)
def test_malformed_grid_specs(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_grid(spec)
    assert not spec or repr(spec) in str(caught.value)


def test_distributions() -> None:
    assert parse_distribution("uniform(0, 1)") == Uniform(0, 1)
    assert parse_distribution("loguniform(1e-5,1e-1)") == LogUniform(1e-5, 1e-1)
    assert parse_distribution("normal(0,2)") == Normal(0, 2)
    assert parse_distribution("randint(1,6)") == RandInt(1, 6)
    assert parse_distribution("categorical(adam,sgd,3)") == Categorical(("adam", "sgd", 3))
    weighted = parse_distribution("categorical(0.8:linear,0.2:adaptive)")
    assert weighted == Categorical(("linear", "adaptive"), (0.8, 0.2))
    rng = random.Random(0)
    draws = [weighted.sample(rng) for _ in range(2000)]
    assert 0.75 < draws.count("linear") / 2000 < 0.85
    assert all(1 <= RandInt(1, 6).sample(rng) <= 6 for _ in range(100))
    assert all(1e-5 <= LogUniform(1e-5, 1e-1).sample(rng) <= 1e-1 for _ in range(100))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("uniform(1)", "takes 2 numbers"),
        ("uniform(2,1)", "low 2 is above high 1"),
        ("gamma(1,2)", "unknown distribution 'gamma'"),
        ("loguniform(0,1)", "must be positive"),
        ("randint(0.5,2)", "integers"),
        ("normal(0,-1)", "sigma must be positive"),
        ("categorical()", "at least one value"),
        ("lr", "expected uniform"),
        ("uniform(a,b)", "takes numbers"),
    ],
)
def test_malformed_distributions(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_distribution(text)


def test_parse_value_types() -> None:
    assert [parse_value(v) for v in ("1", "1.5", "1e-3", "true", "False", "none", "adam", "-2")] == [
        1,
        1.5,
        1e-3,
        True,
        False,
        None,
        "adam",
        -2,
    ]


def test_space_file_forms(tmp_path: Path) -> None:
    plain = tmp_path / "space.yaml"
    plain.write_text(
        "grid:\n  lr: 1e-3:l3:1e-1\n  layers: [1, 2]\nsample:\n  dropout: uniform(0, 0.5)\n"
        "params:\n  epochs: 5\nn: 3\nmomentum: 0.9,0.99\n"
    )
    space = load_space_file(plain)
    assert space.grid["lr"] == pytest.approx([1e-3, 1e-2, 1e-1]) and space.grid["layers"] == [1, 2]
    assert space.grid["momentum"] == [0.9, 0.99]
    assert space.sample == {"dropout": Uniform(0, 0.5)} and space.fixed == {"epochs": 5} and space.n == 3
    hypertrainer = tmp_path / "hp.yaml"
    hypertrainer.write_text(
        "training:\n  learning_rate: 0.1\nhpsearch:\n  n_trials: 7\n  params:\n"
        "    - param: training.learning_rate\n      exponent_base: 10\n      lo: -5\n      hi: -2\n"
        "    - param: training.batch\n      lo: 16\n      hi: 64\n      type: int\n"
    )
    space = load_space_file(hypertrainer)
    assert space.n == 7
    assert space.sample["training.learning_rate"] == LogUniform(1e-5, 1e-2)
    assert space.sample["training.batch"] == RandInt(16, 64)
    bad = tmp_path / "bad.yaml"
    bad.write_text("hpsearch:\n  params:\n    - lo: 1\n")
    with pytest.raises(UsageError, match="needs 'param'"):
        load_space_file(bad)
    bad.write_text("grid: [1, 2\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_space_file(bad)


def test_sampler_is_reproducible() -> None:
    a, b = Sampler(seed=3), Sampler(seed=3)

    def draws(s: Sampler) -> list[object]:
        return [
            s.uniform(0, 1),
            s.log_uniform(1e-5, 1),
            s.normal(0, 1),
            s.randint(0, 9),
            s.categorical(["a", "b"], weights=[0.9, 0.1]),
        ]

    assert draws(a) == draws(b)


def test_grid_strategy_is_the_cartesian_product_times_n() -> None:
    space = Space(fixed={"e": 1}, grid={"a": [1, 2], "b": ["x", "y", "z"]}, sample={"c": Uniform(0, 1)})
    strategy = GridStrategy(space, seed=0, n=2)
    points = list(iter(strategy.suggest, None))
    assert len(points) == 12 and strategy.total == 12
    assert {(p["a"], p["b"]) for p in points} == {(a, b) for a in (1, 2) for b in "xyz"}
    assert all(p["e"] == 1 and 0 <= p["c"] <= 1 for p in points)


def _objective(p: dict) -> float:  # a known 2-D function, minimum 0 at (0.7, -1.3)
    return (p["x"] - 0.7) ** 2 + 3 * (p["y"] + 1.3) ** 2


def _best_after(strategy: object, budget: int) -> float:
    best = float("inf")
    history = History(objectives=[("f", "min")])
    for i in range(budget):
        if hasattr(strategy, "ask"):
            point = strategy.ask(history)  # type: ignore[attr-defined]
        else:
            point = strategy.suggest()  # type: ignore[attr-defined]
        value = _objective(point)
        history.trials.append(Trial(str(i), point, "complete", [value]))
        best = min(best, value)
    return best


def test_tpe_beats_random_search_on_a_known_function() -> None:
    space = Space(sample={"x": Uniform(-5, 5), "y": Uniform(-5, 5)})
    tpe = [
        _best_after(OptunaStrategy(space, sampler="tpe", seed=s, n=60, objective=("f", "min")), 60)
        for s in range(8)
    ]
    rnd = [_best_after(RandomStrategy(space, seed=s, n=60), 60) for s in range(8)]
    assert statistics.median(tpe) < statistics.median(rnd) / 3


def test_tpe_uses_history_and_needs_an_objective() -> None:
    space = Space(sample={"x": Uniform(-5, 5), "y": Uniform(-5, 5)})
    rng = random.Random(1)
    past = [({"x": rng.uniform(-5, 5), "y": rng.uniform(-5, 5)}) for _ in range(40)]
    history = History(
        [Trial(str(i), p, "complete", [_objective(p)]) for i, p in enumerate(past)], [("f", "min")]
    )
    informed = OptunaStrategy(space, sampler="tpe", seed=0, n=10, objective=("f", "min"), history=history)
    points = [informed.ask(history) for _ in range(10)]
    assert statistics.median(_objective(p) for p in points) < statistics.median(v for _, v in history)
    with pytest.raises(UsageError, match="needs --metric"):
        OptunaStrategy(space, sampler="tpe", n=5)
    with pytest.raises(UsageError, match="needs -n"):
        RandomStrategy(space)
