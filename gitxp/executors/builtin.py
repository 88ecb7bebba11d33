"""Built-in executors: ``local`` (child processes of this gitxp), ``dask`` and ``slurm`` (submitit).

Each is a factory ``factory(options) -> gitxp.executors.Executor``; Dask and submitit are imported only when their
executor is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitxp.hookspecs import hookimpl


def local(options: Any) -> Any:
    from gitxp.executors import LocalExecutor

    return LocalExecutor(options)


def dask(options: Any) -> Any:
    from gitxp.executors.dask import DaskExecutor

    return DaskExecutor(options)


def slurm(options: Any) -> Any:
    from gitxp.executors.slurm import SlurmExecutor

    return SlurmExecutor(options)


@hookimpl
def gitxp_executors(register: Callable[[str, Any], None]) -> None:
    register("local", local)
    register("dask", dask)
    register("slurm", slurm)
