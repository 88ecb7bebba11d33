"""Small pieces shared by the dashboard's views: the 400 error, JSON-ready cells, query parameters, down-sampling."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from gitxp.errors import UsageError

__all__ = ["BadRequest", "castable", "curve_labels", "downsample", "int_param", "json_clean", "json_value"]


class BadRequest(UsageError):
    """A malformed query parameter: answered with HTTP 400 and this message."""


def json_value(value: Any) -> Any:
    """A cell as JSON: timestamps as ISO 8601, NaN/inf as strings (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or a 400 naming it."""
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}={text!r}: expected an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}={value}: expected {low}..{high}")
    return value


def downsample(xs: list[float], ys: list[float], width: int) -> tuple[list[float], list[float]]:
    """At most ~2*width points keeping each bucket's min and max (in x order), so peaks survive."""
    n = len(xs)
    if n <= 2 * width or width <= 0:
        return xs, ys
    out_x: list[float] = []
    out_y: list[float] = []
    size = n / width
    for b in range(width):
        lo, hi = int(b * size), min(n, int((b + 1) * size))
        if lo >= hi:
            continue
        chunk = range(lo, hi)
        finite = [i for i in chunk if ys[i] is not None and math.isfinite(ys[i])]
        if not finite:
            continue
        i_min = min(finite, key=lambda i: ys[i])
        i_max = max(finite, key=lambda i: ys[i])
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y


def castable(kind: Any) -> bool:
    """Whether a column of arrow type ``kind`` casts to strings (text search, constant-column checks)."""
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_timestamp(kind)
    )


def json_clean(data: Any) -> Any:
    """``data`` with every leaf made JSON-safe (:func:`json_value`), tuples as lists."""
    if isinstance(data, dict):
        return {k: json_clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_clean(v) for v in data]
    return json_value(data)


def curve_labels(rows: list[dict[str, Any]], short: Mapping[str, str]) -> dict[str, str]:
    """A legend label per run of ``rows`` (records with ``run_id`` and ``params.*``): the params whose values
    differ between these runs (``lr=0.1 optim=adam``) when they tell every run apart; else the run's id as
    printed (``short``, unique in the store) followed by them."""
    names = sorted({k for row in rows for k in row if k.startswith("params.")})
    differing = [n for n in names if len({repr(row.get(n)) for row in rows}) > 1]

    def text(row: dict[str, Any]) -> str:
        parts = []
        for name in differing:
            value = row.get(name)
            shown = "–" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
            parts.append(f"{name[7:]}={shown}")
        return " ".join(parts)

    by_params = {row["run_id"]: text(row) for row in rows}
    unique = len(rows) > 1 and all(by_params.values()) and len(set(by_params.values())) == len(rows)
    if unique:
        return by_params
    return {rid: f"{short.get(rid, rid)} {label}".strip() for rid, label in by_params.items()}
