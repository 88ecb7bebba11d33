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

# ruff: noqa: F401  (re-exports: ``from gitxp.space import X`` keeps working)
from gitxp.space.distributions import (
    ArrayOf,
    Categorical,
    Distribution,
    LogUniform,
    Normal,
    RandInt,
    Uniform,
    parse_distribution,
    parse_studio,
)
from gitxp.space.grid import MAX_RUNS, check_size, parse_grid
from gitxp.space.sampler import Sampler
from gitxp.space.spacefile import Space, load_space_file
from gitxp.space.values import parse_assignment, parse_value

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
