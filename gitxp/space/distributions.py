"""Distributions (``--sample k=DIST``) and Studio-style specs."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Any

from gitxp.errors import UsageError
from gitxp.space.values import NUMBER_RE, parse_item

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


DIST_RE = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.S)
_KINDS = {"uniform": 2, "loguniform": 2, "log_uniform": 2, "normal": 2, "gaussian": 2, "randint": 2}


STUDIO_RE = re.compile(r"^\s*([^:\s]+):([^:\s]+)(?::([0-9]+))?:([a-z]*)\s*$")


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
    match = STUDIO_RE.match(text)
    if match is None:
        raise UsageError(f"--sample {text!r}: expected min:max[:len]:flags (flags among l, u, r, a)")
    low_text, high_text, length_text, flags = match.groups()
    bad = sorted(set(flags) - set("lura"))
    if bad:
        raise UsageError(f"--sample {text!r}: unknown flag {bad[0]!r}; flags are l (log), u, r, a (array)")
    try:
        if not (NUMBER_RE.match(low_text) and NUMBER_RE.match(high_text)):
            raise ValueError(text)
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
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(high - low)):
        raise UsageError(f"--sample {text!r}: the range is too large to sample (draws would be infinite)")
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
    if STUDIO_RE.match(text):
        return parse_studio(text)
    match = DIST_RE.match(text)
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
        has_weight = [len(w) == 2 and bool(NUMBER_RE.match(w[0].strip())) for w in weighted]
        if any(has_weight) and not all(has_weight):
            raise UsageError(
                f"--sample {text!r}: give every value a weight (0.8:adam,0.2:sgd) or none (adam,sgd)"
            )
        if all(has_weight):
            weights = tuple(float(w[0]) for w in weighted)
            if any(w < 0 for w in weights) or not 0 < sum(weights) < math.inf:
                raise UsageError(f"--sample {text!r}: weights must be finite, non-negative and not all zero")
            values = tuple(parse_item(w[1]) for w in weighted)
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise UsageError(f"--sample {text!r}: categorical values must be finite")
            return Categorical(values, weights)
        values = tuple(parse_item(a) for a in args)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise UsageError(
                f"--sample {text!r}: categorical values must be finite (quote-free text or numbers)"
            )
        return Categorical(values)
    if kind not in _KINDS:
        raise UsageError(f"--sample {text!r}: unknown distribution {kind!r}; expected {expected}")
    if len(args) != 2:
        raise UsageError(f"--sample {text!r}: {kind} takes 2 numbers, got {len(args)}")
    if not all(NUMBER_RE.match(x) or x.lower() in ("nan", "inf", "-inf", "+inf") for x in args):
        raise UsageError(f"--sample {text!r}: {kind} takes numbers")
    a, b = (float(x) for x in args)
    if kind == "randint" and all(re.fullmatch(r"[+-]?[0-9]+", x) for x in args):
        low, high = (int(x) for x in args)  # exact: a float rounds past 2**53
        if low > high:
            raise UsageError(f"--sample {text!r}: low {low} is above high {high}")
        if not -(2**63) <= low <= high < 2**63:
            raise UsageError(f"--sample {text!r}: randint bounds must fit in 64 bits")
        return RandInt(low, high)
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
        if a != int(a) or b != int(b) or max(abs(a), abs(b)) > 2**53:
            raise UsageError(f"--sample {text!r}: randint takes integers (written in full past 2**53)")
        return RandInt(int(a), int(b))
    if b <= 0:
        raise UsageError(f"--sample {text!r}: sigma must be positive")
    if not math.isfinite(abs(a) + 10 * b):  # a draw lies within ~9 sigma (random.gauss): it must stay finite
        raise UsageError(f"--sample {text!r}: the range is too large to sample")
    return Normal(a, b)
