"""Executors: where a sweep's trials run (``local``, ``dask``, ``slurm``, or a plugin's).

One small interface (:class:`Executor`) serves every strategy and every engine. The sweep loop asks the executor
how many trials it can take now (:meth:`Executor.slots`), asks the strategy for that many proposals one at a time,
and hands each run to :meth:`Executor.submit` (a ``concurrent.futures.Future``); when one ends,
:meth:`Executor.outcome` books it into the client-side run and gives its status. Proposals are therefore made as
slots free up, never in fixed batches, so an informed strategy always sees the latest results (and the runs still
in flight, told as RUNNING for the constant liar).

A remote executor (Dask, Slurm) never gets the run object: it ships a :class:`gitxp.executors.remote.TrialSpec`
(params, meta, version, the command or the pickled objective) and gets back the complete run record, curves and
logs, which the client writes to the store. Workers need no access to the repository.

``dask`` and ``submitit`` are imported only when their executor is chosen.
"""

from __future__ import annotations

import inspect
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gitxp.errors import UsageError

if TYPE_CHECKING:
    from gitxp.run import Run
    from gitxp.wrap.command import Command, Controller

__all__ = ["Executor", "ExecutorOptions", "Job", "LocalExecutor", "make_executor"]


@dataclass
class ExecutorOptions:
    """What ``gitxp run``/``gitxp.optimize`` pass an executor: ``-j``, ``--scheduler``, ``--gpus-per-run``,
    ``--retries``, ``--detach`` and the ``--slurm-*`` settings."""

    jobs: int | None = None  # None: as many as the engine has slots (Dask: its worker threads)
    scheduler: str | None = None
    gpus_per_run: int = 0
    retries: int = 1
    detach: bool = False
    slurm: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None  # submitit's job folder (logs, pickles)


@dataclass
class Job:
    """What every trial of a sweep runs: a wrapped ``command`` or an in-process ``task(run)`` (a Python objective).
    ``objective``/``objectives`` are the user's function and goals, for executors that ship it elsewhere."""

    command: Command | None
    task: Callable[[Run], str] | None
    controller: Controller
    tee: bool = False
    parallel: bool = False
    objective: Callable[[Run], Any] | None = None
    objectives: list[tuple[str, str]] = field(default_factory=list)
    sweep_id: str = ""
    informed: bool = False  # the strategy reads results: propose as slots free up, never ahead


class Executor(Protocol):
    """The executor interface every sweep is written against."""

    name: str
    remote: bool  # trials run in other processes that never see the Run object

    def slots(self) -> int:
        """How many trials may be in flight now (queued on the engine or running)."""

    def submit(self, run: Run, job: Job) -> Future[Any]:
        """Start ``run`` (params, meta and version already staged by the client)."""

    def outcome(self, run: Run, future: Future[Any]) -> str:
        """Book a done future into ``run`` (ending it) and return its status."""

    def counts(self) -> dict[str, int]:
        """``{"queued": n, "running": m}`` as the engine sees them."""

    def shutdown(self, cancel: bool = False) -> None:
        """Release the engine; with ``cancel`` stop every trial still queued or running."""


class LocalExecutor:
    """``local``: N runs at once, each a child process (or a thread for a Python objective) of this process."""

    name = "local"
    remote = False

    def __init__(self, options: ExecutorOptions | None = None, pool: PoolExecutor | None = None) -> None:
        self.jobs = max(1, (options.jobs if options else None) or 1)
        self.pool = pool or ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="gitxp-run")
        self._in_flight = 0
        self._trial_threads: dict[int, Run] = {}  # thread id -> the Python objective's trial it runs

    def slots(self) -> int:
        return self.jobs

    def submit(self, run: Run, job: Job) -> Future[Any]:
        self._in_flight += 1
        if job.task is not None:
            if self.jobs == 1 and threading.current_thread() is threading.main_thread():
                return _inline(job.task, run)
            return self.pool.submit(self._tracked, job.task, run)
        from gitxp.wrap.command import execute

        assert job.command is not None
        return self.pool.submit(
            execute,
            run,
            job.command,
            controller=job.controller,
            tee=job.tee,
            stdin=subprocess.DEVNULL if job.parallel else None,
        )

    def _tracked(self, task: Callable[[Run], str], run: Run) -> str:
        self._trial_threads[threading.get_ident()] = run
        try:
            return task(run)
        finally:
            self._trial_threads.pop(threading.get_ident(), None)

    def interrupt(self) -> None:
        """Ctrl-C with trials in threads (``n_jobs > 1``): raise ``KeyboardInterrupt`` in each, at its next Python
        instruction, so that each records ``interrupted`` (a trial stuck in one long C call stops after it)."""
        import ctypes

        for ident in list(self._trial_threads):
            if self._trial_threads.pop(ident, None) is None:
                continue  # once per trial: a second one could land while it records itself interrupted
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
            )

    def outcome(self, run: Run, future: Future[Any]) -> str:
        self._in_flight -= 1
        try:
            return str(future.result())
        except KeyboardInterrupt:  # interrupt(): the trial recorded itself interrupted
            return run.status

    def counts(self) -> dict[str, int]:
        return {"queued": 0, "running": self._in_flight}

    def shutdown(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


def _inline(task: Callable[[Run], str], run: Run) -> Future[Any]:
    """Run one trial of a Python objective in this (main) thread: Ctrl-C (a kernel's interrupt) then raises
    ``KeyboardInterrupt`` inside the objective at once, the trial is recorded ``interrupted`` and the search
    stops, instead of the main thread waiting for a worker thread that no signal reaches."""
    future: Future[Any] = Future()
    try:
        future.set_result(task(run))
    except Exception as error:  # noqa: BLE001 - booked by outcome(), as a worker thread's would be
        future.set_exception(error)
    return future


def make_executor(name: str, options: ExecutorOptions) -> Executor:
    """The executor registered as ``name`` (the ``gitxp_executors`` hook), built with ``options``.

    A plugin's factory may take the options (``factory(options)``) and return an :class:`Executor`, or take ``jobs``
    and return a ``concurrent.futures.Executor`` (the older shape), which runs trials like ``local`` does."""
    from gitxp.errors import did_you_mean
    from gitxp.plugins import collect_registry, get_plugin_manager

    factories = collect_registry(get_plugin_manager().hook.gitxp_executors, "executor")
    if name not in factories:
        hint = did_you_mean(name, list(factories)) or f" (expected one of {', '.join(sorted(factories))})"
        raise UsageError(f"--executor {name!r}: no such executor{hint}")
    factory = factories[name]
    try:
        first = next(iter(inspect.signature(factory).parameters), "")
    except (TypeError, ValueError):
        first = ""
    if first == "options":
        return factory(options)
    made = factory(max(1, options.jobs or 1))
    if isinstance(made, PoolExecutor):
        return LocalExecutor(options, pool=made)
    return made
