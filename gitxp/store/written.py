"""The run tables this process just committed, by the git blob id of their ``run.parquet``.

The read cache (and the automatic pack that reads it) parses every run file committed since it was last built:
~0.5 ms per one-row Parquet file, so 1,000 short runs recorded in a loop cost half a second more at their
automatic pack. The committer built those tables a moment earlier; a table of flat columns (strings, integers,
floats, booleans, nulls, UTC timestamps, lists of those) reads back from its Parquet file exactly equal, schema and metadata
included (lists once their values field is named "element", as Parquet names it), so the reader takes it from
here instead of parsing the blob. Other types (lists of lists, structs) are parsed as before. A blob id names the file's exact bytes, so a
remembered table can only ever stand for the file it was written as.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["as_read", "blob_id", "recall", "remember"]

LIMIT = 20_000  # tables kept at most (about 5 KB each); the oldest go first

_TABLES: dict[str, pa.Table] = {}


def blob_id(data: bytes) -> str:
    """The id git gives ``data`` as a blob (SHA-1 repositories)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _flat_type(kind: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_timestamp(kind):
        return kind.unit == "us" and kind.tz == "UTC"
    return (
        pa.types.is_string(kind) or pa.types.is_null(kind) or kind in (pa.int64(), pa.float64(), pa.bool_())
    )


_FLAT: set[pa.DataType] = set()


def as_read(table: pa.Table) -> pa.Table | None:
    """``table`` as reading its Parquet file gives it back (a list's values field is named "element" there);
    None for a table with other types than flat ones and lists of them (lists of nulls only: Arrow's cast
    of those is not sound)."""
    import pyarrow as pa

    if not _FLAT:
        _FLAT.update(
            (pa.string(), pa.null(), pa.int64(), pa.float64(), pa.bool_(), pa.timestamp("us", "UTC"))
        )
    if all(kind in _FLAT for kind in table.schema.types):
        return table  # the common case: flat columns only, read back as they are
    for i, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_list(kind) and _flat_type(kind.value_type) and not pa.types.is_null(kind.value_type):
            value = pa.field("element", kind.value_type, kind.value_field.nullable)
            field = pa.field(field.name, pa.list_(value), field.nullable, field.metadata)
            table = table.set_column(i, field, table.column(i).cast(field.type))
        elif not _flat_type(kind):
            return None
    return table


def remember(data: bytes, table: pa.Table) -> None:
    """``table`` is what ``data`` (a run.parquet just committed) holds."""
    read = as_read(table)
    if read is None:
        return
    if len(_TABLES) >= LIMIT:
        for key in list(_TABLES)[: LIMIT // 2]:
            del _TABLES[key]
    _TABLES[blob_id(data)] = read


def recall(sha: str) -> pa.Table | None:
    """The table of blob ``sha`` when this process committed it (forgotten once recalled)."""
    return _TABLES.pop(sha, None)
