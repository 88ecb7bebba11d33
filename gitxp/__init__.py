"""gitxp: every machine-learning run recorded with the exact code it used, stored as Parquet on a git ref.

>>> import gitxp
>>> with gitxp.start(params={"lr": 0.1}) as run:        # doctest: +SKIP
...     run.log(step=0, loss=0.5)
...     run.result(valid_acc=0.91)
>>> gitxp.load().to_pandas()                             # doctest: +SKIP

Attributes are imported lazily so that ``import gitxp`` stays cheap (no pyarrow until it is needed).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpError
from gitxp.hookspecs import hookimpl

if TYPE_CHECKING:
    from gitxp.bisection import bisect
    from gitxp.integrations.args import parse_args
    from gitxp.lifecycle.api import archive, cancel, note, remove, restore, tag, unarchive, untag
    from gitxp.query import get_artifact, load, metrics
    from gitxp.run import Run, current, experiment, start
    from gitxp.search.api import Sweep, optimize
    from gitxp.space import Sampler, Space
    from gitxp.store import Store

__version__ = "0.1.0"
__all__ = [
    "start",
    "experiment",
    "current",
    "parse_args",
    "load",
    "metrics",
    "get_artifact",
    "Run",
    "Sampler",
    "Space",
    "Sweep",
    "optimize",
    "Store",
    "hookimpl",
    "GitxpError",
    "bisect",
    "tag",
    "untag",
    "note",
    "archive",
    "unarchive",
    "remove",
    "restore",
    "cancel",
]

_LAZY = {
    "start": "gitxp.run",
    "experiment": "gitxp.run",
    "current": "gitxp.run",
    "parse_args": "gitxp.integrations.args",
    "Run": "gitxp.run",
    "load": "gitxp.query",
    "metrics": "gitxp.query",
    "get_artifact": "gitxp.query",
    "Store": "gitxp.store",
    "Sampler": "gitxp.space",
    "Space": "gitxp.space",
    "Sweep": "gitxp.search.api",
    "optimize": "gitxp.search.api",
    "bisect": "gitxp.bisection",
    **{
        name: "gitxp.lifecycle.api"
        for name in ("tag", "untag", "note", "archive", "unarchive", "remove", "restore", "cancel")
    },
}


# documented as gitxp.compare.compare(...) after a plain ``import gitxp``
_SUBMODULES = frozenset({"compare"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"gitxp.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gitxp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _in_kernel() -> None:
    """In a Jupyter kernel, start noting the modules it imports (a run then says which changed on disk since)."""
    import sys

    if "ipykernel" in sys.modules:
        from gitxp.notebook.kernel import install

        install()


_in_kernel()
