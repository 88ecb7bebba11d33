"""Turning user values (params, meta, results) into the flat, typed form the store keeps.

Accepted: ``bool``, ``int``, ``float`` (NaN and infinities kept), ``str``, ``None``, lists/tuples of those (nested
lists too), numpy and torch scalars and small arrays (converted losslessly with ``.item()``/``.tolist()``), and
nested mappings, flattened with dots (``{"optim": {"lr": 0.1}}`` -> ``{"optim.lr": 0.1}``). Anything else is a
``TypeError`` naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["Scalar", "flatten", "normalize", "MAX_ARRAY_SIZE", "to_float"]

Scalar = Any  # bool | int | float | str | None | list of those
MAX_ARRAY_SIZE = 10_000
_INT64 = (-(2**63), 2**63 - 1)


MAX_DEPTH = 32  # nesting deeper than this is a mistake (or a cycle), not a config


def flatten(
    values: Mapping[str, Any], *, what: str = "value", prefix: str = "", depth: int = 0
) -> dict[str, Scalar]:
    """Flatten nested mappings with dots and normalize every leaf (see module docstring). Two spellings of one
    name (``{"a.b": 1, "a": {"b": 2}}``) are an error, not a silent choice."""
    if depth > MAX_DEPTH:
        raise TypeError(f"{what} {prefix.rstrip('.')!r}: nested too deep (more than {MAX_DEPTH} levels)")
    out: dict[str, Scalar] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be strings, got {key!r} ({type(key).__name__})")
        if key == "":
            raise TypeError(f"{what} key must not be empty")
        key = clean_text(key)  # a lone surrogate would make the run impossible to store: repaired like values
        full = f"{prefix}{key}" if prefix else key
        kind = type(value)
        if kind is float or kind is bool or value is None:  # the common leaves, already normal
            if full in out:
                raise TypeError(f"{what} {full!r} is given twice (as a dotted name and as a nested one)")
            out[full] = value
            continue
        if isinstance(value, Mapping):
            if not value:
                continue
            items = flatten(value, what=what, prefix=f"{full}.", depth=depth + 1)
        else:
            items = {full: normalize(value, key=full, what=what)}
        for name, item in items.items():
            if name in out:
                raise TypeError(f"{what} {name!r} is given twice (as a dotted name and as a nested one)")
            out[name] = item
    return out


def _is_array_like(value: Any) -> bool:
    module = type(value).__module__.split(".")[0]
    return module in ("numpy", "torch", "jax", "jaxlib") and hasattr(value, "tolist")


def normalize(value: Any, *, key: str = "?", what: str = "value") -> Scalar:
    """Return ``value`` as a plain Python scalar or (nested) list, or raise ``TypeError`` naming ``key``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise TypeError(f"{what} {key!r}: integer {value} does not fit in 64 bits; pass it as a string")
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        try:
            items = [normalize(v, key=key, what=what) for v in value]
        except RecursionError:  # a list that holds itself, or nested thousands deep
            raise TypeError(f"{what} {key!r}: list nested too deep (or holding itself)") from None
        _check_homogeneous(items, key, what)
        return items
    if _is_array_like(value):
        if hasattr(value, "detach"):  # torch tensors
            value = value.detach().cpu()
        size = getattr(value, "size", None)
        size = size() if callable(size) else size
        count = int(math.prod(size)) if isinstance(size, tuple) else int(size or 1)
        if hasattr(value, "numel"):
            count = int(value.numel())
        if count > MAX_ARRAY_SIZE:
            raise TypeError(
                f"{what} {key!r}: array of {count} elements is too large for a {what} "
                f"(limit {MAX_ARRAY_SIZE}); log it as metrics or save it as a file"
            )
        return normalize(value.tolist(), key=key, what=what)
    raise TypeError(
        f"{what} {key!r}: unsupported type {type(value).__module__}.{type(value).__qualname__}; "
        "use bool, int, float, str, None, a list of those, or a dict of them"
    )


def _kind(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    return "str"


def _check_homogeneous(items: list[Scalar], key: str, what: str) -> None:
    """One kind of value at each depth of a (nested) list, across its sublists too: ``[["x"], [200, 200]]`` was
    accepted and then could not be stored (its run was set aside when it ended)."""
    level = items
    while level:
        kinds = {_kind(v) for v in level} - {"null"}
        if len(kinds) > 1:
            raise TypeError(
                f"{what} {key!r}: list mixes {', '.join(sorted(kinds))}; lists must hold one kind of value "
                "(at every depth)"
            )
        if kinds != {"list"}:
            return
        level = [item for sub in level if isinstance(sub, list) for item in sub]


def to_float(value: Any, *, key: str) -> float:
    """Return a metric value as a float (numpy/torch scalars accepted), or raise ``TypeError`` naming ``key``."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if _is_array_like(value):
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        try:
            return float(value.item())
        except (ValueError, RuntimeError) as error:
            raise TypeError(f"metric {key!r}: expected a single number, got an array") from error
    raise TypeError(f"metric {key!r}: expected a number, got {type(value).__name__}")


def clean_text(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates (a non-UTF-8 byte in argv or a path, decoded with
    surrogateescape, or a ``'\\ud800'`` in a param) become visible escapes such as ``\\xff`` instead of making
    the run impossible to store."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        fixed = []
        for ch in text:
            if 0xDC80 <= ord(ch) <= 0xDCFF:  # surrogateescape of byte 0x80..0xff
                fixed.append(f"\\x{ord(ch) - 0xDC00:02x}")
            elif 0xD800 <= ord(ch) <= 0xDFFF:
                fixed.append(f"\\u{ord(ch):04x}")
            else:
                fixed.append(ch)
        return "".join(fixed)
