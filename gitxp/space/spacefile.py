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
    DIST_RE,
    STUDIO_RE,
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
    max_runs: int | None = None  # the largest sweep allowed (``--max-runs``); None: ``grid.MAX_RUNS``

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
        check_size(self.grid_size, "the grid", self.max_runs)
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    def merge(self, other: Space) -> Space:
        return Space(
            {**self.fixed, **other.fixed},
            {**self.grid, **other.grid},
            {**self.sample, **other.sample},
            other.n if other.n is not None else self.n,
            other.max_runs if other.max_runs is not None else self.max_runs,
        )


def _from_yaml_value(key: str, value: Any) -> tuple[str, Any]:
    """A space file entry: a list is a grid, a string is a DIST or a grid SPEC, a mapping is a HyperTrainer-like
    range, anything else is a fixed value."""
    if isinstance(value, list):
        return "grid", _grid_values(key, value)
    if isinstance(value, str):
        if DIST_RE.match(value) or STUDIO_RE.match(value):
            return "sample", parse_distribution(value)
        if ":" in value or "," in value:
            return "grid", parse_grid(value)
        return "fixed", parse_value(value)
    if isinstance(value, Mapping):
        return "sample", _hypertrainer_param({"param": key, **value})
    return "fixed", value


def _hypertrainer_param(item: Any) -> Distribution:
    """HyperTrainer's ``{param, lo, hi, exponent_base?, values?, type?}`` as a distribution."""
    if not isinstance(item, Mapping):
        raise UsageError(
            f"space: a sampled param must be a DIST string or a {{lo, hi}} mapping, got {item!r}"
        )
    name = item.get("param", "?")
    if "values" in item:
        values = item["values"]
        if not isinstance(values, list) or not values:
            raise UsageError(f"space: param {name!r}: values must be a non-empty list, e.g. [adam, sgd]")
        if any(isinstance(v, (list, dict)) for v in values):
            raise UsageError(f"space: param {name!r}: values must be plain values")
        return Categorical(tuple(values))
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
        if (
            isinstance(base, bool)
            or not isinstance(base, (int, float))
            or not (0 < base < math.inf)
            or base == 1
        ):
            raise UsageError(f"space: param {name!r}: exponent_base must be a positive number other than 1")
        try:
            low, high = float(base) ** lo, float(base) ** hi
        except (OverflowError, TypeError, ValueError, ZeroDivisionError):
            low = high = math.inf
        if base < 1:
            low, high = high, low
        if not (math.isfinite(low) and math.isfinite(high)) or low <= 0:
            raise UsageError(f"space: param {name!r}: {base}**{hi:g} is not a usable number (overflow)")
        return LogUniform(low, high)
    if str(item.get("type", "")).lower() in ("int", "integer"):
        if lo != int(lo) or hi != int(hi):
            raise UsageError(f"space: param {name!r} is of type int: lo and hi must be whole numbers")
        return RandInt(
            int(item["lo"]) if isinstance(item["lo"], int) else int(lo),
            int(item["hi"]) if isinstance(item["hi"], int) else int(hi),
        )
    return Uniform(lo, hi)


def _grid_values(key: str, value: Any) -> list[Any]:
    """A grid axis of a space file: a list of plain values, or a SPEC string; never empty."""
    if isinstance(value, list):
        if not value:
            raise UsageError(f"space: grid {key!r} has no values (a sweep of 0 runs)")
        if any(isinstance(v, (list, dict)) for v in value):
            raise UsageError(f"space: grid {key!r}: give plain values, e.g. [1, 2, 3]")
        return value
    if isinstance(value, (dict, bool)) or value is None:
        raise UsageError(f"space: grid {key!r}: expected a list or a SPEC string, got {value!r}")
    return parse_grid(str(value))


_LOADER: list[Any] = []


def _yaml12_loader() -> Any:
    """PyYAML's safe loader with YAML 1.2's scalars (as the CLI reads values): ``1:5`` stays the text of a grid
    SPEC (YAML 1.1 reads it as 65, base 60), ``010`` is ten, ``yes``/``on`` stay text, ``1_000`` is text."""
    if not _LOADER:
        import re

        import yaml

        class Loader(yaml.SafeLoader):
            pass

        drop = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
        Loader.yaml_implicit_resolvers = {
            key: [(tag, rx) for tag, rx in resolvers if tag not in drop]
            for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:int",
            re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
            list("-+0123456789"),
        )
        Loader.add_implicit_resolver(
            "tag:yaml.org,2002:float",
            re.compile(
                r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
            ),
            list("-+0123456789."),
        )

        def integer(loader: Any, node: Any) -> int:
            text = loader.construct_scalar(node)
            sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
            base = 16 if digits[:2] == "0x" else 8 if digits[:2] == "0o" else 10
            return sign * int(digits[2:] if base != 10 else digits, base)

        Loader.add_constructor("tag:yaml.org,2002:int", integer)
        _LOADER.append(Loader)
    return _LOADER[0]


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{what}: expected a positive whole number, got {value!r}")
    return value


def load_space_file(path: str | Path) -> Space:
    """Read a ``--space`` YAML/JSON file: ``{grid: {k: SPEC|list}, sample: {k: DIST}, params: {k: v}, n: N}``, a
    flat ``{k: list|SPEC|DIST|value}`` mapping, or HyperTrainer's ``hpsearch:`` block (``n_trials``, ``params``)."""
    import yaml

    try:
        data = yaml.load(Path(path).read_bytes().decode("utf-8"), Loader=_yaml12_loader())  # noqa: S506
    except FileNotFoundError:
        raise UsageError(f"--space {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"--space {path}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"--space {path}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except yaml.YAMLError as error:
        raise UsageError(f"--space {path}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"--space {path}: expected a mapping at the top level")
    space = Space()
    if "hpsearch" in data:
        block = data["hpsearch"] or {}
        if not isinstance(block, Mapping) or not isinstance(block.get("params", []), list):
            raise UsageError(f"--space {path}: hpsearch.params must be a list of {{param, lo, hi}} items")
        for item in block.get("params") or []:
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
        space.grid[str(key)] = _grid_values(str(key), value)
    for key, value in (data.get("sample") or {}).items():
        space.sample[str(key)] = (
            parse_distribution(value)
            if isinstance(value, str)
            else _hypertrainer_param({"param": key, **value} if isinstance(value, Mapping) else value)
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
