"""A run's curves: ``run.log`` buffers points and appends them to ``metrics.arrows`` in chunks; the heartbeat
thread keeps the run looking alive and flushes idle buffers; the summary of the objective's curve."""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gitxp.store import StagedRun
from gitxp.store.values import to_float

CHUNK_POINTS = int(os.environ.get("GITXP_METRICS_CHUNK", 5000))
FLUSH_SECONDS = float(os.environ.get("GITXP_FLUSH_SECONDS", 2.0))
HEARTBEAT_SECONDS = 10.0


def _whole_step(step: Any) -> int:
    """``step`` as an int: any integer type, or a finite float with no fractional part (``1.5`` is an error,
    never step 1)."""
    import operator

    try:
        return operator.index(step)
    except TypeError:
        pass
    try:
        value = float(step)
    except (TypeError, ValueError):
        raise TypeError(f"run.log: step must be a whole number, got {step!r}") from None
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"run.log: step must be a whole number, got {step!r}")
    return int(value)


class Curves:
    """The metric-logging half of :class:`gitxp.run.Run`."""

    _lock: threading.Lock
    _stop: threading.Event
    _staged: StagedRun
    _record: dict[str, Any]
    _steps: list[int]
    _names: list[str]
    _values: list[float]
    _times: list[float]
    _next_step: int
    _last_flush: float
    _writer: Any
    _sink: Any
    _log_hook: Any
    _pruning: Any
    _record_written: float
    _record_dirty: bool
    _beat_at: float
    status: str

    def log(
        self, values: Mapping[str, Any] | None = None, /, step: int | None = None, **metrics: Any
    ) -> None:
        """Append one point per metric to the run's curves: ``run.log(step=3, loss=0.2, acc=0.9)``.

        ``step`` defaults to one more than the previous call's. Points reach disk in chunks (every
        ``GITXP_METRICS_CHUNK`` points or ``GITXP_FLUSH_SECONDS`` seconds), so a crash loses at most one chunk.
        """
        if values:
            metrics = {**values, **metrics}
        if step is None:
            step = self._next_step
        elif type(step) is not int:
            step = _whole_step(step)
        if not -(2**63) <= step < 2**63 - 1:
            raise ValueError(f"run.log: step {step} does not fit in 64 bits")
        if any(not isinstance(name, str) for name in metrics):
            bad = next(name for name in metrics if not isinstance(name, str))
            raise TypeError(f"run.log: metric names must be strings, got {bad!r} ({type(bad).__name__})")
        self._next_step = step + 1
        now = time.time()
        floats = {k: v if type(v) is float else to_float(v, key=k) for k, v in metrics.items()}
        self._add(step, floats, now)

    def _add(self, step: int, floats: dict[str, float], now: float) -> None:
        """Buffer one point per metric at ``step``, logged at ``now``; then the plugins' hook and the pruner."""
        with self._lock:
            for name, value in floats.items():
                self._steps.append(step)
                self._names.append(name)
                self._values.append(value)
                self._times.append(now)
            if len(self._steps) >= CHUNK_POINTS or time.monotonic() - self._last_flush > FLUSH_SECONDS:
                self._flush()
        if self._log_hook is not None:
            self._log_hook(run=self, step=step, values=floats)
        if self._pruning is not None and self._pruning.metric in floats:
            self._pruning.observe(self, step, floats[self._pruning.metric])

    def _flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._steps:
            return
        import pyarrow as pa

        from gitxp.store.arrays import array

        try:
            names = array(self._names, pa.string())
        except (UnicodeEncodeError, pa.ArrowException):  # a lone surrogate in a name: repaired, not lost
            from gitxp.store.values import clean_text

            names = pa.array([clean_text(name) for name in self._names], pa.string())
        batch = pa.record_batch(
            [
                array(self._steps, pa.int64()),
                names,
                array(self._values, pa.float64()),
                array(self._times, pa.float64()),
            ],
            names=["step", "name", "value", "time"],
        )
        try:
            self._write_batches([batch])
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self._warn_disk_full("its curve points")
            return  # the points stay buffered: the next flush tries again
        self._steps, self._names, self._values, self._times = [], [], [], []

    def _write_batches(self, batches: Sequence[Any]) -> None:
        """Append ``batches`` to ``metrics.arrows``. A write cut short (a full disk) is cut off again and the
        stream left as it was before it; the next write starts a new stream in ``metrics.<n>.arrows`` (an Arrow
        stream writer cannot go on after a failed write), which readers take in order."""
        import pyarrow as pa
        import pyarrow.ipc as ipc

        for batch in batches:
            start = self._sink.tell() if self._writer is not None else 0
            try:
                if self._writer is None:
                    part = getattr(self, "_part", 0)
                    name = "metrics.arrows" if not part else f"metrics.{part}.arrows"
                    self._sink_path = str(self._staged.path / name)
                    self._sink = pa.OSFile(self._sink_path, "wb")
                    self._writer = ipc.new_stream(self._sink, batch.schema)
                self._writer.write_batch(batch)
                self._sink.flush()
            except OSError:
                path = getattr(self, "_sink_path", None)
                self._writer = None
                try:
                    self._sink.close()
                except OSError:
                    pass
                if path is not None:
                    try:
                        os.truncate(path, start)
                    except OSError:
                        pass
                if start:
                    self._part = getattr(self, "_part", 0) + 1
                raise

    def _beat(self, now: float) -> None:
        """One tick of the heartbeat (see ``_Heart``): touch the heartbeat file when due, and flush logged points
        and results so that none stays only in memory for more than about FLUSH_SECONDS, even while the script
        is idle (a kill -9 then loses little)."""
        if now - self._beat_at >= HEARTBEAT_SECONDS:
            self._staged.touch()
            self._beat_at = now
        with self._lock:
            if self._steps and now - self._last_flush >= FLUSH_SECONDS / 2:
                self._flush()
            if self._record_dirty and self.status == "running":
                self._write_record()

    def _write_record(self) -> None:
        """Stage the record as it stands (the caller holds ``_lock``). On a full disk it stays marked as not
        written, and the heartbeat tries again."""
        try:
            self._staged.write_record(self._record)
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self._record_dirty = True
            self._warn_disk_full("its params and results")
            return
        self._record_written = time.monotonic()
        self._record_dirty = False

    def _write_final_record(self, record: dict[str, Any], status: str) -> None:
        """Stage the run's final record (the caller holds ``_lock``). On a full disk: a ``StoreError`` when the
        record itself cannot be written (the run is listed as crashed, with what it staged before), a warning
        when only the last curve points could not."""
        try:
            self._staged.write_record(record)
        except OSError as failure:
            if failure.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            from gitxp.errors import StoreError

            lost = f" and {len(self._steps)} curve point(s)" if self._steps else ""
            raise StoreError(
                f"no space left on device: run {record['run_id']} could not record its end ({status}, its "
                f"results{lost}); what it staged before is kept and it will be listed as crashed"
            ) from None
        if self._steps:
            import warnings

            from gitxp.errors import GitxpWarning

            warnings.warn(
                f"gitxp: no space left on device: run {record['run_id']} ended ({status}) but its last "
                f"{len(self._steps)} curve point(s) could not be written",
                GitxpWarning,
                stacklevel=4,
            )

    def _warn_disk_full(self, what: str) -> None:
        if getattr(self, "_disk_full", False):  # once per run, not once per point
            return
        self._disk_full = True
        import warnings

        from gitxp.errors import GitxpWarning

        warnings.warn(
            f"gitxp: no space left on device for run {self._record['run_id']}: {what} are kept in memory "
            "and written once there is room",
            GitxpWarning,
            stacklevel=4,
        )

    def _summarise(self, name: str, mode: str) -> None:
        """Summarise the curve ``name`` as the result ``name.mode`` (see gitxp.query.objective), unless reported."""
        from gitxp.query.objective import summary_name

        if name in self._record["results"]:
            return
        table = self._staged.metrics_table()
        if table is None:
            return
        import pyarrow.compute as pc

        values = table.filter(pc.equal(table["name"], name))["value"]
        if len(values):
            summary = {
                "last": lambda: values[-1].as_py(),
                "min": lambda: pc.min(values).as_py(),
                "max": lambda: pc.max(values).as_py(),
            }[mode]()
            self._record["results"][summary_name(name, mode)] = summary


class _Heart:
    """One daemon thread beats for every live run of the process (a thread per run cost ~1 ms to start when
    other threads hold the GIL: most of the cost of a short run). A run leaves when its ``_stop`` is set."""

    def __init__(self) -> None:
        self.runs: set[Curves] = set()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, run: Curves) -> None:
        run._beat_at = time.monotonic()
        with self.lock:
            self.runs.add(run)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="gitxp-heartbeat", daemon=True)
                self.thread.start()

    def _loop(self) -> None:
        tick = min(HEARTBEAT_SECONDS, max(0.1, FLUSH_SECONDS / 2))
        while True:
            time.sleep(tick)
            with self.lock:
                runs = [r for r in self.runs if not r._stop.is_set()]
                self.runs = set(runs)
            now = time.monotonic()
            for run in runs:
                try:
                    run._beat(now)
                except Exception:  # a run's staging dir gone, a full disk: the others still beat
                    continue

    def forget(self) -> None:  # a forked child has none of its parent's threads
        self.runs = set()
        self.thread = None
        self.lock = threading.Lock()


HEART = _Heart()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=HEART.forget)
