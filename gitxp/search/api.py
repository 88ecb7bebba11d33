"""``gitxp.optimize`` and ``gitxp.Sweep``: informed search from Python, every trial a full gitxp run.

    def objective(run):
        lr = run.log_uniform("lr", 1e-5, 1e-1)            # drawn by the sweep's sampler (define-by-run)
        depth = run.randint("depth", 2, 8)
        for epoch in range(20):
            loss = train_one_epoch(lr, depth)
            run.log(step=epoch, loss=loss)
            if run.should_prune():                        # with prune="median": stop a hopeless trial
                return loss
        return loss                                       # or a dict of results

    best = gitxp.optimize(objective, n_trials=50, experiment="mlp", metric="loss:min")

Calling it again continues the same search: the history is the store's. ``gitxp.Sweep`` is the ask/tell form for
loops gitxp does not drive: ``run = sweep.ask()`` is a started run, ``run.result(...)`` and ``run.end()`` tell.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitxp.errors import UsageError
from gitxp.query.objective import parse
from gitxp.run import Run
from gitxp.run.entrypoint import rerun_ask
from gitxp.search.sweep import Sweep as _Loop
from gitxp.search.sweep import SweepResult
from gitxp.space import Space
from gitxp.store import Store
from gitxp.version.capture import Version, capture

__all__ = ["optimize", "Sweep"]


def _objectives(metric: str | Sequence[str]) -> list[tuple[str, str]]:
    texts = [metric] if isinstance(metric, str) else list(metric)
    if not texts:
        raise UsageError("metric: name at least one objective, e.g. 'loss:min'")
    objectives = [parse(text, option="metric") for text in texts]
    if any(goal == "last" for _, goal in objectives):
        raise UsageError("metric: an objective needs :min or :max")
    return objectives


def _version(store: Store, git: bool, base: Version | None = None) -> Version:
    """The version of a search's trials; in a Jupyter kernel with the cells executed so far (``base``: the
    captured version they are added to, when it is known already)."""
    from gitxp.run.setup import kernel_version

    return kernel_version(store, base or capture(store.repo)) if git else Version(None)


def record_returned(run: Run, returned: Any, metric: str) -> None:
    """Record an objective's return value as ``gitxp.optimize`` does (``metric``: ``"loss:min"`` or several,
    comma-separated); used to re-run one trial (``gitxp rerun``)."""
    _record(run, returned, _objectives([m for m in metric.split(",") if m]))


def _record(run: Run, returned: Any, objectives: list[tuple[str, str]]) -> None:
    """The objective's return value as results: a number is the (single) objective, a mapping is results."""
    if isinstance(returned, Mapping):
        run.result(dict(returned))
    elif returned is not None:
        if len(objectives) > 1:
            raise TypeError(
                f"the objective returned {returned!r}: with several metrics, return a dict "
                f"({', '.join(name for name, _ in objectives)})"
            )
        try:
            value = float(returned)
        except (TypeError, ValueError):
            raise TypeError(
                f"the objective must return a number or a dict of results, not {returned!r}"
            ) from None
        run.result({objectives[0][0]: value})


def _trial(objective: Callable[[Run], Any], objectives: list[tuple[str, str]]) -> Callable[[Run], str]:
    def call(run: Run) -> str:
        if run.meta().get("notebook.cells") is not None and objective.__module__ == "__main__":
            run.meta({"notebook.objective": objective.__qualname__})  # gitxp rerun calls it once (a kernel's)
        with run:
            returned = objective(run)
            _record(run, returned, objectives)
            if run.pruning is not None and run.id in run.pruning.told:  # it asked and was told to stop
                run.pruning.record_pruned(run)
                run.end("pruned")
        return run.status

    return call


