"""A search space (grid and sampled params) and space files (YAML/JSON, HyperTrainer-style)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError
from gitxp.space.distributions import (
    _DIST,
    _STUDIO,
    Categorical,
    Distribution,
    LogUniform,
    RandInt,
    Uniform,
    parse_distribution,
)
from gitxp.space.grid import check_size, parse_grid
from gitxp.space.values import parse_value

# ---------------------------------------------------------------------- space


@dataclass
class Space:
    """A search space: fixed params, grid axes (Cartesian product) and sampled distributions."""

    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    sample: dict[str, Distribution] = field(default_factory=dict)
    n: int | None = None

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.fixed, *self.grid, *self.sample]))

    @property
    def is_sweep(self) -> bool:
        return bool(self.grid or self.sample) or (self.n or 1) > 1

    @property
    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.grid.values())

    def grid_points(self) -> list[dict[str, Any]]:
        check_size(self.grid_size, "the grid")
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def merge(self, other: Space) -> Space:
        return Space(
            {**self.fixed, **other.fixed},
            {**self.grid, **other.grid},
            {**self.sample, **other.sample},
            other.n if other.n is not None else self.n,
        )


def _from_yaml_value(key: str, value: Any) -> tuple[str, Any]:
    """A space file entry: a list is a grid, a string is a DIST or a grid SPEC, a mapping is a HyperTrainer-like
    range, anything else is a fixed value."""
    if isinstance(value, list):
        return "grid", value
    if isinstance(value, str):
        if _DIST.match(value) or _STUDIO.match(value):
            return "sample", parse_distribution(value)
        if ":" in value or "," in value:
            return "grid", parse_grid(value)
        return "fixed", parse_value(value)
    if isinstance(value, Mapping):
        return "sample", _hypertrainer_param({"param": key, **value})
    return "fixed", value


def _hypertrainer_param(item: Mapping[str, Any]) -> Distribution:
    """HyperTrainer's ``{param, lo, hi, exponent_base?, values?, type?}`` as a distribution."""
    name = item.get("param", "?")
    if "values" in item:
        return Categorical(tuple(item["values"]))
    if "lo" not in item or "hi" not in item:
        raise UsageError(f"space: param {name!r} needs lo and hi (or values)")
    try:
        lo, hi = float(item["lo"]), float(item["hi"])
    except (TypeError, ValueError):
        raise UsageError(f"space: param {name!r}: lo and hi must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise UsageError(f"space: param {name!r}: lo and hi must be finite")
    if lo > hi:
        raise UsageError(f"space: param {name!r}: lo {lo:g} is above hi {hi:g}")
    base = item.get("exponent_base")
    if base is not None:
        try:
            low, high = float(base) ** lo, float(base) ** hi
        except (OverflowError, TypeError, ValueError):
            low = high = math.inf
        if not (math.isfinite(low) and math.isfinite(high)) or low <= 0:
            raise UsageError(f"space: param {name!r}: {base}**{hi:g} is not a usable number (overflow)")
        return LogUniform(low, high)
    if str(item.get("type", "")).lower() in ("int", "integer"):
        return RandInt(int(lo), int(hi))
    return Uniform(lo, hi)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what}: expected a positive whole number, got {value!r}")
    return value


def load_space_file(path: str | Path) -> Space:
    """Read a ``--space`` YAML/JSON file: ``{grid: {k: SPEC|list}, sample: {k: DIST}, params: {k: v}, n: N}``, a
    flat ``{k: list|SPEC|DIST|value}`` mapping, or HyperTrainer's ``hpsearch:`` block (``n_trials``, ``params``)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"--space {path}: no such file") from None
    except yaml.YAMLError as error:
        raise UsageError(f"--space {path}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"--space {path}: expected a mapping at the top level")
    space = Space()
    if "hpsearch" in data:
        block = data["hpsearch"] or {}
        if not isinstance(block, Mapping) or not isinstance(block.get("params", []), list):
            raise UsageError(f"--space {path}: hpsearch.params must be a list of {{param, lo, hi}} items")
        for item in block.get("params", []):
            if not isinstance(item, Mapping) or "param" not in item:
                raise UsageError(f"--space {path}: every hpsearch.params item needs 'param'")
            space.sample[str(item["param"])] = _hypertrainer_param(item)
        if block.get("n_trials") is not None:
            space.n = _count(block["n_trials"], f"--space {path}: hpsearch.n_trials")
        return space
    for section in ("grid", "sample", "params"):
        body = data.get(section)
        if body is not None and not isinstance(body, Mapping):
            raise UsageError(f"--space {path}: '{section}' must be a mapping")
    for key, value in (data.get("grid") or {}).items():
        space.grid[str(key)] = value if isinstance(value, list) else parse_grid(str(value))
    for key, value in (data.get("sample") or {}).items():
        space.sample[str(key)] = (
            parse_distribution(str(value))
            if isinstance(value, str)
            else _hypertrainer_param({"param": key, **value})
        )
    space.fixed.update({str(k): v for k, v in (data.get("params") or {}).items()})
    if data.get("n") is not None:
        space.n = _count(data["n"], f"--space {path}: n")
    for key, value in data.items():
        if key in ("grid", "sample", "params", "n", "strategy", "metric"):
            continue
        kind, parsed = _from_yaml_value(str(key), value)
        getattr(space, kind)[str(key)] = parsed
    return space
