"""Run records as Arrow tables: the one-row table of a record, and concatenating tables whose columns differ."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gitxp.store import arrays
from gitxp.store.schema import BASE_COLUMNS, BLOB, GROUPS, SCHEMA_VERSION

if TYPE_CHECKING:
    import pyarrow as pa


def record_table(record: Mapping[str, Any]) -> pa.Table:
    """The one-row wide table of a run record (the format of ``run.parquet``)."""
    import pyarrow as pa

    columns: dict[str, pa.Array] = {}
    for name in BASE_COLUMNS:
        value = record.get(name)
        if name in ("started", "ended"):
            columns[name] = arrays.timestamps([value])
        elif name == "duration":
            columns[name] = arrays.array([value], pa.float64())
        else:
            columns[name] = arrays.array([value], pa.string())
    for group in GROUPS:
        for key in sorted(record.get(group) or {}):
            value = record[group][key]
            try:
                columns[f"{group}.{key}"] = arrays.array([value])
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
                raise TypeError(f"{group} {key!r}: cannot store {value!r}: {error}") from error
    return pa.table(columns, metadata={"gitxp.schema": str(SCHEMA_VERSION)})


def _column_order(names: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(names))
    base = [n for n in BASE_COLUMNS if n in names]
    rest = [n for n in names if n not in BASE_COLUMNS]
    order = {g: i for i, g in enumerate(GROUPS)}
    rest.sort(key=lambda n: (order.get(n.split(".", 1)[0], len(GROUPS)), n))
    return base + rest


def _unified_type(types: list[pa.DataType]) -> pa.DataType:
    import pyarrow as pa

    real = [t for t in dict.fromkeys(types) if not pa.types.is_null(t)]
    if not real:
        return pa.null()
    if len(real) == 1:
        return real[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) for t in real):
        if all(pa.types.is_integer(t) or pa.types.is_boolean(t) for t in real):
            return pa.int64()
        return pa.float64()
    return pa.string()


def _as_type(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    import pyarrow as pa

    if column.type == target:
        return column
    if pa.types.is_string(target) and (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        values = [None if v is None else json.dumps(v) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    return column.cast(target)


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """Concatenate run tables whose columns differ: missing columns become nulls, clashing types are unified
    (ints and floats to float, anything else mixed to string)."""
    import pyarrow as pa

    tables = [t for t in tables if t.num_columns]
    if not tables:
        return empty_table()
    try:
        merged = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        types: dict[str, list[pa.DataType]] = {}
        for table in tables:
            for field in table.schema:
                types.setdefault(field.name, []).append(field.type)
        target = {name: _unified_type(ts) for name, ts in types.items()}
        kept = _types_by_experiment(tables, target)
        aligned = []
        for table in tables:
            cols = {name: _as_type(table[name], target[name]) for name in table.column_names}
            aligned.append(pa.table(cols))
        merged = pa.concat_tables(aligned, promote_options="permissive")
        if kept:
            merged = merged.replace_schema_metadata(
                {**(merged.schema.metadata or {}), TYPES_KEY: json.dumps(kept).encode()}
            )
    return merged.select(_column_order(merged.column_names)).combine_chunks()


TYPES_KEY = b"gitxp.types"  # schema metadata: {column: {experiment: type}} of columns turned into text
_RETYPE = ("int64", "double", "bool")


def _types_by_experiment(
    tables: list[pa.Table], target: Mapping[str, pa.DataType]
) -> dict[str, dict[str, str]]:
    """For each column that concatenation turns into text, the type it had in each experiment whose runs all
    gave it one type ("mixed" otherwise): one string value in experiment B must not turn experiment A's numbers
    into text (see ``retype``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, dict[str, str]] = {}
    for table in tables:
        if "experiment" not in table.column_names:
            continue
        known = json.loads((table.schema.metadata or {}).get(TYPES_KEY, b"{}"))
        experiments = [e for e in pc.unique(table["experiment"]).to_pylist() if e is not None]
        for name, kind in target.items():
            if not pa.types.is_string(kind) or name not in table.column_names or not name.startswith(GROUPS):
                continue
            own = table.schema.field(name).type
            if pa.types.is_null(own):
                continue
            seen = out.setdefault(name, {})
            for experiment in experiments:
                mine = str(own) if str(own) in _RETYPE else known.get(name, {}).get(experiment, "mixed")
                if len(experiments) > 1 and mine != "mixed" and str(own) not in _RETYPE:
                    values = table.filter(pc.equal(table["experiment"], experiment))[name]
                    if values.null_count == len(values):
                        continue
                seen[experiment] = mine if seen.get(experiment, mine) == mine else "mixed"
    return {name: kinds for name, kinds in out.items() if any(k != "mixed" for k in kinds.values())}


