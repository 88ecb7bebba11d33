"""Search spaces: Studio.ml grid specs, hypero's distributions, space files, and the ``Sampler``.

Grid SPEC (``--grid k=SPEC``), as in Studio.ml:

- ``0.01:0.01:0.1``  start:step:end, end included
- ``1e-5:l5:0.1``    5 log-spaced values, ends included
- ``1e-5:u10:0.1``   10 uniformly spaced values, ends included
- ``1e-5:10:0.1``    an integer middle larger than |end - start| is a count (10 uniform values), otherwise a step
- ``0:3``, ``:3``    step 1, end included (``0,1,2,3``)
- ``2,5,6``          a list (strings allowed)
- ``0.1``            one value

DIST (``--sample k=DIST``): ``uniform(a,b)``, ``loguniform(a,b)``, ``normal(mu,sigma)``, ``randint(a,b)`` (both
ends included), ``categorical(a,b,c)`` and weighted ``categorical(0.8:linear,0.2:adaptive)``.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError

__all__ = [
    "Distribution",
    "Uniform",
    "LogUniform",
    "Normal",
    "RandInt",
    "Categorical",
    "Space",
    "Sampler",
    "parse_value",
    "parse_grid",
    "parse_distribution",
    "parse_assignment",
    "load_space_file",
]

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_value(text: str) -> Any:
    """Type a command-line value: int, float, bool (true/false), none/null, or else the string itself."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    if re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    if _NUMBER.match(stripped) or lowered in ("nan", "inf", "-inf", "+inf"):
        return float(stripped)
    return text


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``k=v`` (the key may be a dotted path); a clear usage error otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{option} {text!r}: expected NAME=VALUE")
    return key.strip(), value


# ---------------------------------------------------------------------- grid


MAX_RUNS = 100_000  # a sweep larger than this is refused before anything is allocated (--max-runs)


def _number(text: str, spec: str, what: str) -> float:
    try:
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
        raise UsageError(f"{what}: {count:.3g} runs is more than --max-runs {limit}; raise --max-runs if you mean it")


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
            return [parse_value(text)]
    if any(ch in text for ch in "[](){}"):
        raise UsageError(f"--grid {spec!r}: brackets inside a list; give plain values: a,b,c")
    if "," in text:
        values = [parse_value(part) for part in text.split(",")]
        if any(isinstance(v, str) and not v.strip() for v in values):
            raise UsageError(f"--grid {spec!r}: empty item in list")
        return values
    if ":" not in text:
        return [parse_value(text)]
    parts = text.split(":")
    if len(parts) == 2:
        start_text, end_text = parts
        start = _number(start_text or "0", spec, "start")
        end = _number(end_text, spec, "end")
        integral = all(re.fullmatch(r"[+-]?\d*", p) for p in parts)
        return _tidy(_steps(start, 1.0, end, spec), integral)
    if len(parts) != 3:
        raise UsageError(f"--grid {spec!r}: expected start:step:end, start:lN:end or start:uN:end")
    start = _number(parts[0] or "0", spec, "start")
    end = _number(parts[2], spec, "end")
    middle = parts[1].strip()
    if middle[:1] in ("l", "u"):
        count_text = middle[1:]
        if not count_text.isdigit() or int(count_text) < 1:
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
    if re.fullmatch(r"\d+", middle) and step > abs(end - start):
        check_size(step, f"--grid {spec!r}")
        return _tidy(
            _spaced(start, end, int(step)), False
        )  # Studio: an integer larger than the range is a count
    if start != end and abs(step) > abs(end - start):
        raise UsageError(
            f"--grid {spec!r}: step {step:g} is larger than the range {start:g}..{end:g}, which would give "
            f"one value; the order is start:step:end (or start:uN:end for N values)"
        )
    integral = all(re.fullmatch(r"[+-]?\d*", p.strip()) for p in parts)
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


# ---------------------------------------------------------------------- distributions


