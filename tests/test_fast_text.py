"""``ls --format json|csv`` built column by column: the same bytes as the row-by-row encoders it replaced."""

from __future__ import annotations

import csv
import io
import json
import math

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitxp.cli import fast_text
from gitxp.cli.fast_text import _float_text, records, records_json, to_json_value, write_csv


def reference_json(table: pa.Table) -> str:
    return json.dumps(records(table), indent=2, ensure_ascii=False, allow_nan=False)


def reference_csv(table: pa.Table) -> str:
    """The row-by-row writer ``ls --format csv`` used before."""
    handle = io.StringIO()
    writer = csv.writer(handle)
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(
            [
                "" if v is None else json.dumps(to_json_value(v)) if isinstance(v, list) else to_json_value(v)
                for v in row.values()
            ]
        )
    return handle.getvalue()


def ts(values: list[float | None]) -> pa.Array:
    return pa.array(
        [None if v is None else round(v * 1_000_000) for v in values], pa.timestamp("us", tz="UTC")
    )


def tricky() -> pa.Table:
    return pa.table(
        {
            "run_id": ["a", 'q"uote\\back', "ünï — 中文 \u2028"],
            "experiment": ["e", None, "e2"],
            "started": ts([1_764_573_940.004698, 1_764_573_940.0, None]),
            "ended": ts([0.0, -86_400.0, 4_102_444_799.999999]),
            "duration": [1.0, None, 1e-7],
            "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
            "params.f": [0.1, math.nan, math.inf],
            "params.i": [1, None, -(2**62)],
            "params.b": [True, False, None],
            "params.s": ["tab\there", "nl\nx\r\x01\x1f", None],
            "params.l": pa.array([[1, 2], None, [3]], pa.list_(pa.int64())),
            "params.nested": pa.array([[[1.5]], [[]], None], pa.list_(pa.list_(pa.float64()))),
            "results.acc": [None, None, None],
            "meta.host": ["h", None, ""],
        }
    )


@pytest.mark.parametrize(
    "table",
    [
        tricky(),
        tricky().slice(0, 1),
        tricky().select(["run_id", "meta.host", "params.f", "params.i"]),  # groups in any order
        tricky().select(["run_id", "params.f", "meta.host", "params.i"]),  # interleaved: the slow path
        tricky().select(["params.f", "run_id"]),  # a group first
        tricky().select(["params.f"]),  # a row without any key
        tricky().slice(0, 0),
        pa.table({"run_id": ["x", "y"], "started": pa.array([1, None], pa.timestamp("s", tz="UTC"))}),
        pa.table({"run_id": ["x"], "other.key": [1], "params.x.y": [2.5]}),
        pa.table(  # list columns are written by Arrow (meta.argv of every run): nulls, quotes, unicode, nesting
            {
                "run_id": ["a", "b", "c", "d"],
                "meta.argv": pa.array(
                    [["train.py", "--lr", '"q\\"', "ü 中"], None, [], ["x", None]], pa.list_(pa.string())
                ),
                "meta.flags": pa.array([[True], [False, None], None, []], pa.list_(pa.bool_())),
                "meta.grid": pa.array(
                    [[[1.0, 2e-9]], [[], None], None, [[3.0]]], pa.list_(pa.list_(pa.float64()))
                ),
                "tags": pa.array([["t"], None, ["u", "v"], []], pa.list_(pa.string())),
            }
        ).slice(1),
    ],
)
def test_json_and_csv_are_byte_for_byte_what_the_row_encoders_wrote(table: pa.Table) -> None:
    assert records_json(table) == reference_json(table)
    handle = io.StringIO()
    write_csv(table, handle)
    assert handle.getvalue() == reference_csv(table)


def test_the_json_parses_back_to_the_records() -> None:
    table = tricky()
    parsed = json.loads(records_json(table))
    assert parsed[1]["run_id"] == 'q"uote\\back'
    assert parsed[0]["params"]["s"] == "tab\there" and parsed[1]["params"]["s"] == "nl\nx\r\x01\x1f"
    assert parsed[1]["params"]["f"] == "NaN" and "i" not in parsed[1]["params"]
    assert parsed[0]["started"] == "2025-12-01T07:25:40.004698+00:00"
    assert parsed[1]["started"] == "2025-12-01T07:25:40+00:00"
    assert "results" not in parsed[0]


@given(
    st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=50)
)
@settings(max_examples=300, deadline=None)
def test_arrow_writes_floats_as_python_does(values: list[float | None]) -> None:
    edges = [0.0, -0.0, 1.0, 100.0, 1e-4, 9.99e-5, 1e15, 1e16, 123456789012345.6, 5e-324, 0.1 + 0.2, -2.5e-7]
    column = pa.array(values + edges, pa.float64())
    expected = [None if v is None else float.__repr__(v) for v in column.to_pylist()]
    assert _float_text(column).to_pylist() == expected


def test_json_is_the_same_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = records_json(tricky())
    monkeypatch.setattr(fast_text, "_BATCH", 2)  # rows 0-1, then row 2: a batch without any param "i"
    assert records_json(tricky()) == whole == reference_json(tricky())


def test_a_column_named_like_a_group_keeps_the_groups_keys_flat() -> None:
    table = pa.table({"run_id": ["a"], "params": [1], "params.x": [2], "results.acc": [0.5]})
    assert records(table) == [{"run_id": "a", "params": 1, "params.x": 2, "results": {"acc": 0.5}}]
    assert records_json(table) == reference_json(table)