def retype(table: pa.Table) -> pa.Table:
    """Give back their own type to the columns that are text only because another experiment's runs hold text
    there, when every experiment left in ``table`` had the same type (``gitxp ls -e A``, ``load("A")``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = (table.schema.metadata or {}).get(TYPES_KEY)
    if not raw or "experiment" not in table.column_names or not table.num_rows:
        return table
    kinds = json.loads(raw)
    experiments = {e for e in pc.unique(table["experiment"]).to_pylist() if e is not None}
    for name, by_experiment in kinds.items():
        if name not in table.column_names or not pa.types.is_string(table.schema.field(name).type):
            continue
        wanted = {by_experiment.get(e, "mixed") for e in experiments}
        if len(wanted) != 1 or next(iter(wanted)) not in _RETYPE:
            continue
        try:
            column = table[name].cast(pa.type_for_alias(next(iter(wanted))))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def empty_table() -> pa.Table:
    return record_table({}).slice(0, 0)


def read_parquet(source: Any, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file (a path, or ``bytes`` such as a git blob) without ``pq.read_table``, which imports
    ``pyarrow.dataset`` (~50-100 ms, the largest part of a listing's start-up) for features gitxp never uses.

    ``bytes`` are copied into Arrow's own memory and decoded on this thread. Wrapped as they are, the last
    reference to them could be dropped by an Arrow worker thread after the read returned, which must then take
    the GIL; if the interpreter is exiting by then, Python ends that thread with ``pthread_exit`` inside a C++
    destructor and the process aborts (exit 134, "terminate called without an active exception")."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    threads = True
    if isinstance(source, (bytes, bytearray, memoryview)):
        source, threads = pa.BufferReader(arrow_bytes(source)), False
    with pq.ParquetFile(source) as handle:
        return handle.read(columns=columns, use_threads=threads)


def table_problem(schema: pa.Schema, *, pack: bool = False) -> str | None:
    """Why a Parquet file with ``schema`` cannot be a run file (``pack``: a pack) of a gitxp store, or None.

    A file of another schema on the ref (pulled from elsewhere) would otherwise break every read of the store."""
    import pyarrow as pa

    names = schema.names
    required = ["run_id", BLOB] if pack else ["run_id"]
    missing = [n for n in required if n not in names]
    if missing:
        return f"it has no {missing[0]!r} column"
    if len(set(names)) != len(names):
        return "it has duplicate columns"
    for field in schema:
        kind, name = field.type, field.name
        if pa.types.is_null(kind):
            continue
        if name in ("started", "ended"):
            ok = pa.types.is_timestamp(kind)
        elif name == "duration":
            ok = pa.types.is_floating(kind) or pa.types.is_integer(kind)
        elif name in BASE_COLUMNS or name == BLOB:
            ok = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        else:
            ok = name.split(".", 1)[0] in GROUPS and "." in name
        if not ok:
            return f"its column {name!r} ({kind}) is not one gitxp writes"
    return None


def parquet_schema(data: bytes) -> pa.Schema:
    """The Arrow schema of a Parquet file's bytes (its footer only)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(pa.BufferReader(arrow_bytes(data))) as handle:
        return handle.schema_arrow


def arrow_bytes(data: bytes | bytearray | memoryview) -> pa.Buffer:
    """A copy of ``data`` in memory Arrow owns (releasing it never needs the GIL; see ``read_parquet``)."""
    import pyarrow as pa

    buffer = pa.allocate_buffer(len(data))
    pa.FixedSizeBufferWriter(buffer).write(data)
    return buffer


_SIMPLE = (bool, str, float, type(None))


def _batchable(value: Any) -> bool:
    t = type(value)
    return t in _SIMPLE or (t is int and -(2**63) <= value < 2**63)


def _kind(value: Any) -> Any:
    """What decides a value's Arrow type when built with others: its type; for a list (``sys.argv`` in every
    run's meta) the one type of all its elements (None: a list that must be built alone)."""
    if type(value) is not list:
        return type(value) if _batchable(value) else None
    kinds = {type(v) for v in value}
    if len(kinds) != 1 or not all(_batchable(v) for v in value) or type(None) in kinds:
        return None
    return ("list", kinds.pop())


def record_tables(records: list[Mapping[str, Any]]) -> list[pa.Table]:
    """``record_table`` of each record, the same tables; records whose params, results and meta have the same
    keys with the same scalar types (or lists of one such type) are built as one table and sliced (a table per record cost ~0.3 ms in
    building ~20 one-element arrays: half of the time of committing a short run)."""
    import pyarrow as pa

    groups: dict[tuple[Any, ...], list[int]] = {}
    out: list[pa.Table | None] = [None] * len(records)
    for i, record in enumerate(records):
        items = [(g, k, _kind(record[g][k])) for g in GROUPS for k in sorted(record.get(g) or {})]
        if len(records) > 1 and all(kind is not None for _g, _k, kind in items):
            groups.setdefault(tuple(items), []).append(i)
        else:
            out[i] = record_table(record)
    for signature, rows in groups.items():
        if len(rows) == 1:
            out[rows[0]] = record_table(records[rows[0]])
            continue
        chosen = [records[i] for i in rows]
        columns: dict[str, pa.Array] = {}
        for name in BASE_COLUMNS:
            values = [r.get(name) for r in chosen]
            if name in ("started", "ended"):
                columns[name] = arrays.timestamps(values)
            elif name == "duration":
                columns[name] = arrays.array(values, pa.float64())
            else:
                columns[name] = arrays.array(values, pa.string())
        for group, key, _type in signature:
            columns[f"{group}.{key}"] = arrays.array([r[group][key] for r in chosen])
        table = pa.table(columns, metadata={"gitxp.schema": str(SCHEMA_VERSION)})
        for j, i in enumerate(rows):
            out[i] = table.slice(j, 1)
    return [t for t in out if t is not None]
