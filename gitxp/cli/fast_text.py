"""Run tables as JSON and CSV text, column by column: the same bytes as ``json.dumps(records(t), indent=2)`` and
``csv.writer`` row by row, about 5x faster at 100,000 runs.

``json.dumps`` with ``indent`` runs Python's pure-Python encoder (the C one only does compact output): 100,000 runs
took ~6 s of encoder calls. Here every cell is encoded once, by Arrow's compute functions where they write the
same text (timestamps, integers, booleans, strings without control characters, floats in fixed notation) and
otherwise by a C function of Python's (``float.__repr__``, the C string escaper; any other value by
``json.dumps``); rows are joined from those pieces, in batches of ``_BATCH`` rows, with the indentation
``indent=2`` writes. ``records_json`` falls back to the encoder for
a table whose group columns (``params.*`` ...) are not contiguous, where the key order would depend on the row.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from json.encoder import encode_basestring  # the C escaper (ensure_ascii=False)
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["json_dumps", "records", "records_json", "to_json_value", "write_csv"]

_GROUPS = ("params", "results", "meta")
_BATCH = 8192  # rows encoded at a time by records_json


def to_json_value(value: Any) -> Any:
    """A cell as JSON: timestamps as ISO 8601, NaN and infinities as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    return value


def records(table: pa.Table, *, nested: bool = True) -> list[dict[str, Any]]:
    """Rows as dicts; with ``nested``, ``params.lr`` becomes ``{"params": {"lr": ...}}`` (unless the table also has
    a column named ``params``: then ``params.lr`` stays a key of its own). Null cells are left out of the groups
    (a run has only the params it was given). Converted column by column (timestamps to ISO 8601 by
    Arrow): building a datetime per cell made ``ls --format json`` of 100,000 runs take seconds."""
    columns = [(name, *name.partition(".")[::2], _json_column(table[name])) for name in table.column_names]
    # a column named "params" keeps the "params.x" columns flat
    groups = [g for g in _GROUPS if g not in table.column_names]
    out = []
    for i in range(table.num_rows):
        item: dict[str, Any] = {}
        for name, group, key, values in columns:
            value = values[i]
            if nested and key and group in groups:
                if value is not None:
                    item.setdefault(group, {})[key] = value
            else:
                item[name] = value
        out.append(item)
    return out


def _iso_text(column: Any) -> Any:
    """A UTC microsecond timestamp column as ``isoformat()`` writes it (an Arrow string array); None otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if not (pa.types.is_timestamp(kind) and kind.tz in ("UTC", "+00:00") and kind.unit == "us"):
        return None
    # Arrow's cast writes "2026-12-01 06:31:05.123456" (7x faster than strftime); isoformat() has a "T",
    # drops an all-zero fraction, and ends in +00:00 (the fraction is the only "." in the text)
    text = pc.cast(column.cast(pa.timestamp("us")), pa.string())
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    text = pc.replace_substring(text, ".000000", "")
    return pc.binary_join_element_wise(text, "+00:00", "")


def _json_column(column: Any) -> list[Any]:
    """A column's cells as ``to_json_value`` makes them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    text = _iso_text(column)
    if text is not None:
        return text.to_pylist()
    values = column.to_pylist()
    if pa.types.is_floating(kind):
        if pc.all(pc.or_kleene(pc.is_finite(column), pc.is_null(column))).as_py() is False:
            return [to_json_value(v) for v in values]
        return values
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_string(kind):
        return values
    return [to_json_value(v) for v in values]


def json_dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)


def _dumps(value: Any, level: int) -> str:
    """``value`` as the indented encoder writes it at nesting ``level`` (its inner lines shifted right)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    return text.replace("\n", "\n" + "  " * level) if "\n" in text else text


def _float_text(column: Any) -> Any:
    """``float.__repr__`` of each cell of a float column without NaN or infinities (null stays null), written by
    Arrow where its shortest round-trip digits are what Python writes: fixed notation for 1e-4 <= |x| < 1e16 (Arrow
    drops the ".0" of whole numbers: added back); the cells Arrow writes in exponent form go through Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    text = pc.cast(column, pa.string())
    size = pc.abs(column)
    arrow = pc.and_(
        pc.invert(pc.match_substring_regex(text, "[en]")),
        pc.or_(pc.equal(column, 0), pc.and_(pc.greater_equal(size, 1e-4), pc.less(size, 1e16))),
    )
    whole = pc.invert(pc.match_substring(text, "."))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    python = pc.invert(pc.fill_null(arrow, True))
    if pc.any(python).as_py():
        values = pc.filter(column, python).to_pylist()
        text = pc.replace_with_mask(text, python, pa.array([float.__repr__(v) for v in values], pa.string()))
    return text


