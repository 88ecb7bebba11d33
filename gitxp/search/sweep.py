"""Sweeps: a search space, a strategy proposing points, an executor running them, a progress bar, a summary.

The version is captured once for the whole sweep (every run of a sweep uses the same code). Points are proposed
one at a time as slots free up. An informed strategy (``ask(history)``) is handed, at every proposal, the history
of the experiment rebuilt from the store (:mod:`gitxp.search.history`): runs of earlier sessions and of other
machines, this sweep's finished runs, and its runs still in flight (so that ``-j N`` never proposes a point twice).
A run is either a wrapped command (``gitxp run``) or a Python objective (``gitxp.optimize``): the same loop.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import UsageError
from gitxp.query.objective import lookup, pareto_front
from gitxp.run import Run
from gitxp.search.history import History, HistoryReader, warm_mode
from gitxp.search.resume import finished_points
from gitxp.space import Space
from gitxp.store import Store
from gitxp.store.ids import new_run_id
from gitxp.version.capture import Version
from gitxp.wrap.command import Command, Controller
from gitxp.wrap.readers import parsed_names

__all__ = ["Sweep", "SweepResult", "strategies", "UNINFORMED", "pareto_front"]

UNINFORMED = ("grid", "random")  # strategies that propose without looking at results


def strategies() -> dict[str, Any]:
    from gitxp.plugins import collect_registry, get_plugin_manager

    return collect_registry(get_plugin_manager().hook.gitxp_search_strategies, "search strategy")


@dataclass
class SweepResult:
    runs: list[Run] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    best: Run | None = None
    best_value: float | None = None
    front: list[Run] = field(default_factory=list)  # several objectives: the Pareto front of finished runs
    interrupted: bool = False
    total: int | None = None  # how many runs the strategy will propose, when it knows
    metric_seen: bool = False  # some finished run reported the objective
    missing_metric: list[str] | None = None  # result names of the first finished run that lacked it
    pruned: int = 0
    resume_found: int | None = None  # --resume: finished runs of this version the sweep may skip
    skipped: int = 0  # --resume: proposals that had already finished (not run again)
    best_earlier: tuple[str, dict[str, Any]] | None = None  # --resume: the best is an earlier session's run
    saved: float = 0.0  # share of the steps the pruned runs did not need
    error: str | None = None  # the executor gave up (e.g. its Dask scheduler went away)
    warm: str | None = None  # what the warm start used ("warm start: 60 runs of 2 earlier versions")
    notes: list[str] = field(default_factory=list)  # what the strategy told (the last one: on_event "note")

    @property
    def blind(self) -> bool:
        """True when a metric was asked for but no finished run reported it (a typo, most likely)."""
        return self.missing_metric is not None and not self.metric_seen

    @property
    def failed(self) -> int:
        return sum(1 for s in self.statuses.values() if s in ("failed", "crashed"))


@dataclass
class Sweep:
    """Everything needed to run one command (or a Python objective) once or over a search space."""

    store: Store
    version: Version
    command: Command | None
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
    objectives: list[tuple[str, str]] = field(default_factory=list)
    prune: str | None = None
    task: Callable[[Run], str] | None = None  # runs one trial in-process (gitxp.optimize); else the command
    timeout: float | None = None  # seconds after which no new run is started
    git: bool = True
    open_ended: bool = False  # gitxp.Sweep: as many proposals as asked for
    resume: bool = False  # skip the grid points / seeded samples that already finished (gitxp.search.resume)
    invocation: list[str] | None = None  # the `gitxp run` arguments (for `--resume -e EXP`)
    executor_options: Any = None  # gitxp.executors.ExecutorOptions (--scheduler, --retries, --slurm-*, ...)
    objective: Callable[[Run], Any] | None = None  # the user's function behind ``task`` (gitxp.optimize)
    argv_params: bool = True  # record the command's --name value flags as params (gitxp run --no-argv-params)
    live: Any = None  # the executor while the sweep runs (Sweep.status() reads its counts)
    planned_skips: int = 0  # plan() with resume: the points that already finished (and would be skipped)
    run_meta: dict[str, Any] = field(default_factory=dict)  # meta of every run (entry point, declared inputs)
    warm_start: Any = "ancestors"  # which earlier versions' runs seed an informed search (gitxp.search.warm)
    _reader: HistoryReader | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.metric and not self.objectives:
            self.objectives = [self.metric]
        if self.objectives and not self.metric:
            self.metric = self.objectives[0]
        self.warm_start = warm_mode(self.warm_start)

    def _with_argv_params(self, point: dict[str, Any]) -> dict[str, Any]:
        """``point`` plus the flags typed in the command (gitxp.space.argv) it does not set."""
        if not self.argv_params or self.command is None or self.task is not None:
            return point
        from gitxp.space.argv import argv_params

        typed = argv_params(self.command.argv, shell=self.command.shell, skip=point)
        return {**point, **typed} if typed else point

    @property
    def experiment_name(self) -> str:
        from gitxp.run.setup import default_experiment

        return self.experiment or default_experiment(self.store)

    def history(self) -> History:
        """The trials of this version of the experiment as the store holds them now, and the earlier versions'
        runs ``warm_start`` chose (``History.prior``): read once, then kept up to date incrementally."""
        if self._reader is None:
            self._reader = HistoryReader(
                self.store,
                self.experiment_name,
                self.space.names,
                self.objectives,
                version=self.version.id,
                commit=self.version.commit,
                warm_start=self.warm_start,
            )
        return self._reader.read()

    def make_strategy(self) -> Any:
        """The search strategy of this sweep, given the history so far."""
        factories = strategies()
        if self.strategy not in factories:
            raise UsageError(f"--strategy {self.strategy!r}: expected one of {', '.join(sorted(factories))}")
        # grid and random never look at results: a single run or a grid does not read the store to start
        history = (
            self.history() if self.strategy not in UNINFORMED else History(objectives=list(self.objectives))
        )
        try:
            strategy = factories[self.strategy](
                self.space, seed=self.seed, n=self.n, objective=self.metric, objectives=list(self.objectives),
                history=history,
            )  # fmt: skip
        except UsageError as error:  # an informed search without --metric: name what --parse reads
            read = [] if self.objectives or self.command is None else parsed_names(self.command.parse)
            if not read:
                raise
            hint = f"--parse reads {', '.join(read)}: e.g. --metric {read[0]}:max"
            raise UsageError(f"{error}; {hint}") from None
        if strategy.total is None and not self.open_ended:
            raise UsageError(f"--strategy {self.strategy} needs -n N (how many runs)")
        return strategy

    def propose(self, strategy: Any) -> dict[str, Any] | None:
        """The strategy's next point given the store's latest history (None: it has nothing more)."""
        if hasattr(strategy, "ask"):
            return strategy.ask(self.history())
        return strategy.suggest()

    def attach(self, run: Run, strategy: Any, pruning: Any) -> None:
        """Make ``run`` the trial of the strategy's last proposal: its pruner, its define-by-run sampling
        (``run.uniform(...)`` asks the sweep's sampler) and the strategy's link from proposal to run."""
        run.pruning = pruning
        if hasattr(strategy, "started"):
            strategy.started(run.id)
        trial = getattr(strategy, "pending_trial", None)
        if trial is not None:
            from gitxp.search.samplers import TrialSampler

            run.use_sampler(TrialSampler(trial, run))

    @staticmethod
    def notes(strategy: Any) -> list[str]:
        """What the strategy has to tell the user since the last call (e.g. the warm start's summary)."""
        return list(strategy.notes()) if hasattr(strategy, "notes") else []

    def plan(self, limit: int = 5) -> tuple[int | None, list[dict[str, Any]]]:
        """What :meth:`run` would do, without running anything: the number of runs (None when open-ended)
        and the first ``limit`` param sets the strategy proposes. With ``resume``, the points that already
        finished on this version are left out of both, as :meth:`run` would skip them (their count:
        ``self.planned_skips``)."""
        strategy = self.make_strategy()
        finished = finished_points(self, strategy)
        self.planned_skips = 0
        points: list[dict[str, Any]] = []
        while len(points) < limit or (finished is not None and strategy.total is not None):
            point = strategy.ask(History()) if hasattr(strategy, "ask") else strategy.suggest()
            if point is None:
                break
            if finished is not None and finished.take(point):
                self.planned_skips += 1
                continue
            if len(points) < limit:
                points.append(point)
        total = None if strategy.total is None else strategy.total - self.planned_skips
        return total, points

    def pruning(self) -> Any:
        """The pruner of this sweep's trials (None without ``prune``)."""
        if not self.prune:
            return None
        if not self.metric:
            raise UsageError("--prune needs --metric NAME:min|max (the curve to judge trials by)")
        if len(self.objectives) > 1:
            raise UsageError("--prune judges one curve: give a single --metric")
        from gitxp.search.pruning import Pruning

        return Pruning(self.prune, self.store, self.experiment_name, self.metric)

    def _executor(self, sweep_id: str, controller: Controller, informed: bool) -> tuple[Any, Any]:
        from gitxp.executors import ExecutorOptions, Job, make_executor

        options = self.executor_options or ExecutorOptions(jobs=self.jobs)
        if options.jobs is None and self.executor == "local":
            options.jobs = self.jobs
        job = Job(
            command=self.command,
            task=self.task,
            controller=controller,
            tee=self.tee,
            parallel=(options.jobs or 1) > 1 or self.executor != "local",
            objective=self.objective,
            objectives=list(self.objectives),
            sweep_id=sweep_id,
            informed=informed,
        )
        runner = make_executor(self.executor, options)
        if runner.remote and self.prune:
            runner.shutdown()
            raise UsageError(
                f"--prune needs the local executor (--executor {self.executor} runs trials elsewhere)"
            )
        return runner, job

    def run(
        self, controller: Controller, on_event: Callable[[str, Run | None, SweepResult], None] | None = None
    ) -> SweepResult:
        strategy = self.make_strategy()
        pruning = self.pruning()
        finished = finished_points(self, strategy)
        sweep_id = new_run_id()
        metric = ",".join(":".join(o) for o in self.objectives) or None
        result = SweepResult(total=strategy.total, resume_found=None if finished is None else finished.total)
        result.notes = self.notes(strategy)
        result.warm = next((n for n in result.notes if n.startswith("warm start:")), None)
        if on_event:
            on_event("begin", None, result)
        _tell([] if on_event else result.notes)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        informed = self.strategy not in UNINFORMED or hasattr(strategy, "pending_trial")
        pool, job = self._executor(sweep_id, controller, informed)
        self.live = pool
        running: dict[Future[Any], Run] = {}
        stop = False
        try:
            while True:
                while not stop and len(running) < pool.slots() and not controller.interrupted.is_set():
                    if deadline is not None and time.monotonic() > deadline:
                        stop = True
                        break
                    point = self.propose(strategy)
                    for note in self.notes(strategy):
                        result.notes.append(note)
                        on_event("note", None, result) if on_event else _tell([note])
                    if point is None:
                        break
                    if finished is not None and finished.take(point):
                        result.skipped += 1
                        if on_event:
                            on_event("skip", None, result)
                        continue
                    meta: dict[str, Any] = (
                        {"sweep": sweep_id, "strategy": self.strategy} if self.space.is_sweep else {}
                    )
                    if self.invocation is not None and self.space.is_sweep:
                        import json

                        from gitxp.search.resume import INVOCATION_KEY
                        from gitxp.version.secrets import mask_argv

                        meta[INVOCATION_KEY] = json.dumps(mask_argv(self.invocation))
                    meta.update(self.run_meta)
                    meta.update(getattr(strategy, "pending_meta", None) or {})
                    run = Run(
                        experiment=self.experiment,
                        params=self._with_argv_params(point),
                        metric=metric,
                        store=self.store,
                        version=self.version,
                        meta=meta,
                        git=self.git,
                        attach=False,  # a gitxp run inside a gitxp run records its own runs
                    )
                    if pool.remote and getattr(strategy, "pending_trial", None) is not None:
                        run.finish("cancelled")
                        raise UsageError(
                            f"--executor {self.executor} runs the objective elsewhere: declare its params "
                            "with space=gitxp.Space(...) (define-by-run sampling needs the sweep's sampler)"
                        )
                    self.attach(run, strategy, pruning)
                    result.runs.append(run)
                    running[pool.submit(run, job)] = run
                    if on_event:
                        on_event("start", run, result)
                if hasattr(pool, "flush"):
                    pool.flush()  # e.g. the proposals so far, as one Slurm job array
                if not running:
                    break
                done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    run = running.pop(future)
                    stop = self._finished(
                        run, future, pool, strategy, pruning, result, stop, controller, on_event
                    )
                if controller.interrupted.is_set():
                    stop = True
                    if hasattr(pool, "interrupt"):
                        pool.interrupt()
                if getattr(pool, "fatal", None):
                    stop = True
                    result.error = pool.fatal
        finally:
            pool.shutdown(cancel=controller.interrupted.is_set() or bool(getattr(pool, "fatal", None)))
        result.interrupted = controller.interrupted.is_set() and not self.fail_fast
        if len(self.objectives) > 1:
            scored = [
                (r, [lookup(r.results, *o) for o in self.objectives])
                for r in result.runs
                if result.statuses.get(r.id) == "finished"
            ]
            complete = [(r, [float(v) for v in vs if v is not None]) for r, vs in scored if None not in vs]
            result.front = pareto_front(complete, [g for _, g in self.objectives])
        if pruning is not None:
            result.pruned, result.saved = pruning.saved()
        if finished is not None and len(self.objectives) == 1:
            for run_id, params, value in finished.taken:
                if value is not None and _better(value, result.best_value, self.metric):
                    result.best, result.best_value, result.best_earlier = None, value, (run_id, params)
        return result

    def _finished(
        self,
        run: Run,
        future: Future[Any],
        pool: Any,
        strategy: Any,
        pruning: Any,
        result: SweepResult,
        stop: bool,
        controller: Controller,
        on_event: Callable[[str, Run | None, SweepResult], None] | None,
    ) -> bool:
        """Book one ended run; returns whether the sweep must stop proposing."""
        try:
            status = pool.outcome(run, future)
        except Exception as error:  # gitxp's own failure around one run: record it, go on
            run.meta({"error.type": type(error).__name__, "error.message": str(error)})
            run.end("failed")
            status = "failed"
        result.statuses[run.id] = status
        if pruning is not None:
            pruning.ended(run, status)
        value = lookup(run.results, *self.metric) if self.metric else None
        if self.metric and status == "finished":
            if value is not None:
                result.metric_seen = True
            elif not result.metric_seen and result.missing_metric is None:
                result.missing_metric = sorted(run.results)
                if self.strategy not in UNINFORMED:
                    stop = True  # an informed search without its objective would only pretend
                if on_event:
                    on_event("metric-missing", run, result)
        if hasattr(strategy, "observe"):
            strategy.observe(dict(run.params), value if status == "finished" else None)
        if len(self.objectives) == 1 and value is not None and status == "finished":
            if _better(value, result.best_value, self.metric):
                result.best, result.best_value = run, value
        if status == "failed" and self.fail_fast and not stop:
            stop = True
            controller.stop()
        if on_event:
            on_event("end", run, result)
        return stop


def _tell(notes: list[str]) -> None:
    """A strategy's notes when nobody listens for events (``gitxp.optimize``): on stderr."""
    for note in notes:
        print(f"gitxp: {note}", file=sys.stderr, flush=True)


def _better(value: float, best: float | None, metric: tuple[str, str] | None) -> bool:
    if best is None:
        return True
    return value < best if metric and metric[1] == "min" else value > best