class Distribution:
    """A distribution a param is sampled from. ``sample(rng)``; ``to_unit``/``from_unit`` map to [0, 1] for TPE."""

    def sample(self, rng: random.Random) -> Any:
        raise NotImplementedError

    def spec(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def spec(self) -> str:
        return f"uniform({self.low:g},{self.high:g})"


@dataclass(frozen=True)
class LogUniform(Distribution):
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low <= 0 or self.high <= 0:
            raise UsageError(f"loguniform({self.low:g},{self.high:g}): bounds must be positive")

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))

    def spec(self) -> str:
        return f"loguniform({self.low:g},{self.high:g})"


@dataclass(frozen=True)
class Normal(Distribution):
    mu: float
    sigma: float

    def sample(self, rng: random.Random) -> float:
        return rng.gauss(self.mu, self.sigma)

    def spec(self) -> str:
        return f"normal({self.mu:g},{self.sigma:g})"


@dataclass(frozen=True)
class RandInt(Distribution):
    low: int
    high: int

    def sample(self, rng: random.Random) -> int:
        return rng.randint(self.low, self.high)

    def spec(self) -> str:
        return f"randint({self.low},{self.high})"


@dataclass(frozen=True)
class Categorical(Distribution):
    values: tuple[Any, ...]
    weights: tuple[float, ...] | None = None

    def sample(self, rng: random.Random) -> Any:
        return rng.choices(self.values, weights=self.weights)[0]

    def spec(self) -> str:
        if self.weights:
            return "categorical(" + ",".join(f"{w:g}:{v}" for v, w in zip(self.values, self.weights)) + ")"
        return "categorical(" + ",".join(str(v) for v in self.values) + ")"


_DIST = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.S)
_KINDS = {"uniform": 2, "loguniform": 2, "log_uniform": 2, "normal": 2, "gaussian": 2, "randint": 2}


_STUDIO = re.compile(r"^\s*([^:\s]+):([^:\s]+)(?::(\d+))?:([a-z]*)\s*$")


@dataclass(frozen=True)
class ArrayOf(Distribution):
    """``len`` independent draws of ``item``, as one list param (Studio.ml's ``a`` flag)."""

    item: Distribution
    length: int

    def sample(self, rng: random.Random) -> list[Any]:
        return [self.item.sample(rng) for _ in range(self.length)]

    def spec(self) -> str:
        return f"{self.length} x {self.item.spec()}"


def parse_studio(text: str) -> Distribution:
    """Studio.ml's optimizer syntax ``min:max[:len]:flags``: ``l`` log scale, ``u`` unbounded, ``r`` random initial
    point, ``a`` an array of ``len`` values. Informed search needs bounds, so ``u`` widens the range by its own
    width on each side (log scale: by its own ratio) and says so in the spec; ``r`` is accepted and changes nothing
    (every strategy's first points are random draws already)."""
    match = _STUDIO.match(text)
    if match is None:
        raise UsageError(f"--sample {text!r}: expected min:max[:len]:flags (flags among l, u, r, a)")
    low_text, high_text, length_text, flags = match.groups()
    bad = sorted(set(flags) - set("lura"))
    if bad:
        raise UsageError(f"--sample {text!r}: unknown flag {bad[0]!r}; flags are l (log), u, r, a (array)")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise UsageError(f"--sample {text!r}: min and max must be numbers") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise UsageError(f"--sample {text!r}: expected finite numbers with min < max")
    if "l" in flags and low <= 0:
        raise UsageError(f"--sample {text!r}: a log scale (l) needs min > 0")
    if "u" in flags:
        if "l" in flags:
            low, high = low * low / high, high * high / low
        else:
            low, high = low - (high - low), high + (high - low)
    item: Distribution = LogUniform(low, high) if "l" in flags else Uniform(low, high)
    if "a" in flags:
        length = int(length_text or 0)
        if not 1 <= length <= 1000:
            raise UsageError(f"--sample {text!r}: an array (a) needs a length from 1 to 1000: min:max:LEN:a")
        return ArrayOf(item, length)
    if length_text:
        raise UsageError(f"--sample {text!r}: a length is only meaningful with the array flag a")
    return item