def optimize(
    objective: Callable[[Run], Any],
    n_trials: int,
    *,
    experiment: str | None = None,
    metric: str | Sequence[str] = "loss:min",
    strategy: str = "tpe",
    n_jobs: int = 1,
    seed: int | None = None,
    timeout: float | None = None,
    prune: str | None = None,
    space: Space | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    retries: int = 1,
    git: bool = True,
    path: str | os.PathLike[str] | None = None,
    warm_start: str | bool = "ancestors",
    direction: str | None = None,
) -> Run | list[Run]:
    """Search ``n_trials`` more trials of ``objective(run)``; return the best run (several metrics: the Pareto
    front, a list of runs).

    ``objective`` samples its params through the run (``run.uniform``, ``run.log_uniform``, ``run.randint``,
    ``run.categorical``: drawn by the strategy's sampler, conditional params allowed) and returns a number (the
    single objective) or a dict of results; it may log curves (``run.log``) and ask ``run.should_prune()``. Every
    trial is an ordinary gitxp run (version, params, curves, status); an exception fails that trial, not the
    search. ``metric`` is ``"loss:min"`` or a list for several objectives (``["acc:max", "latency:min"]``);
    ``strategy`` one of grid/random/tpe/cmaes/gp/qmc/nsga2 or a plugin's; ``timeout`` (seconds) stops starting
    new trials. The history is the store's, so calling it again continues the search.

    ``executor="dask"`` runs the trials on a Dask cluster (``scheduler="tcp://HOST:8786"``, else a LocalCluster;
    ``n_jobs`` then caps the trials at once) and ``"slurm"`` as Slurm jobs: the objective travels pickled, the
    project's code as a git bundle; declare the params with ``space=gitxp.Space(sample=...)`` there.

    ``warm_start``: runs of earlier code versions of the experiment seed the search as a prior that this
    version's runs can overrule (TPE and GP, one metric): ``"ancestors"`` (the default) uses versions whose commit
    is the current one or a git ancestor of it, ``True`` every other version, ``False`` none. What it used, and
    when it stopped trusting them, is said on stderr.
    """
    if direction is not None:  # Optuna's create_study(direction=...): gitxp names the objective and its goal
        raise TypeError("gitxp.optimize has no direction=: name the goal in metric='NAME:max' or 'NAME:min'")
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise UsageError(f"n_trials must be a positive integer, not {n_trials!r}")
    if n_jobs < 1:
        raise UsageError("n_jobs must be at least 1")
    objectives = _objectives(metric)
    if isinstance(experiment, str):  # a lone surrogate is repaired as the runs record it (gitxp.store.values)
        from gitxp.store.values import clean_text

        experiment = clean_text(experiment)
    store = Store.open(path, create=not git)
    loop = _Loop(
        store=store,
        version=_version(store, git),
        command=None,
        space=space or Space(n=n_trials),
        experiment=experiment,
        strategy=strategy,
        n=n_trials,
        jobs=n_jobs,
        executor=executor,
        executor_options=_options(executor, n_jobs if n_jobs > 1 else None, scheduler, retries),
        seed=seed,
        objectives=objectives,
        prune=prune,
        timeout=timeout,
        task=_trial(objective, objectives),
        git=git,
        run_meta=_entrypoint(objective, objectives),
        warm_start=warm_start,
    )
    from gitxp.search.progress import trial_progress
    from gitxp.wrap.command import Controller

    controller = Controller()
    if n_jobs > 1 and executor == "local":  # trials in threads: Ctrl-C interrupts each (see LocalExecutor)
        controller.install()
    try:
        # n_jobs=1: Ctrl-C interrupts the trial in this thread, then propagates
        with trial_progress(objectives) as on_event:  # a bar on a terminal, silent otherwise
            result = loop.run(controller, on_event=on_event)
    finally:
        controller.restore()
        store.flush()
    if controller.interrupted.is_set():
        raise KeyboardInterrupt("gitxp.optimize: interrupted (the running trials are recorded interrupted)")
    return _best(result, objectives)


def _entrypoint(objective: Callable[[Run], Any], objectives: list[tuple[str, str]]) -> dict[str, Any]:
    """How to re-run one trial: the objective called with a run whose params are the trial's (see
    gitxp.run.entrypoint), and how its return value becomes results."""
    from gitxp.run.entrypoint import METRIC, for_function

    return {**for_function(objective, call="run"), METRIC: ",".join(":".join(o) for o in objectives)}