def _text(column: Any, level: int) -> Any:
    """Each cell of ``column`` as ``json.dumps(..., indent=2)`` writes it at nesting ``level`` (an Arrow string
    array, null for a null cell), when Arrow can write it: timestamps, integers, booleans, finite floats, strings
    without control characters, and lists of these (``meta.argv`` of every run); None otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    text = _iso_text(column)
    if text is not None:
        return pc.binary_join_element_wise('"', text, '"', "")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if pc.any(pc.match_substring_regex(column, r"[\x00-\x1f]")).as_py():
            return None
        if pc.any(pc.match_substring_regex(column, r'["\\]')).as_py():
            column = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
        return pc.binary_join_element_wise('"', column, '"', "")
    if pa.types.is_integer(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_floating(kind):
        if pc.all(pc.or_kleene(pc.is_finite(column), pc.is_null(column))).as_py():
            return _float_text(column)
        return None
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list_text(column, level)
    return None


def _list_text(column: Any, level: int) -> Any:
    """A list column as the indented encoder writes each list: ``[]``, or its items one per line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    items = _text(column.flatten(), level + 1)  # the items of the lists that are not null, in order
    if items is None:
        return None
    lengths = pc.cast(pc.fill_null(pc.list_value_length(column), 0), pa.int64())
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(lengths)])  # no numpy in `ls`
    lists = pa.LargeListArray.from_arrays(offsets, pc.fill_null(items, "null"))
    inner, outer = "  " * (level + 1), "  " * level
    text = pc.binary_join_element_wise(f"[\n{inner}", pc.binary_join(lists, f",\n{inner}"), f"\n{outer}]", "")
    text = pc.if_else(pc.equal(lengths, 0), "[]", text)
    return pc.if_else(pc.is_valid(column), text, pa.scalar(None, pa.string()))


def _pieces(column: pa.ChunkedArray, level: int, prefix: str, null: str) -> Any:
    """Each cell of ``column`` as ``prefix`` + its JSON text as ``json.dumps(..., indent=2)`` writes it at nesting
    ``level``; ``null`` for a null cell (an Arrow string array). Timestamps, numbers, strings without control
    characters and lists of these are written by Arrow; other cells by Python's C encoders."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    text = _text(column, level)
    if text is not None:
        return pc.fill_null(pc.binary_join_element_wise(prefix, text, ""), null)
    values = _json_column(column)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        cells = [null if v is None else prefix + encode_basestring(v) for v in values]
    else:
        cells = [null if v is None else prefix + _dumps(v, level) for v in values]
    return pa.array(cells, pa.string())


def records_json(table: pa.Table) -> str:
    """``json.dumps(records(table), indent=2, ensure_ascii=False, allow_nan=False)``, built column by column."""
    import pyarrow.compute as pc

    names = table.column_names
    if table.num_rows == 0:
        return "[]"
    groups = [
        g if (key and g in _GROUPS) else None for g, key in (name.partition(".")[::2] for name in names)
    ]
    order = [g for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]
    grouped = [g for g in order if g is not None]
    if len(grouped) != len(set(grouped)) or any(n in _GROUPS for n in names):
        return json_dumps(records(table))  # interleaved groups: the key order varies by row
    if groups[0] is not None:
        return json_dumps(records(table))  # a row may have no key at all ("{}"): rare, not worth a fast path
    # every piece carries its leading ",\n" (cut from the row's first); a null cell of a group is ""
    # (group or None, [(column, nesting level, prefix of its cells, text of a null cell)])
    plan: list[tuple[str | None, list[tuple[str, int, str, str]]]] = []
    for name, group in zip(names, groups):
        if group is None:
            prefix = f",\n    {encode_basestring(name)}: "
            plan.append((None, [(name, 2, prefix, prefix + "null")]))
        elif plan and plan[-1][0] == group:
            plan[-1][1].append((name, 3, f",\n      {encode_basestring(name.partition('.')[2])}: ", ""))
        else:
            plan.append((group, [(name, 3, f",\n      {encode_basestring(name.partition('.')[2])}: ", "")]))
    rows: list[str] = []
    for first in range(0, table.num_rows, _BATCH):  # small arrays, reused by the allocator, not fresh pages
        part = table.slice(first, _BATCH)
        parts = []
        for group, columns in plan:
            cells = [_pieces(part[name], level, prefix, null) for name, level, prefix, null in columns]
            if group is None:
                parts.append(cells[0])
                continue
            inner = pc.binary_join_element_wise(*cells, "")
            opening = f",\n    {encode_basestring(group)}: {{\n"
            block = pc.binary_join_element_wise(opening, pc.utf8_slice_codeunits(inner, 2), "\n    }", "")
            parts.append(pc.if_else(pc.equal(inner, ""), "", block))  # a run with none of the group's keys
        rows += pc.utf8_slice_codeunits(pc.binary_join_element_wise(*parts, ""), 2).to_pylist()
    return "[\n  {\n" + "\n  },\n  {\n".join(rows) + "\n  }\n]"


def write_csv(table: pa.Table, handle: Any) -> None:
    """The table as CSV (``csv.writer``'s dialect): lists as JSON, timestamps as ISO 8601, nulls empty."""
    writer = csv.writer(handle)
    writer.writerow(table.column_names)
    columns = []
    for name in table.column_names:
        values = _json_column(table[name])
        if any(isinstance(v, list) for v in values):
            values = [json.dumps(v) if isinstance(v, list) else v for v in values]
        columns.append(values)
    writer.writerows(zip(*columns))
