"""Grid SPECs (``--grid k=SPEC``): start:step:end, counts, log spacing, lists."""

from __future__ import annotations

import math
import re
from typing import Any

from gitxp.errors import UsageError
from gitxp.space.values import parse_item, parse_value

# ---------------------------------------------------------------------- grid


MAX_RUNS = 100_000  # a sweep larger than this is refused before anything is allocated (--max-runs)


def _number(text: str, spec: str, what: str) -> float:
    try:
        if not text.isascii():  # float() reads other scripts' digits too
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise UsageError(f"--grid {spec!r}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"--grid {spec!r}: {what} {text!r} is not a finite number")
    return value


def check_size(count: float, what: str, limit: int | None = None) -> None:
    """Refuse a sweep of more than ``limit`` (default MAX_RUNS) runs before building it."""
    limit = MAX_RUNS if limit is None else limit
    if not count <= limit:
        raise UsageError(
            f"{what}: {count:.3g} runs is more than --max-runs {limit}; raise --max-runs if you mean it"
        )


def _tidy(values: list[float], integral: bool) -> list[Any]:
    if integral:
        return [int(round(v)) for v in values]
    return [float(f"{v:.12g}") for v in values]  # 0.30000000000000004 -> 0.3


def parse_grid(spec: str) -> list[Any]:
    """The values of a Studio.ml grid SPEC (see the module docstring)."""
    text = spec.strip()
    if not text:
        raise UsageError(
            "--grid: empty SPEC; expected start:step:end, start:lN:end, start:uN:end, a:b, a,b,c or a value"
        )
    if text.startswith("[") and text.endswith("]"):  # a JSON-style list: [1,2] is the list 1,2
        text = text[1:-1].strip()
        if not text:
            raise UsageError(f"--grid {spec!r}: empty list")
        if "," not in text:
            return [parse_item(text)]
    if any(ch in text for ch in "[](){}"):
        raise UsageError(f"--grid {spec!r}: brackets inside a list; give plain values: a,b,c")
    if "," in text:
        values = [parse_item(part) for part in text.split(",")]
        if any(not part.strip() for part in text.split(",")):
            raise UsageError(f"--grid {spec!r}: empty item in list")
        return values
    if ":" not in text:
        return [parse_value(text)]
    parts = text.split(":")
    if len(parts) == 2:
        start_text, end_text = parts
        start = _number(start_text or "0", spec, "start")
        end = _number(end_text, spec, "end")
        integral = all(re.fullmatch(r"[+-]?[0-9]*", p) for p in parts)
        return _tidy(_steps(start, 1.0, end, spec), integral)
    if len(parts) != 3:
        raise UsageError(f"--grid {spec!r}: expected start:step:end, start:lN:end or start:uN:end")
    start = _number(parts[0] or "0", spec, "start")
    end = _number(parts[2], spec, "end")
    middle = parts[1].strip()
    if middle[:1] in ("l", "u"):
        count_text = middle[1:]
        if not re.fullmatch("[0-9]+", count_text) or int(count_text) < 1:
            raise UsageError(
                f"--grid {spec!r}: expected a count after '{middle[0]}', e.g. {parts[0]}:{middle[0]}5:{parts[2]}"
            )
        count = int(count_text)
        check_size(count, f"--grid {spec!r}")
        if middle[0] == "l":
            if start <= 0 or end <= 0:
                raise UsageError(f"--grid {spec!r}: log spacing needs positive start and end")
            return _tidy(_spaced(math.log(start), math.log(end), count, log=True), False)
        return _tidy(_spaced(start, end, count), False)
    step = _number(middle, spec, "step")
    if start == end:
        return [parse_value(parts[0])]
    if re.fullmatch(r"[0-9]+", middle) and step > abs(end - start):
        check_size(step, f"--grid {spec!r}")
        return _tidy(
            _spaced(start, end, int(step)), False
        )  # Studio: an integer larger than the range is a count
    if start != end and abs(step) > abs(end - start):
        raise UsageError(
            f"--grid {spec!r}: step {step:g} is larger than the range {start:g}..{end:g}, which would give "
            f"one value; the order is start:step:end (or start:uN:end for N values)"
        )
    integral = all(re.fullmatch(r"[+-]?[0-9]*", p.strip()) for p in parts)
    return _tidy(_steps(start, step, end, spec), integral)


def _spaced(start: float, end: float, count: int, *, log: bool = False) -> list[float]:
    if count == 1:
        values = [start]
    else:
        values = [start + (end - start) * i / (count - 1) for i in range(count)]
    return [math.exp(v) for v in values] if log else values


def _steps(start: float, step: float, end: float, spec: str) -> list[float]:
    if step == 0:
        raise UsageError(f"--grid {spec!r}: step must not be 0")
    if (end - start) * step < 0:
        raise UsageError(f"--grid {spec!r}: step {step:g} never reaches {end:g} from {start:g}")
    ratio = (end - start) / step
    if not math.isfinite(ratio):
        raise UsageError(f"--grid {spec!r}: the range is too large for its step")
    check_size(ratio + 1, f"--grid {spec!r}")
    count = int(math.floor(ratio + 1e-9)) + 1
    return [start + i * step for i in range(count)]
