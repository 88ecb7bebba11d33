"""Values: types, NaN/inf, numpy/torch, awkward keys, and type clashes between runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import gitxp
from gitxp.store.values import flatten


def test_scalar_types_round_trip(repo: Path) -> None:
    params = {
        "b": True,
        "i": 7,
        "f": 0.5,
        "s": "adam",
        "n": None,
        "l": [1, 2, 3],
        "ls": ["a", "b"],
        "ll": [[1.0, 2.0]],
    }
    with gitxp.start(params=params) as run:
        run.result(nan=float("nan"), inf=float("inf"), ninf=float("-inf"), big=2**62)
    row = gitxp.load().to_pylist()[0]
    for key, value in params.items():
        if value is not None:
            assert row[f"params.{key}"] == value, key
            assert type(row[f"params.{key}"]) is type(value)
    assert (
        math.isnan(row["results.nan"]) and row["results.inf"] == math.inf and row["results.ninf"] == -math.inf
    )
    assert row["results.big"] == 2**62


def test_awkward_keys_round_trip(repo: Path) -> None:
    keys = {"batch size": 32, "ünï©ødé": "✓", "already.dotted": 1, "nested": {"deep": {"er": 2}}}
    with gitxp.start(params=keys):
        pass
    row = gitxp.load().to_pylist()[0]
    assert row["params.batch size"] == 32
    assert row["params.ünï©ødé"] == "✓"
    assert row["params.already.dotted"] == 1
    assert row["params.nested.deep.er"] == 2


def test_numpy_values_are_converted_losslessly(repo: Path) -> None:
    np = pytest.importorskip("numpy")
    with gitxp.start(
        params={
            "lr": np.float32(0.5),
            "n": np.int64(3),
            "ok": np.bool_(True),
            "arr": np.arange(3),
            "mat": np.eye(2),
        }
    ) as run:
        run.log(loss=np.float64(0.25))
        run.result(acc=np.float64(0.75))
    row = gitxp.load().to_pylist()[0]
    assert row["params.lr"] == 0.5 and row["params.n"] == 3 and row["params.ok"] is True
    assert row["params.arr"] == [0, 1, 2] and row["params.mat"] == [[1.0, 0.0], [0.0, 1.0]]
    assert row["results.acc"] == 0.75


def test_torch_values(repo: Path) -> None:
    torch = pytest.importorskip("torch")
    with gitxp.start(params={"lr": torch.tensor(0.5), "v": torch.tensor([1, 2])}) as run:
        run.log(loss=torch.tensor(0.25))
    row = gitxp.load().to_pylist()[0]
    assert row["params.lr"] == 0.5 and row["params.v"] == [1, 2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (object(), "unsupported type"),
        ({1, 2}, "unsupported type"),
        ([1, "a"], "mixes"),
        ([["x"], [200, 200]], "mixes"),  # across sublists: was accepted, then its run could not be stored
        ([[[1]], [["a", None]]], "mixes"),
        (2**70, "64 bits"),
    ],
)
def test_unsupported_values_name_the_key(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=f"'bad key'.*{message}|{message}.*'bad key'"):
        flatten({"bad key": value}, what="param")


def test_nested_lists_that_arrow_can_store_are_kept(repo: Path) -> None:
    values = {"layers": [[64, 64], [32]], "names": [["a"], [], None, ["b", None]], "grid": [[1, 2.5], [3]]}
    with gitxp.start(params=values):
        pass
    row = gitxp.load().to_pylist()[0]
    assert row["params.layers"] == [[64, 64], [32]] and row["params.names"] == [["a"], [], None, ["b", None]]
    assert row["params.grid"] == [[1.0, 2.5], [3.0]]


def test_bad_param_fails_before_anything_is_recorded(repo: Path) -> None:
    with pytest.raises(TypeError, match="'model'"):
        gitxp.start(params={"model": object()})
    assert gitxp.load().num_rows == 0


def test_bad_metric_value_names_the_key(repo: Path) -> None:
    with gitxp.start() as run:
        with pytest.raises(TypeError, match="'loss'"):
            run.log(loss="high")


def test_type_clash_between_runs_is_unified(repo: Path) -> None:
    for value in (1, 2.5, "auto"):
        with gitxp.start(params={"lr": value, "n": 1 if value != "auto" else 2.5}):
            pass
    table = gitxp.load(sort="started")
    assert table["params.lr"].to_pylist() == ["1", "2.5", "auto"]
    assert table["params.n"].to_pylist() == [1.0, 1.0, 2.5]
