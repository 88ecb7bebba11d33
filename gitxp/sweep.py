"""Sweeps: a search space, a strategy proposing points, an executor running them, a progress bar, a summary.

The version is captured once for the whole sweep (every run of a sweep uses the same code). Points are proposed
one at a time as slots free up, so an informed strategy (``tpe``) sees every result finished so far, including
those of earlier sweeps of the same experiment already in the store.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import UsageError
from gitxp.ids import new_run_id
from gitxp.objective import column, lookup
from gitxp.run import Run
from gitxp.space import Space
from gitxp.store import Store
from gitxp.versioning import Version
from gitxp.wrapper import Command, Controller, execute

__all__ = ["Sweep", "SweepResult", "strategies", "executors", "history", "UNINFORMED"]

UNINFORMED = ("grid", "random")  # strategies that propose without looking at results


def strategies() -> dict[str, Any]:
    from gitxp.plugins import collect_registry, get_plugin_manager

    return collect_registry(get_plugin_manager().hook.gitxp_search_strategies, "search strategy")


def executors() -> dict[str, Any]:
    from gitxp.plugins import collect_registry, get_plugin_manager

    return collect_registry(get_plugin_manager().hook.gitxp_executors, "executor")


def history(
    store: Store, experiment: str, names: list[str], metric: tuple[str, str]
) -> list[tuple[dict[str, Any], float]]:
    """``(params, value)`` of the finished runs of ``experiment`` that have ``metric`` and all of ``names``."""
    import pyarrow.compute as pc

    table = store.table()
    found = column(*metric, table.column_names)
    if not table.num_rows or found is None:
        return []
    table = table.filter(
        pc.and_(pc.equal(table["experiment"], experiment), pc.equal(table["status"], "finished"))
    )
    cols = {n: f"params.{n}" for n in names if f"params.{n}" in table.column_names}
    out = []
    for row in table.select([found, *cols.values()]).to_pylist():
        value = row[found]
        if (
            isinstance(value, (int, float))
            and math.isfinite(value)
            and all(row[c] is not None for c in cols.values())
        ):
            out.append(({n: row[c] for n, c in cols.items()}, float(value)))
    return out


@dataclass
class SweepResult:
    runs: list[Run] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    best: Run | None = None
    best_value: float | None = None
    interrupted: bool = False
    total: int | None = None  # how many runs the strategy will propose, when it knows
    metric_seen: bool = False  # some finished run reported the objective
    missing_metric: list[str] | None = None  # result names of the first finished run that lacked it

    @property
    def blind(self) -> bool:
        """True when a metric was asked for but no finished run reported it (a typo, most likely)."""
        return self.missing_metric is not None and not self.metric_seen

    @property
    def failed(self) -> int:
        return sum(1 for s in self.statuses.values() if s in ("failed", "crashed"))


@dataclass
class Sweep:
    """Everything ``gitxp run`` needs to run one command once or over a search space."""

    store: Store
    version: Version
    command: Command
    space: Space
    experiment: str | None = None
    strategy: str = "grid"
    n: int | None = None
    jobs: int = 1
    executor: str = "local"
    metric: tuple[str, str] | None = None
    seed: int | None = None
    fail_fast: bool = False
    tee: bool = True

    def _strategy(self) -> Any:
        factories = strategies()
        if self.strategy not in factories:
            raise UsageError(f"--strategy {self.strategy!r}: expected one of {', '.join(sorted(factories))}")
        experiment = self.experiment or _experiment_name(self.store)
        past = history(self.store, experiment, self.space.names, self.metric) if self.metric else []
        return factories[self.strategy](self.space, seed=self.seed, n=self.n, objective=self.metric, history=past)

    def plan(self, limit: int = 5) -> tuple[int | None, list[dict[str, Any]]]:
        """What :meth:`run` would do, without running anything: the number of runs (None when open-ended)
        and the first ``limit`` param sets the strategy proposes."""
        strategy = self._strategy()
        points = []
        while len(points) < limit:
            point = strategy.suggest()
            if point is None:
                break
            points.append(point)
        return strategy.total, points

    def run(
        self, controller: Controller, on_event: Callable[[str, Run | None, SweepResult], None] | None = None
    ) -> SweepResult:
        strategy = self._strategy()
        runners = executors()
        if self.executor not in runners:
            raise UsageError(f"--executor {self.executor!r}: expected one of {', '.join(sorted(runners))}")
        sweep_id = new_run_id()
        metric = ":".join(self.metric) if self.metric else None
        result = SweepResult(total=strategy.total)
        if on_event:
            on_event("begin", None, result)
        pool = runners[self.executor](self.jobs)
        running: dict[Future[str], Run] = {}
        stop = False
        try:
            while True:
                while not stop and len(running) < self.jobs and not controller.interrupted.is_set():
                    point = strategy.suggest()
                    if point is None:
                        break
                    meta = {"sweep": sweep_id, "strategy": self.strategy} if self.space.is_sweep else {}
                    run = Run(
                        experiment=self.experiment,
                        params=point,
                        metric=metric,
                        store=self.store,
                        version=self.version,
                        meta=meta,
                        attach=False,  # a gitxp run inside a gitxp run records its own runs
                    )
                    result.runs.append(run)
                    running[
                        pool.submit(
                            execute,
                            run,
                            self.command,
                            controller=controller,
                            tee=self.tee,
                            stdin=None if self.jobs == 1 else subprocess.DEVNULL,
                        )
                    ] = run
                    if on_event:
                        on_event("start", run, result)
                if not running:
                    break
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    run = running.pop(future)
                    try:
                        status = future.result()
                    except Exception as error:  # gitxp's own failure around one run: record it, go on
                        run.meta({"error.type": type(error).__name__, "error.message": str(error)})
                        run.end("failed")
                        status = "failed"
                    result.statuses[run.id] = status
                    value = _summary(run, self.metric)
                    if self.metric and status == "finished":
                        if value is not None:
                            result.metric_seen = True
                        elif not result.metric_seen and result.missing_metric is None:
                            result.missing_metric = sorted(run.results)
                            if self.strategy not in UNINFORMED and not stop:
                                stop = True  # an informed search without its objective would only pretend
                            if on_event:
                                on_event("metric-missing", run, result)
                    strategy.observe(dict(run.params), value if status == "finished" else None)
                    if (
                        value is not None
                        and status == "finished"
                        and _better(value, result.best_value, self.metric)
                    ):
                        result.best, result.best_value = run, value
                    if status == "failed" and self.fail_fast and not stop:
                        stop = True
                        controller.stop()
                    if on_event:
                        on_event("end", run, result)
                if controller.interrupted.is_set():
                    stop = True
        finally:
            pool.shutdown(wait=True)
        result.interrupted = controller.interrupted.is_set() and not self.fail_fast
        return result


def _experiment_name(store: Store) -> str:
    from gitxp.run import _default_experiment

    return _default_experiment(store)


def _summary(run: Run, metric: tuple[str, str] | None) -> float | None:
    if metric is None:
        return None
    return lookup(run.results, *metric)


def _better(value: float, best: float | None, metric: tuple[str, str] | None) -> bool:
    if best is None:
        return True
    return value < best if metric and metric[1] == "min" else value > best
