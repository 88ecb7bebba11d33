"""The executor options of ``gitxp run`` (``--executor``, ``--scheduler``, ``--retries``, ``--slurm-*``, ...).

:func:`executor_options` adds them to a command and hands it one ``cluster`` argument, a
:class:`gitxp.executors.ExecutorOptions`, instead of a dozen loose ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

__all__ = ["executor_options"]

_SLURM = {
    "slurm_partition": ("partition", str, "Slurm partition."),
    "slurm_time": ("time", int, "Slurm time limit per trial, in minutes."),
    "slurm_gpus": ("gpus", int, "GPUs per trial (Slurm)."),
    "slurm_cpus": ("cpus", int, "CPUs per trial (Slurm)."),
    "slurm_mem": ("mem", str, "Memory per trial (Slurm), e.g. 16G."),
    "slurm_array_parallelism": ("array_parallelism", int, "Trials of a job array running at once (Slurm)."),
}


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        from gitxp.errors import UsageError
        from gitxp.executors import ExecutorOptions

        slurm = {key: kwargs.pop(option) for option, (key, _, _) in _SLURM.items()}
        slurm = {k: v for k, v in slurm.items() if v is not None}
        setup = kwargs.pop("slurm_setup")
        if setup:
            slurm["setup"] = list(setup)
        retries = kwargs.pop("retries")
        if retries < 0:
            raise UsageError("--retries must be 0 or more")
        gpus = kwargs.pop("gpus_per_run")
        if gpus < 0:
            raise UsageError("--gpus-per-run must be 0 or more")
        kwargs["cluster"] = ExecutorOptions(
            jobs=kwargs.get("jobs"),
            scheduler=kwargs.pop("scheduler"),
            gpus_per_run=gpus,
            retries=retries,
            detach=kwargs.pop("detach"),
            slurm=slurm,
        )
        return command(**kwargs)

    options = [
        click.option(
            "--scheduler",
            metavar="tcp://HOST:8786",
            help="--executor dask: an existing Dask scheduler (default: $GITXP_DASK_SCHEDULER, else a LocalCluster).",
        ),
        click.option(
            "--gpus-per-run", type=int, default=0, help="GPUs each trial needs (Dask worker resources)."
        ),
        click.option(
            "--retries", type=int, default=1, show_default=True, help="Runs again a trial whose worker died."
        ),
        click.option(
            "--detach", is_flag=True, help="--executor slurm: return once submitted (gitxp collect)."
        ),
        click.option(
            "--slurm-setup",
            multiple=True,
            metavar="LINE",
            help="Shell line run before each trial (module load ...).",
        ),
    ]
    for name, (_, kind, text) in _SLURM.items():
        options.append(click.option("--" + name.replace("_", "-"), type=kind, help=text))
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
