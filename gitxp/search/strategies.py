"""Built-in search strategies, registered through ``gitxp_search_strategies``: ``grid`` and ``random`` (here),
and the informed ``tpe``, ``cmaes``, ``gp``, ``qmc``, ``nsga2`` (Optuna's samplers, gitxp.search.samplers).

A strategy is created with ``factory(space, seed=..., n=..., objective=..., objectives=..., history=...)``, where
``history`` is the experiment's :class:`~gitxp.search.history.History` read from the store. It proposes one point
at a time: ``ask(history)`` (given the latest history at each call) or, in the first protocol, ``suggest()``; it
may be told results through ``observe(params, value)``. ``total`` is how many points it will propose (None:
open-ended).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Protocol

from gitxp.errors import UsageError
from gitxp.hookspecs import hookimpl
from gitxp.space import Categorical, Distribution, Space

__all__ = ["Strategy", "GridStrategy", "RandomStrategy"]


class Strategy(Protocol):
    """What a search strategy provides (``ask(history)`` may replace ``suggest()``)."""

    total: int | None

    def suggest(self) -> dict[str, Any] | None: ...

    def observe(self, params: dict[str, Any], value: float | None) -> None: ...


class GridStrategy:
    """Every grid point (Cartesian product of ``--grid`` axes), each with ``n`` draws of the ``--sample`` params.

    With ``n`` > 1 every repeat of a point gets its own seed, the repeat index (0 .. n-1): recorded as the run's
    ``meta.seed`` (``pending_meta``), and given to the command as ``$GITXP_SEED`` — so that repeats of a seeded
    script are not n identical results, and a rerun of repeat i gets the same seed again."""

    def __init__(self, space: Space, *, seed: int | None = None, n: int | None = None, **_: Any) -> None:
        self.rng = random.Random(seed)
        self.space = space
        self.repeats = n or 1
        self.points = [pt for pt in space.grid_points() for _ in range(self.repeats)]
        self.total: int | None = len(self.points)
        self.index = 0
        self.pending_meta: dict[str, Any] = {}

    def suggest(self) -> dict[str, Any] | None:
        if self.index >= len(self.points):
            return None
        point = dict(self.space.fixed)
        point.update(self.points[self.index])
        point.update({k: d.sample(self.rng) for k, d in self.space.sample.items()})
        self.pending_meta = {"seed": self.index % self.repeats} if self.repeats > 1 else {}
        self.index += 1
        return point

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass


class RandomStrategy:
    """``n`` independent draws; grid axes are treated as uniform choices among their values."""

    def __init__(self, space: Space, *, seed: int | None = None, n: int | None = None, **_: Any) -> None:
        if not n:
            raise UsageError("--strategy random needs -n N (how many runs)")
        self.rng = random.Random(seed)
        self.space = space
        self.total: int | None = n
        self.count = 0

    def dimensions(self) -> dict[str, Distribution]:
        dims: dict[str, Distribution] = {k: Categorical(tuple(v)) for k, v in self.space.grid.items()}
        dims.update(self.space.sample)
        return dims

    def random_point(self) -> dict[str, Any]:
        point = dict(self.space.fixed)
        point.update({k: d.sample(self.rng) for k, d in self.dimensions().items()})
        return point

    def suggest(self) -> dict[str, Any] | None:
        if self.total is not None and self.count >= self.total:
            return None
        self.count += 1
        return self.random_point()

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass


def _informed(name: str) -> Callable[..., Any]:
    """The factory of an informed strategy: Optuna's ``name`` sampler (imported only when one is used)."""

    def create(space: Space, **options: Any) -> Any:
        from gitxp.search.samplers import OptunaStrategy

        return OptunaStrategy(space, sampler=name, **options)

    create.__name__ = f"{name}_strategy"
    return create


@hookimpl
def gitxp_search_strategies(register: Callable[[str, Any], None]) -> None:
    register("grid", GridStrategy)
    register("random", RandomStrategy)
    for name in ("tpe", "cmaes", "gp", "qmc", "nsga2"):
        register(name, _informed(name))
