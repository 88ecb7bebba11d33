"""What gitxp's own executors, sweeps, wrapper and CLI do to a run beyond the user API: a part of
:class:`gitxp.run.Run`, as :mod:`gitxp.run.curves` is.

A run's state is private to :mod:`gitxp.run`. The rest of gitxp touches a run through its user API (README, "API")
or through the members below, and nothing else: they are gitxp's plumbing, not user API, and may change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from gitxp.run.setup import open_runs
from gitxp.store import StagedRun


class RunPlumbing:
    """gitxp's own plumbing on a :class:`gitxp.run.Run` (executors, sweeps, the wrapper, the CLI): not user API."""

    id: str
    status: str
    _record: dict[str, Any]
    _staged: StagedRun
    _lock: threading.Lock
    _stop: threading.Event
    _started: float
    _pruning: Any
    _sampler_made: Any
    _bare_thread: int | None
    _log_hook: Any
    _steps: list[int]
    _names: list[str]
    _values: list[float]
    _times: list[float]
    _next_step: int
    _writer: Any
    _sink: Any

    if TYPE_CHECKING:  # (gitxp.run.core, gitxp.run.curves)

        def _update(self, group: str, values: Mapping[str, Any]) -> None: ...

        def _finish(
            self, status: str, error: BaseException | None = None, *, ended: float | None = None
        ) -> None: ...

        def _add(self, step: int, floats: dict[str, float], now: float) -> None: ...

    @property
    def record(self) -> dict[str, Any]:
        """The run's record as it will be committed (run_id, status, params, results, meta, ...): the live dict,
        changed only under :attr:`lock` and then staged with ``staged.write_record(record)``."""
        return self._record

    @property
    def staged(self) -> StagedRun:
        """The run's staging directory (``staged.path``: its log, curves, artifacts; its record on disk)."""
        return self._staged

    @property
    def lock(self) -> threading.Lock:
        """Held while the run's record or curve buffers change (``log``, ``result``, the heartbeat, the end)."""
        return self._lock

    @property
    def started(self) -> float:
        """When the run started (seconds since the epoch)."""
        return self._started

    @started.setter
    def started(self, when: float) -> None:
        """Set with the record's ``started`` (the run ran elsewhere: a remote worker)."""
        self._started = self._record["started"] = float(when)

    @property
    def bare_thread(self) -> int | None:
        """The thread that started the run with ``gitxp.start()`` and no ``with`` (active for ``gitxp.current()``
        there until it is entered or ended), else None."""
        return self._bare_thread

    @property
    def pruning(self) -> Any:
        """The pruning of the sweep the run is a trial of (:class:`gitxp.search.pruning.Pruning`), or None."""
        return self._pruning

    @pruning.setter
    def pruning(self, pruning: Any) -> None:
        self._pruning = pruning

    def use_sampler(self, sampler: Any) -> None:
        """Sample the run's define-by-run params (``run.uniform(...)``) with a sweep's informed ``sampler``."""
        self._sampler_made = sampler

    def add_params(self, values: Mapping[str, Any]) -> None:
        """Record params found while the run runs (a framework's hyperparameters), on disk when this returns."""
        self._update("params", values)

    def finish(self, status: str, error: BaseException | None = None, *, ended: float | None = None) -> None:
        """``run.end`` with any final status (``crashed``: a remote executor lost its worker; ``cancelled``), at
        ``ended`` (default: now; a lost attempt ends at its last sign of life)."""
        self._finish(status, error, ended=ended)

    def let_go(self, status: str, meta: Mapping[str, Any]) -> None:
        """Leave the run staged as ``status`` with ``meta`` added, and stop looking after it in this process (no
        heartbeat, no end at exit): a cluster runs it and ``gitxp collect`` records it (Slurm's ``--detach``)."""
        with self._lock:
            self._record["meta"].update(meta)
            self._record["status"] = status
            self._staged.write_record(self._record)
        self._stop.set()
        self._staged.release()
        self.status = status
        open_runs.pop(self.id + str(id(self)), None)

    def add_log_hook(self, hook: Callable[..., Any]) -> None:
        """Call ``hook(run=, step=, values=)`` on every ``run.log`` too, after the plugins' ``gitxp_log_metrics``."""
        previous = self._log_hook
        self._log_hook = hook if previous is None else (lambda **kw: (previous(**kw), hook(**kw)))

    def drop_points(self) -> None:
        """Forget the curve points logged so far, buffered and written (a remote outcome brings the whole curves)."""
        with self._lock:
            self._steps, self._names, self._values, self._times = [], [], [], []
            if self._writer is not None:
                self._writer.close()
                self._sink.close()
                self._writer = self._sink = None

    def add_points(self, points: Iterable[tuple[int, str, float, float]]) -> None:
        """Add curve points ``(step, name, value, time)`` logged elsewhere (an attempt lost with its worker), as
        they were: no plugin hook, no pruning."""
        with self._lock:
            for step, name, value, when in points:
                self._steps.append(step)
                self._names.append(name)
                self._values.append(value)
                self._times.append(when)

    def carry_points(self, steps: list[int], names: list[str], values: list[float], times: list[Any]) -> int:
        """Log the points of a recorded curve (a resumed run's) as ``run.log`` does, each at its recorded time
        (None: now); the run's own ``log`` continues after the last step, which is returned."""
        from gitxp.store.values import to_float

        for step, name, value, when in zip(steps, names, values, times):
            now = time.time() if when is None else float(when)
            self._add(int(step), {name: to_float(value, key=name)}, now)
        last = max(steps)
        self._next_step = last + 1
        return int(last)
