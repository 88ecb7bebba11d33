"""``gitxp.parse_args(parser)``: an argparse script's arguments, defaults included, become the run's params.

Two runs that differ only by a changed default (``--lr`` default 0.1 -> 0.05 in the code) are then told apart by
their params, not only by their code version. Under ``gitxp run`` the params given with ``-p`` reach the script
as ``--name value`` and are parsed here like any other argument.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["parse_args"]


def _recordable(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_recordable(item) for item in value)
    return False


def parse_args(
    parser: argparse.ArgumentParser,
    args: Sequence[str] | None = None,
    *,
    experiment: str | None = None,
) -> argparse.Namespace:
    """``parser.parse_args(args)``, recording every parsed value (defaults included) as a param of the current
    run (or of a new one). Values that are not plain data (open files, objects) are recorded as their ``str``;
    ``None`` (an option not given and without default) is left out."""
    namespace = parser.parse_args(args)
    params: dict[str, Any] = {}
    for name, value in vars(namespace).items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
        params[name] = value if _recordable(value) else str(value)
    from gitxp.integrations import active_run

    active_run(experiment, params)  # a run it starts ends when the script exits
    return namespace