def _options(executor: str, jobs: int | None, scheduler: str | None, retries: int) -> Any:
    from gitxp.executors import ExecutorOptions

    return ExecutorOptions(
        jobs=jobs or (1 if executor == "local" else None), scheduler=scheduler, retries=retries
    )


def _best(result: SweepResult, objectives: list[tuple[str, str]]) -> Run | list[Run]:
    if len(objectives) > 1:
        return list(result.front)
    if result.best is None:
        failed = [r for r in result.runs if result.statuses.get(r.id) not in ("finished", "pruned")]
        reason = f" ({len(failed)} failed: {failed[0].meta().get('error.message')})" if failed else ""
        raise UsageError(f"no trial reported {objectives[0][0]!r}{reason}")
    return result.best


class Sweep:
    """Ask/tell search for loops gitxp does not drive (a notebook, another scheduler).

    ``run = sweep.ask()`` returns a started run whose ``run.uniform(...)``-style calls draw from the sweep's
    sampler; record ``run.result(...)`` and end it (``run.end()``, or use it as a context manager): that is the
    tell. The history is brought up to date from the store at every ``ask``, so runs told by other processes
    count too. ``warm_start`` as in :func:`optimize`.
    """

    def __init__(
        self,
        *,
        experiment: str | None = None,
        metric: str | Sequence[str] = "loss:min",
        strategy: str = "tpe",
        space: Space | None = None,
        seed: int | None = None,
        prune: str | None = None,
        executor: str = "local",
        n_jobs: int = 1,
        scheduler: str | None = None,
        retries: int = 1,
        git: bool = True,
        path: str | os.PathLike[str] | None = None,
        warm_start: str | bool = "ancestors",
    ) -> None:
        self.executor = executor
        self.options = _options(executor, n_jobs if n_jobs > 1 else None, scheduler, retries)
        self._thread: Any = None
        self._outcome: dict[str, Any] = {}
        self._controller: Any = None
        self.objectives = _objectives(metric)
        self.store = Store.open(path, create=not git)
        self._base = capture(self.store.repo) if git else Version(None)  # the tree's version, captured once
        self._loop = _Loop(
            store=self.store,
            version=_version(self.store, git, self._base),
            command=None,
            space=space or Space(n=1),
            experiment=experiment,
            strategy=strategy,
            n=None,
            seed=seed,
            objectives=self.objectives,
            prune=prune,
            git=git,
            open_ended=True,
            warm_start=warm_start,
        )
        self._strategy = self._loop.make_strategy()
        self._pruning = self._loop.pruning()
        self.runs: list[Run] = []

    @property
    def experiment(self) -> str:
        return self._loop.experiment_name

    def ask(self) -> Run:
        """A new started run with the next proposal (its params set, or drawn as the run samples them).

        Under ``gitxp rerun`` of one of its trials (``$GITXP_RERUN_ASK``), the first ``ask`` returns the rerun's
        run, its params the trial's (nothing is proposed or sampled), and the next one ends the script."""
        rerun = rerun_ask(self._loop.experiment, ",".join(":".join(o) for o in self.objectives), Run)
        if rerun is not None:
            self.runs.append(rerun)
            return rerun
        point = self._loop.propose(self._strategy)
        for note in self._loop.notes(self._strategy):
            print(f"gitxp: {note}", file=sys.stderr, flush=True)
        if point is None:
            raise UsageError(f"strategy {self._loop.strategy!r} has nothing more to propose")
        from gitxp.run.entrypoint import SWEEP

        meta = {
            "strategy": self._loop.strategy,
            SWEEP: "ask",  # gitxp rerun runs the script again and hands it this trial at its first ask()
            **(getattr(self._strategy, "pending_meta", None) or {}),
        }
        run = Run(
            experiment=self._loop.experiment,
            params=point,
            metric=",".join(":".join(o) for o in self.objectives),
            store=self.store,
            # in a kernel, each ask() is a cell of its own: the cells executed until then
            version=_version(self.store, True, self._base) if self._loop.git else self._loop.version,
            meta=meta,
            git=self._loop.git,
            attach=False,
        )
        self._loop.attach(run, self._strategy, self._pruning)
        self.runs.append(run)
        return run

    def best(self) -> Run | list[Run] | None:
        """The best run of those this sweep asked and that finished (several metrics: the Pareto front)."""
        from gitxp.query.objective import lookup, pareto_front

        scored = []
        for run in self.runs:
            if run.status != "finished":
                continue
            values = [lookup(run.results, *o) for o in self.objectives]
            if all(v is not None and math.isfinite(v) for v in values):
                scored.append((run, [float(v) for v in values if v is not None]))
        if len(self.objectives) > 1:
            return pareto_front(scored, [g for _, g in self.objectives])
        if not scored:
            return None
        pick = min if self.objectives[0][1] == "min" else max
        return pick(scored, key=lambda item: item[1][0])[0]

    # -------------------------------------------------------------- queued sweeps (a notebook's workflow)

    def submit(
        self,
        objective: Callable[[Run], Any] | None = None,
        *,
        n_trials: int,
        command: Sequence[str] | None = None,
    ) -> Sweep:
        """Queue ``n_trials`` trials of ``objective(run)`` (or of the wrapped ``command``, e.g. ``["python",
        "train.py", "--lr", "{lr}"]``) on the sweep's executor and return at once; :meth:`status` shows progress,
        :meth:`wait` returns the best run."""
        import dataclasses
        import threading

        from gitxp.wrap.command import Command, Controller

        if self._thread is not None and self._thread.is_alive():
            raise UsageError("this sweep is still running: wait() for it before submitting more")
        if (objective is None) == (command is None):
            raise UsageError("submit() needs an objective function or a command, not both")
        if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
            raise UsageError(f"n_trials must be a positive integer, not {n_trials!r}")
        loop = dataclasses.replace(
            self._loop,
            n=n_trials,
            open_ended=False,
            jobs=self.options.jobs or 1,
            executor=self.executor,
            executor_options=dataclasses.replace(self.options),
            command=Command(tuple(command), shell=False) if command is not None else None,
            task=_trial(objective, self.objectives) if objective is not None else None,
            tee=False,
        )
        if loop.space.n is None or loop.space.n < n_trials:
            loop.space = dataclasses.replace(loop.space, n=n_trials)
        self._controller = Controller()
        self._outcome = {"done": 0}

        def on_event(event: str, run: Run | None, result: SweepResult) -> None:
            if event == "start" and run is not None:
                self.runs.append(run)
            elif event == "end":
                self._outcome["done"] += 1

        def work() -> None:
            try:
                self._outcome["result"] = loop.run(self._controller, on_event=on_event)
            except BaseException as error:
                self._outcome["error"] = error
            finally:
                self.store.flush()

        self._loop_running = loop
        self._thread = threading.Thread(target=work, name="gitxp-sweep", daemon=True)
        self._thread.start()
        return self

    def status(self) -> dict[str, int]:
        """``{"queued": q, "running": r, "done": d}`` for the trials of the last :meth:`submit`."""
        loop = getattr(self, "_loop_running", None)
        counts = (
            loop.live.counts() if loop is not None and loop.live is not None else {"queued": 0, "running": 0}
        )
        return {
            "queued": counts.get("queued", 0),
            "running": counts.get("running", 0),
            **{"done": self._outcome.get("done", 0)},
        }

    def wait(self, timeout: float | None = None) -> Run | list[Run] | None:
        """Block until the submitted trials have ended; return :meth:`best` (None while still running after
        ``timeout`` seconds)."""
        if self._thread is None:
            raise UsageError("nothing submitted: call submit(objective, n_trials=N) first")
        self._thread.join(timeout)
        if self._thread.is_alive():
            return None
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self.best()

    def cancel(self) -> None:
        """Stop the submitted sweep: running trials are stopped and recorded ``interrupted``."""
        if self._controller is not None:
            self._controller.stop()