def parse_distribution(text: str) -> Distribution:
    """Parse a DIST string (see the module docstring), or Studio.ml's ``min:max[:len]:flags``."""
    if _STUDIO.match(text):
        return parse_studio(text)
    match = _DIST.match(text)
    expected = "uniform(a,b), loguniform(a,b), normal(mu,sigma), randint(a,b) or categorical(a,b,...)"
    if not match:
        raise UsageError(f"--sample {text!r}: expected {expected}")
    kind, body = match.group(1).lower(), match.group(2)
    args = [a.strip() for a in body.split(",")] if body.strip() else []
    if kind == "categorical":
        if not args or any(not a for a in args):
            raise UsageError(
                f"--sample {text!r}: categorical needs at least one value, e.g. categorical(adam,sgd)"
            )
        if any(ch in a for a in args for ch in "()[]{}"):
            raise UsageError(f"--sample {text!r}: categorical takes plain values, e.g. categorical(adam,sgd)")
        weighted = [a.split(":", 1) for a in args]
        has_weight = [len(w) == 2 and bool(_NUMBER.match(w[0].strip())) for w in weighted]
        if any(has_weight) and not all(has_weight):
            raise UsageError(
                f"--sample {text!r}: give every value a weight (0.8:adam,0.2:sgd) or none (adam,sgd)"
            )
        if all(has_weight):
            weights = tuple(float(w[0]) for w in weighted)
            if any(w < 0 for w in weights) or not 0 < sum(weights) < math.inf:
                raise UsageError(f"--sample {text!r}: weights must be finite, non-negative and not all zero")
            values = tuple(parse_value(w[1]) for w in weighted)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise UsageError(f"--sample {text!r}: categorical values must be finite")
            return Categorical(values, weights)
        values = tuple(parse_value(a) for a in args)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise UsageError(f"--sample {text!r}: categorical values must be finite (quote-free text or numbers)")
        return Categorical(values)
    if kind not in _KINDS:
        raise UsageError(f"--sample {text!r}: unknown distribution {kind!r}; expected {expected}")
    if len(args) != 2:
        raise UsageError(f"--sample {text!r}: {kind} takes 2 numbers, got {len(args)}")
    try:
        a, b = (float(x) for x in args)
    except ValueError:
        raise UsageError(f"--sample {text!r}: {kind} takes numbers") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise UsageError(f"--sample {text!r}: {kind} takes finite numbers")
    if kind in ("uniform", "loguniform", "log_uniform", "randint") and a > b:
        raise UsageError(f"--sample {text!r}: low {a:g} is above high {b:g}")
    if not math.isfinite(b - a):
        raise UsageError(f"--sample {text!r}: the range is too large to sample")
    if kind == "uniform":
        return Uniform(a, b)
    if kind in ("loguniform", "log_uniform"):
        return LogUniform(a, b)
    if kind == "randint":
        if a != int(a) or b != int(b):
            raise UsageError(f"--sample {text!r}: randint takes integers")
        return RandInt(int(a), int(b))
    if b <= 0:
        raise UsageError(f"--sample {text!r}: sigma must be positive")
    return Normal(a, b)


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


# ---------------------------------------------------------------------- Sampler


class Sampler:
    """Draw hyperparameters one at a time, reproducibly: ``Sampler(seed=0).log_uniform(1e-5, 1e-1)``.

    The distributions of hypero's Sampler. On a run, ``run.log_uniform("lr", 1e-5, 1e-1)`` samples *and* records
    the param (and returns an explicitly given value instead of sampling).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def draw(self, distribution: Distribution) -> Any:
        return distribution.sample(self.rng)

    def uniform(self, low: float, high: float) -> float:
        return float(self.draw(Uniform(low, high)))

    def log_uniform(self, low: float, high: float) -> float:
        return float(self.draw(LogUniform(low, high)))

    def normal(self, mu: float, sigma: float) -> float:
        return float(self.draw(Normal(mu, sigma)))

    def randint(self, low: int, high: int) -> int:
        return int(self.draw(RandInt(low, high)))

    def categorical(self, values: Sequence[Any], weights: Sequence[float] | None = None) -> Any:
        if not values:
            raise ValueError("categorical needs at least one value")
        return self.draw(Categorical(tuple(values), tuple(weights) if weights else None))
