"""Arrow arrays of plain Python values, built from buffers instead of by ``pa.array``.

The first ``pa.array`` call of a process imports pandas (~0.3 s here) to check whether its input is a pandas
object, even for a list of floats: a script that records one run spent more time importing pandas than doing
everything else gitxp does (0.50 s against 0.23 s for ``with gitxp.start(): ...``). The values gitxp stores
are mostly ``None``, ``bool``, ``int``, ``float`` and ``str``; their arrays are a data buffer (and offsets, and
a validity bitmap where there are nulls), written here with ``array.array`` and handed to Arrow as they are;
lists of them (a run's ``argv``) as offsets over such an array. Anything else (nested lists, numpy scalars,
ints beyond 64 bits, strings that are not valid UTF-8) goes to ``pa.array``, which decides, as before; so do
lists longer than ``SMALL`` and every list once pandas is imported (by anyone). The arrays are the same as ``pa.array`` makes (tested value for value).
"""

from __future__ import annotations

import array as _array
import sys
from itertools import accumulate
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["array", "timestamps"]

SMALL = 4096  # longer lists go to pa.array: its C loop is ~4x faster than building buffers here, which pays
# for its pandas import (~0.3 s, once) past a few hundred thousand values
_EXACT = 2**53  # ints beyond are not exactly a double: pa.array refuses them in a float column
# Arrow's buffers are little-endian, its string offsets 32-bit: elsewhere, pa.array does it all
_NATIVE = sys.byteorder == "little" and _array.array("i").itemsize == 4


def array(values: list[Any], kind: pa.DataType | None = None) -> pa.Array:
    """``pa.array(values, kind)`` for lists of ``None``/``bool``/``int``/``float``/``str`` (one Python type with
    ``None``s, or ints with floats as a float column, as ``pa.array`` infers them), without ``pa.array``."""
    import pyarrow as pa

    if _pa_array_pays(len(values)):
        return pa.array(values, kind)
    kinds = set(map(type, values)) - {type(None)}
    built = None
    try:
        if kind is None:
            kind = _inferred_list(values) if kinds == {list} else _inferred(kinds)
        if kind is None or not _NATIVE:
            pass
        elif pa.types.is_null(kind) and not kinds:
            built = pa.nulls(len(values))
        elif pa.types.is_float64(kind) and kinds <= {float, int}:
            if int in kinds and _beyond_exact(values):
                raise OverflowError("not exactly a double")
            built = _fixed(pa.float64(), "d", values, 0.0)
        elif pa.types.is_int64(kind) and kinds <= {int}:
            built = _fixed(pa.int64(), "q", values, 0)
        elif pa.types.is_boolean(kind) and kinds <= {bool}:
            built = _booleans(values)
        elif pa.types.is_string(kind) and kinds <= {str}:
            built = _strings(values)
        elif pa.types.is_list(kind) and kinds <= {list}:
            built = _lists(values, kind.value_type)
    except (OverflowError, UnicodeEncodeError):
        built = None  # beyond int64, or not valid UTF-8: pa.array says what it does with them
    return built if built is not None else pa.array(values, kind)


def timestamps(seconds: list[float | None]) -> pa.Array:
    """Microsecond UTC timestamps of ``time.time()``-style seconds (rounded to the microsecond)."""
    import pyarrow as pa

    micros = [None if v is None else round(v * 1_000_000) for v in seconds]
    kind = pa.timestamp("us", tz="UTC")
    if _NATIVE and not _pa_array_pays(len(micros)):
        try:
            return _fixed(kind, "q", micros, 0)
        except OverflowError:
            pass  # beyond int64: pa.array says what it does with them
    return pa.array(micros, kind)


def _pa_array_pays(size: int) -> bool:
    """pa.array is the faster way: its pandas probe is paid already, or worth paying for a list this long."""
    return size > SMALL or "pandas" in sys.modules


def _inferred(kinds: set[type]) -> pa.DataType | None:
    import pyarrow as pa

    if not kinds:
        return pa.null()
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    if kinds == {str}:
        return pa.string()
    return None


def _inferred_list(values: list[Any]) -> pa.DataType | None:
    """The type ``pa.array`` gives a list of lists of scalars (one child type over all of them), or None."""
    import pyarrow as pa

    child = _inferred({type(v) for items in values if items is not None for v in items} - {type(None)})
    return None if child is None else pa.list_(child)


def _lists(values: list[Any], child_kind: pa.DataType) -> pa.Array | None:
    import pyarrow as pa

    children = [v for items in values if items is not None for v in items]
    if any(type(v) is list for v in children):
        return None  # nested lists: pa.array
    child = array(children, child_kind)
    offsets = _array.array("i", accumulate((0 if v is None else len(v) for v in values), initial=0))
    return pa.Array.from_buffers(
        pa.list_(child.type), len(values), [_validity(values), pa.py_buffer(offsets)], children=[child]
    )


def _beyond_exact(values: list[Any]) -> bool:
    """Does a float column's list hold an int that no double holds exactly?"""
    if None not in values and max(map(abs, values), default=0) <= _EXACT:
        return False  # the usual answer, found at C speed
    return any(type(v) is int and not -_EXACT <= v <= _EXACT for v in values)


def _bitmap(flags: Any, size: int) -> pa.Buffer:
    """Arrow's bit-packed booleans (least significant bit first) of ``size`` truthy or falsy ``flags``."""
    import pyarrow as pa

    bits = bytearray((size + 7) // 8)
    for i, flag in enumerate(flags):
        if flag:
            bits[i >> 3] |= 1 << (i & 7)
    return pa.py_buffer(bytes(bits))


def _validity(values: list[Any]) -> pa.Buffer | None:
    """Where the nulls are, or None when there is none."""
    return None if None not in values else _bitmap((v is not None for v in values), len(values))


def _fixed(kind: pa.DataType, code: str, values: list[Any], zero: Any) -> pa.Array:
    import pyarrow as pa

    # array.array raises OverflowError beyond int64, as pa.array does
    data = _array.array(code, values if None not in values else [zero if v is None else v for v in values])
    return pa.Array.from_buffers(kind, len(values), [_validity(values), pa.py_buffer(data)])


def _booleans(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    return pa.Array.from_buffers(pa.bool_(), len(values), [_validity(values), _bitmap(values, len(values))])


def _strings(values: list[Any]) -> pa.Array:
    import pyarrow as pa

    texts = values if None not in values else ["" if v is None else v for v in values]
    joined = "".join(texts)
    if joined.isascii():  # a byte per character: lengths and bytes at C speed (metric names, ids, paths)
        data, lengths = joined.encode("ascii"), map(len, texts)
    else:
        encoded = [v.encode("utf-8") for v in texts]
        data, lengths = b"".join(encoded), map(len, encoded)
    offsets = _array.array("i", accumulate(lengths, initial=0))  # OverflowError past 2 GiB
    return pa.Array.from_buffers(
        pa.string(), len(values), [_validity(values), pa.py_buffer(offsets), pa.py_buffer(data)]
    )
