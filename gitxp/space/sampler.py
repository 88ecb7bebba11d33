"""The ``Sampler``: draw hyperparameters one at a time, reproducibly."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from gitxp.space.distributions import (
    Categorical,
    Distribution,
    LogUniform,
    Normal,
    RandInt,
    Uniform,
)

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
