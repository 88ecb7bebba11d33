"""Recording runs from training code: ``gitxp.start`` (context manager), ``@gitxp.experiment`` and ``gitxp.current``.

A run is staged on disk the moment it starts (params, meta, version), its curves are appended in chunks while it
trains, and it is committed to the store's ref when it ends, whatever way it ends.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import signal
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from gitxp.errors import GitxpError
from gitxp.lifecycle.api import RunLifecycle
from gitxp.run.curves import FLUSH_SECONDS, HEART, Curves
from gitxp.run.inputs import RunInputs
from gitxp.run.plumbing import RunPlumbing
from gitxp.run.setup import (
    END_STATUSES,
    attach_target,
    bare_run,
    default_experiment,
    end_open_runs,
    env_seed,
    open_runs,
    open_store,
    parse_metric,
    raise_interrupted,
    wrapper_parent,
)
from gitxp.space import Sampler
from gitxp.store import HOST, StagedRun, Store
from gitxp.store.artifacts import RunArtifacts
from gitxp.store.ids import new_run_id
from gitxp.store.staging import own_pid_start
from gitxp.store.values import clean_text, flatten
from gitxp.version.capture import Version

_TRACEBACK_LINES = 30

_active: contextvars.ContextVar[tuple[Run, ...]] = contextvars.ContextVar("gitxp_active", default=())


def current() -> Run:
    """The innermost run active in this context (inside ``with gitxp.start()`` or an ``@experiment`` call)."""
    stack = _active.get() or tuple(r for r in [bare_run()] if r is not None)  # or one started without `with`
    if not stack:
        raise GitxpError(
            "no active gitxp run: call this inside 'with gitxp.start(...)' or an @gitxp.experiment function"
        )
    return stack[-1]


class Run(Curves, RunLifecycle, RunInputs, RunArtifacts, RunPlumbing):
    """One execution of training code with one set of params. Create it with :func:`start`."""

    def __init__(
        self,
        *,
        experiment: str | None = None,
        params: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        metric: str | None = None,
        git: bool = True,
        path: str | os.PathLike[str] | None = None,
        seed: int | None = None,
        store: Store | None = None,
        version: Version | None = None,
        attach: bool = True,
        run_id: str | None = None,
    ) -> None:
        if experiment is not None and not isinstance(experiment, str):
            raise TypeError(f"experiment must be a string, not {type(experiment).__name__} ({experiment!r})")
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of names to values, not {type(params).__name__}")
        if meta is not None and not isinstance(meta, Mapping):
            raise TypeError(f"meta must be a mapping of names to values, not {type(meta).__name__}")
        if metric is not None and not isinstance(metric, str):
            raise TypeError(f"metric must be a string such as 'valid_acc:max', not {metric!r}")
        self._metric = parse_metric(metric)
        flat_params = flatten(params or {}, what="param")
        flat_meta = flatten(meta or {}, what="meta")
        target = attach_target() if attach else None
        if target is not None:
            # Inside `gitxp run`: this is the wrapper's run. Record into a side directory the wrapper merges.
            self.id, _wrapper_experiment, staged_root, given = target
            flat_params.update(given)  # the wrapper's values win (overrides, sweeps, reruns)
            self.attached = True
            self.store = None
            self.version = Version(None)
        else:
            self.attached = False
            if store is None or version is None:
                store, version = open_store(path, git)
            self.store = store
            self.version = version
            self.id = run_id or new_run_id()  # given: a remote executor records the client's run
        self.experiment_given = bool(experiment)
        self.experiment = clean_text(  # a lone surrogate (a non-UTF-8 directory name) is repaired, not fatal
            experiment
            or (os.environ.get("GITXP_EXPERIMENT") if self.attached else None)
            or default_experiment(self.store)
        )
        self.status = "running"
        self._started = time.time()
        self._seed = seed if seed is not None else env_seed()
        self._sampler_made: Any = None  # made on first use: most runs sample nothing
        self._pruning: Any = None  # set by a sweep with a pruner (gitxp.search.pruning.Pruning)
        self._record: dict[str, Any] = {
            "run_id": self.id,
            "experiment": self.experiment,
            "version": self.version.id,
            "commit": self.version.commit,
            "branch": self.version.branch,
            "status": "running",
            "started": self._started,
            "ended": None,
            "duration": None,
            "params": flat_params,
            "meta": {},
            "results": {},
            "host": HOST,
            "pid": os.getpid(),
            "pid_start": own_pid_start(),
        }
        from gitxp.plugins import get_plugin_manager

        self._hooks = get_plugin_manager().hook
        for extra in self._hooks.gitxp_collect_meta(run=self):
            if extra:
                self._record["meta"].update(flatten(extra, what="meta"))
        if self.store is not None and self.store.repo.worktree is not None:
            workdir = os.path.relpath(os.getcwd(), self.store.repo.worktree)
            if not workdir.startswith(".."):
                self._record["meta"]["workdir"] = Path(workdir).as_posix()  # where to run again (gitxp rerun)
        self._record["meta"].update(flat_meta)
        if not self.attached and attach and wrapper_parent():  # a process's further run under gitxp run
            self._record["meta"]["parent"] = wrapper_parent()
        if getattr(self.version, "secrets", ()):
            self._record["meta"]["version.secrets_skipped"] = list(self.version.secrets)
        if self._metric:
            self._record["meta"]["metric"] = ":".join(self._metric)
        if self.attached:
            self._record["experiment_given"] = self.experiment_given
            self._staged = StagedRun(staged_root / "attached" / f"{os.getpid()}-{new_run_id()}")
            self._staged.path.mkdir(parents=True)
            self._staged.write_record(self._record)
        else:
            assert self.store is not None
            self._staged = self.store.stage(
                self._record, self.version.patch_text() if self.version.dirty else b""
            )
        self._steps: list[int] = []
        self._names: list[str] = []
        self._values: list[float] = []
        self._times: list[float] = []
        self._next_step = 0
        self._last_flush = self._record_written = time.monotonic()
        self._record_dirty = False
        self._writer: Any = None
        self._sink: Any = None
        self._log_hook = (
            self._hooks.gitxp_log_metrics if self._hooks.gitxp_log_metrics.get_hookimpls() else None
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if not self.attached:
            HEART.add(self)
        self._token: contextvars.Token[tuple[Run, ...]] | None = None
        self._bare_thread: int | None = None  # set by gitxp.start(): active for current() until entered/ended
        self._old_sigterm: Any = None
        open_runs[self.id + str(id(self))] = self
        self._hooks.gitxp_run_start(run=self)

    @property
    def output_dir(self) -> Path:
        """A directory for this run's files (checkpoints, HyperTrainer-style metric files), inside ``.git/gitxp``."""
        if self.attached:
            return Path(os.environ.get("GITXP_OUTPUT_DIR") or self._staged.path)
        assert self.store is not None
        path = self.store.root / "outputs" / self.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -------------------------------------------------------------- define-by-run sampling

    @property
    def _sampler(self) -> Any:
        if self._sampler_made is None:
            self._sampler_made = Sampler(self._seed)
        return self._sampler_made

    def _sample(self, name: str, kind: str, *args: Any) -> Any:
        if name in self._record["params"]:
            return self._record["params"][name]  # given explicitly (override, sweep, rerun): not sampled
        named = getattr(self._sampler, "sample_param", None)  # a sweep's informed sampler needs the name
        value = named(name, kind, *args) if named is not None else getattr(self._sampler, kind)(*args)
        self._update("params", {name: value})
        return value

    def uniform(self, name: str, low: float, high: float) -> float:
        """Sample param ``name`` from uniform(low, high) and record it (or return its given value)."""
        return self._sample(name, "uniform", low, high)

    def log_uniform(self, name: str, low: float, high: float) -> float:
        """Sample param ``name`` log-uniformly in [low, high] and record it (or return its given value)."""
        return self._sample(name, "log_uniform", low, high)

    def normal(self, name: str, mu: float, sigma: float) -> float:
        """Sample param ``name`` from normal(mu, sigma) and record it (or return its given value)."""
        return self._sample(name, "normal", mu, sigma)

    def randint(self, name: str, low: int, high: int) -> int:
        """Sample param ``name`` uniformly among the integers low..high and record it (or return its given value)."""
        return self._sample(name, "randint", low, high)

    def categorical(self, name: str, values: Sequence[Any], weights: Sequence[float] | None = None) -> Any:
        """Sample param ``name`` among ``values`` (optionally weighted) and record it (or return its given value)."""
        return self._sample(name, "categorical", values, weights)

    def should_prune(self) -> bool:
        """True when this run belongs to a sweep with a pruner (``--prune``, ``gitxp.optimize(prune=...)``) and
        its curve of the objective is already worse than its peers': stop training and return."""
        return self._pruning is not None and self._pruning.should_prune(self)

    # -------------------------------------------------------------- read access

    @property
    def params(self) -> Mapping[str, Any]:
        """The run's params (flat, read-only)."""
        return MappingProxyType(self._record["params"])

    @property
    def results(self) -> Mapping[str, Any]:
        return MappingProxyType(self._record["results"])

    @property
    def commit(self) -> str | None:
        return self.version.commit

    def __repr__(self) -> str:
        return f"<gitxp.Run {self.id} {self.experiment} {self.version.id} {self.status}>"

    # -------------------------------------------------------------- recording

    def meta(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        """Record meta-data (``run.meta(dataset="cifar10")``); returns all meta recorded so far."""
        if values or more:
            self._update("meta", {**(values or {}), **more})
        return dict(self._record["meta"])

    def result(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Record final values (``run.result(valid_acc=0.91)``); a later call overrides a key."""
        self._update("results", {**(values or {}), **more})

    def _update(self, group: str, values: Mapping[str, Any]) -> None:
        flat = flatten(values, what=group.rstrip("s") if group != "meta" else "meta")
        with self._lock:
            self._record[group].update(flat)
            if self.status != "running":
                return
            # a param (sampled define-by-run, or given late) is on disk before the call returns: a kill -9 right
            # after must not lose what the run's code already acted on
            if (
                self.attached
                or group == "params"
                or time.monotonic() - self._record_written >= FLUSH_SECONDS / 2
            ):
                self._write_record()
            else:  # written by the heartbeat thread within FLUSH_SECONDS / 2, or at the end: a run that
                self._record_dirty = True  # reports results and ends at once writes its record twice, not 3x

    # -------------------------------------------------------------- runs of a wrapped command

    def merge_attached(self) -> None:
        """Fold in what the wrapped command recorded through the gitxp API (its runs attach to this one)."""
        from gitxp.store.attached import fold

        with self._lock:
            tables = fold(
                self._record, self._staged.path / "attached", experiment_given=self.experiment_given
            )
            self.experiment = self._record["experiment"]
            self._flush()
            for table in tables:
                self._write_batches(table.to_batches())
            self._staged.write_record(self._record)

    # -------------------------------------------------------------- ending

    def end(self, status: str = "finished", error: BaseException | None = None) -> None:
        """End the run with ``status`` and commit it to the store (idempotent)."""
        if status not in END_STATUSES:
            raise ValueError(f"run.end({status!r}): the status must be one of {', '.join(END_STATUSES)}")
        self._finish(status, error)

    def _finish(self, status: str, error: BaseException | None = None, *, ended: float | None = None) -> None:
        """End the run with any final status (``crashed`` included: a remote executor lost its worker), at
        ``ended`` (default: now; a lost attempt ends at its last sign of life)."""
        if self.status != "running":
            return
        ended = time.time() if ended is None else max(float(ended), self._started)
        if status != "finished" and (self._staged.path / "cancel").exists():
            status = "cancelled"  # stopped by gitxp cancel (gitxp.lifecycle.cancel)
        self.status = status
        self._hooks.gitxp_run_end(run=self, status=status)
        self._stop.set()
        with self._lock:
            self._flush()
            if self._writer is not None:
                self._writer.close()
                self._sink.close()
            record = self._record
            record.update(status=status, ended=ended, duration=ended - self._started)
            if error is not None:
                record["meta"]["error.type"] = type(error).__qualname__
                record["meta"]["error.message"] = str(error)
                tail = traceback.format_exception(type(error), error, error.__traceback__)
                record["meta"]["error.traceback"] = "".join(tail).splitlines()[-_TRACEBACK_LINES:]
            if self._metric:
                self._summarise(*self._metric)
            self._write_final_record(record, status)
            self._staged.ended(record)
            self._staged.release()  # the final record is written: the run no longer needs to look alive
        open_runs.pop(self.id + str(id(self)), None)
        if self.store is not None:
            self.store.commit_later(self._staged)

    # -------------------------------------------------------------- context manager

    def __enter__(self) -> Run:
        self._bare_thread = None
        self._token = _active.set((*_active.get(), self))
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        ):
            self._old_sigterm = signal.SIG_DFL
            signal.signal(signal.SIGTERM, raise_interrupted)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._old_sigterm is not None:
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
        try:
            if exc is None or (isinstance(exc, SystemExit) and exc.code in (None, 0)):
                self.end("finished")
            elif isinstance(exc, KeyboardInterrupt):
                self.end("interrupted", exc)
            else:
                self.end("failed", exc)
        finally:
            if self._token is not None:
                _active.reset(self._token)
                self._token = None


def start(
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
    metric: str | None = None,
    git: bool = True,
    path: str | os.PathLike[str] | None = None,
    seed: int | None = None,
) -> Run:
    """Start a run and return it; use it as a context manager (``with gitxp.start(...) as run:``) or call
    ``run.end()``.

    ``experiment`` defaults to the project's name (:func:`gitxp.run.setup.default_experiment`); ``params`` may
    be nested (flattened with dots); ``metric`` (``"valid_acc:max"``) names the value that summarises the run;
    ``git=False`` records without a version (outside a repository the store is then ``./.gitxp``); ``seed`` seeds
    the run's define-by-run sampling (``run.log_uniform("lr", 1e-5, 1e-1)``; default: ``$GITXP_SEED`` or random).

    Under ``gitxp run`` (``$GITXP_RUN_ID`` set), the run *is* the wrapper's run: params, results, meta and curves
    recorded here are merged into it, and the wrapper's params override the ones given here.
    """
    run = Run(experiment=experiment, params=params, meta=meta, metric=metric, git=git, path=path, seed=seed)
    run._bare_thread = threading.get_ident()  # gitxp.current() sees it even without `with`
    return run


# Ending a run at exit may make pyarrow import pandas, which imports concurrent.futures.thread, which registers an
# atexit hook: refused once the interpreter is shutting down. Import it now (it used to come with the local executor).
import concurrent.futures.thread  # noqa: E402, F401

atexit.register(end_open_runs)  # runs started without `with` and never ended (gitxp.run.setup)
