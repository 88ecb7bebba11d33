"""Framework integrations: each module is imported only when used, so ``import gitxp`` stays light.

- :mod:`gitxp.integrations.args`: ``gitxp.parse_args(parser)`` records an argparse script's params, defaults
  included.
- :mod:`gitxp.integrations.tensorboard`: a result reader turning TensorBoard event files under the output dir
  into the run's curves.

Every integration records into the current gitxp run (the wrapper's one under ``gitxp run``), or starts one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["active_run"]


def active_run(experiment: str | None = None, params: Mapping[str, Any] | None = None) -> Run:
    """The current run with ``params`` added, or a new run (made current, ended when the process exits)."""
    from gitxp.errors import GitxpError
    from gitxp.run import current, start

    try:
        run = current()
    except GitxpError:
        run = start(experiment, params)
        run.__enter__()  # current() finds it; it is ended (finished/failed) when the interpreter exits
        return run
    if params:
        run._update("params", {k: v for k, v in params.items() if k not in run.params})
    return run
