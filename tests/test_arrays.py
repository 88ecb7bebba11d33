"""Arrow arrays built from buffers (gitxp.store.arrays) are those ``pa.array`` makes, and recording a run imports
no pandas (pyarrow's ``pa.array`` does, ~0.3 s, the first time it runs in a process)."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import gitxp
from gitxp.store import arrays

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from([2**53, 2**53 + 1, -(2**63), 2**63 - 1, 2**63, "", "é中\u2028", "\ud800", 0.0, -0.0]),
)
VALUES = st.one_of(
    st.lists(st.one_of(st.none(), st.integers(-(2**70), 2**70)), max_size=12),
    st.lists(st.one_of(st.none(), st.integers(-10, 10), st.floats()), max_size=12),
    st.lists(st.one_of(st.none(), st.text(max_size=6)), max_size=12),
    st.lists(st.one_of(st.none(), st.booleans()), max_size=12),
    st.lists(SCALARS, max_size=6),
    st.lists(st.one_of(st.none(), st.lists(SCALARS, max_size=4)), max_size=6),
    st.lists(st.lists(st.lists(st.integers(0, 3), max_size=2), max_size=2), max_size=3),
)


@pytest.fixture(autouse=True)
def built_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process has imported pandas (other tests): build the arrays here anyway, as a process without it."""
    monkeypatch.setattr(arrays, "_pa_array_pays", lambda size: False)


KINDS = st.sampled_from([None, pa.float64(), pa.int64(), pa.string(), pa.bool_(), pa.null()])


def same(a: Any, b: Any) -> bool:
    """Equal values, a NaN equal to a NaN (and 0.0 not to -0.0): what the arrays hold, compared cell by cell."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


def parquet(column: pa.Array) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"c": column}), sink, compression="none")
    return sink.getvalue()


@settings(max_examples=600, deadline=None)
@given(VALUES, KINDS)
@example([1.5, 2**53 + 1], None)  # an int a double cannot hold exactly: refused
@example([2**53, -(2**53)], pa.float64())
@example([["a", "b"], None, []], None)
@example([[], []], None)
@example([float("nan"), None, 1.0], None)  # NaN is the same value in both (equals() says NaN != NaN)
@example([[float("nan")], None], None)
def test_the_same_arrays_as_pa_array(values: list[Any], kind: pa.DataType | None) -> None:
    try:
        expected = pa.array(values, kind)
    except Exception as error:  # what pa.array refuses is refused alike
        with pytest.raises(type(error)):
            arrays.array(values, kind)
        return
    built = arrays.array(values, kind)
    assert built.type == expected.type
    # not built.equals(expected): it holds a NaN unequal to itself
    assert same(built.to_pylist(), expected.to_pylist()), (values, kind)
    assert built.null_count == expected.null_count
    assert parquet(built) == parquet(expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 4e9)), max_size=8))
def test_timestamps_as_pa_array_makes_them(seconds: list[float | None]) -> None:
    micros = [None if v is None else round(v * 1_000_000) for v in seconds]
    assert arrays.timestamps(seconds).equals(pa.array(micros, pa.timestamp("us", tz="UTC")))


def test_recording_a_run_imports_no_pandas(repo: Path) -> None:
    script = (
        "import sys\n"
        "import gitxp\n"
        "from gitxp.store.committer import flush_all\n"
        "with gitxp.start(params={'lr': 0.1, 'n': 3, 'name': 'x', 'on': True, 'none': None, 'ids': [1, 2]}) as run:\n"
        "    for step in range(3):\n"
        "        run.log(step=step, loss=1.0 / (step + 1))\n"
        "    run.result(acc=0.5)\n"
        "flush_all()\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
    (row,) = gitxp.load(path=repo).to_pylist()
    assert row["params.ids"] == [1, 2] and row["params.none"] is None and row["results.acc"] == 0.5
    assert gitxp.metrics(row["run_id"], path=repo)["value"].to_pylist() == [1.0, 0.5, 1 / 3]
