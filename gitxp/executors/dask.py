"""``--executor dask``: one Dask task per trial, on a LocalCluster or an existing cluster (``--scheduler``).

The code travels with the task: a git bundle of the run's commit is scattered to every worker once per sweep and
checked out once per worker machine (:mod:`gitxp.executors.code`); the run's patch rides in each trial's spec.
Workers return complete runs (:mod:`gitxp.executors.remote`); the client writes them. Workers report ``start`` and
``live`` events on a Dask topic: the client counts queued/running trials from them, grows the curves of running
trials, and keeps each attempt's log so that an attempt lost with its worker is recorded ``crashed`` with it.

A worker that dies mid-trial: the trial runs again on another worker, up to ``--retries`` more times; Ctrl-C sets a
Dask event every running trial watches (its command gets SIGTERM and is recorded ``interrupted``) and cancels the
rest; a lost scheduler stops the sweep with one clear message, every finished trial already recorded.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpError, UsageError
from gitxp.executors import ExecutorOptions, Job
from gitxp.executors.dask_worker import task
from gitxp.executors.remote import Outcome, absorb, drop_live, live, record_attempt, spec_for

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["DaskExecutor", "dask_executor", "SchedulerLost"]

STOP_GRACE = float(os.environ.get("GITXP_GRACE_SECONDS", 10.0)) + 5.0


class SchedulerLost(GitxpError):
    exit_code = 1


class _Lost(Exception):
    """A trial gave up: its worker died more often than ``--retries`` allows, or the run was cancelled."""

    def __init__(self, status: str, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass
class _Trial:
    run: Run
    spec: Any
    future: Future[Any]
    dask: Any = None
    tries: int = 1
    attempts: dict[str, dict[str, Any]] = field(default_factory=dict)  # attempt id -> host, stdout, started
    current: str | None = None
    cancelled: bool = False  # cancelled by this client (Ctrl-C, --retries spent), not by a lost scheduler


_LOST_BUNDLE = ("already forgotten", "lost dependencies")  # the scheduler's reasons (not a lost connection)


def _cancel_reason(future: Any) -> str:
    """Why the scheduler cancelled ``future`` (``lost dependencies``, ``scheduler-connection-lost``...), or ""."""
    try:
        future.result(timeout=1)
    except Exception as error:
        return str(getattr(error, "reason", ""))
    return ""


class DaskExecutor:
    name = "dask"
    remote = True

    def __init__(self, options: ExecutorOptions) -> None:
        try:
            import distributed
        except ImportError:
            raise UsageError(
                "--executor dask needs Dask: pip install 'gitxp[cluster]' (or dask[distributed])"
            ) from None
        import logging

        import dask

        logging.getLogger("distributed.client").setLevel(logging.CRITICAL)  # gitxp says it in one line
        self.options = options
        self.address = options.scheduler or os.environ.get("GITXP_DASK_SCHEDULER") or None
        self.cluster = None
        if self.address:
            try:
                self.client = distributed.Client(self.address, timeout=10)
            except OSError as error:
                raise UsageError(
                    f"--scheduler {self.address}: cannot reach the Dask scheduler ({error})"
                ) from None
        else:
            if options.gpus_per_run:
                raise UsageError(
                    "--gpus-per-run needs workers that declare GPUs: start them with "
                    "'dask worker --resources GPU=N' and pass --scheduler tcp://HOST:8786"
                )
            workers = max(1, options.jobs or os.cpu_count() or 1)
            with dask.config.set({"distributed.scheduler.allowed-failures": options.retries}):
                self.cluster = distributed.LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self.cluster)
            self.address = self.cluster.scheduler_address
        self._lock = threading.RLock()
        self._trials: dict[str, _Trial] = {}
        self._bundle: Any = None
        self._bundle_data: bytes | None = None  # scattered again when every worker holding it is gone
        self._bundled = False
        self._topic = ""
        self._stop_name = ""
        self._stopping = False
        self.fatal: str | None = None
        self._slots = (0.0, 1)
        self._informed = True

    # -------------------------------------------------------------- interface

    def slots(self) -> int:
        self._check_scheduler()
        if self.fatal is not None:
            return 0
        if self.options.jobs and self.address and self.cluster is None:
            return self.options.jobs
        when, count = self._slots
        if time.monotonic() - when > 1.0:
            try:
                threads = sum(self.client.nthreads().values())
            except Exception:
                threads = count
            if self.options.gpus_per_run:
                gpus = sum(
                    (info.get("resources") or {}).get("GPU", 0)
                    for info in self.client.scheduler_info().get("workers", {}).values()
                )
                threads = min(threads, int(gpus // self.options.gpus_per_run))
            count = max(1, threads)
            self._slots = (time.monotonic(), count)
        # A grid or random sweep keeps one trial queued per slot: a worker starts its next trial the moment one
        # ends, without waiting for the client to book it. Informed strategies propose only as slots free up.
        return count if self._informed else 2 * count

    def submit(self, run: Run, job: Job) -> Future[Any]:
        if not self._bundled:
            self._start(run, job)
        spec = spec_for(run, job, "dask", events=self._topic)
        trial = _Trial(run=run, spec=spec, future=Future())
        with self._lock:
            self._trials[run.id] = trial
        self._launch(trial)
        return trial.future

    def outcome(self, run: Run, future: Future[Any]) -> str:
        with self._lock:
            trial = self._trials.pop(run.id)
        try:
            outcome: Outcome = future.result()
        except _Lost as lost:
            return self._give_up(trial, lost.status, str(lost))
        except Exception as error:  # the trial's own failure around the run (no code, bad pickle, ...)
            run.meta({"error.type": type(error).__name__, "error.message": str(error)})
            run.end("failed")
            return "failed"
        for attempt, info in trial.attempts.items():
            if attempt != outcome.attempt:
                record_attempt(run, info, f"Dask worker {info['worker']} lost mid-trial")
        return absorb(run, outcome)

    def counts(self) -> dict[str, int]:
        with self._lock:
            running = sum(1 for t in self._trials.values() if t.current is not None and not t.future.done())
            return {
                "queued": sum(1 for t in self._trials.values() if not t.future.done()) - running,
                "running": running,
            }

    def interrupt(self) -> None:
        """Ctrl-C: running commands get SIGTERM (recorded interrupted); what is left after the grace is cancelled."""
        if self._stopping:
            return
        self._stopping = True
        try:
            from distributed import Event

            Event(self._stop_name, client=self.client).set()
        except Exception:
            pass
        with self._lock:
            queued = [t for t in self._trials.values() if t.current is None]
        for trial in queued:
            self._cancel(trial, "interrupted", "interrupted before it started")
        timer = threading.Timer(STOP_GRACE, self._cancel_all, args=("interrupted", "interrupted (Ctrl-C)"))
        timer.daemon = True
        timer.start()

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            self._cancel_all("interrupted", "the sweep was stopped")
        self._bundle = self._bundle_data = None  # released before the workers go (Dask must not keep it)
        try:
            if self._topic:
                self.client.unsubscribe_topic(self._topic)
        except Exception:
            pass
        try:
            self.client.close(timeout=5)
        except Exception:
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:
                pass

    # -------------------------------------------------------------- internals

    def _start(self, run: Run, job: Job) -> None:
        """Once per sweep: scatter the code bundle to every worker, listen to the trials' events."""
        from gitxp.store.ids import new_run_id

        sweep = job.sweep_id or new_run_id()
        self._topic = f"gitxp-{sweep}"
        self._stop_name = f"gitxp-stop-{sweep}"
        if run.version.commit is not None and run.store is not None:
            from gitxp.executors.code import make_bundle

            self._bundle_data = make_bundle(run.store.repo, run.version.commit)
            self._bundle = self.client.scatter(self._bundle_data, broadcast=True, hash=False)
        self.client.subscribe_topic(self._topic, self._on_event)
        self._informed = job.informed
        self._bundled = True

    def _launch(self, trial: _Trial) -> None:
        resources = {"GPU": self.options.gpus_per_run} if self.options.gpus_per_run else None
        future = self.client.submit(
            task,
            trial.spec,
            self._bundle,
            self._stop_name,
            key=f"gitxp-trial-{trial.run.id}-{trial.tries}",
            pure=False,
            resources=resources,
        )
        trial.dask = future
        future.add_done_callback(lambda f, t=trial: self._done(t, f))

    def _done(self, trial: _Trial, future: Any) -> None:
        if trial.future.done() or trial.dask is not future:
            return
        status = future.status
        if status == "finished":
            try:
                trial.future.set_result(future.result())
            except Exception as failure:
                trial.future.set_exception(failure)
            return
        # the scheduler forgets a trial whose code bundle no worker holds any more (every worker it was scattered to
        # died; later ones got it from those), and refuses one submitted then: lost with its worker, as KilledWorker
        lost = status == "cancelled" and not trial.cancelled and _cancel_reason(future) in _LOST_BUNDLE
        if status == "cancelled" and not lost:
            if not trial.cancelled:  # nobody here cancelled it: the connection to the scheduler is gone
                self._lose_scheduler()
            reason = "the Dask scheduler went away" if self.fatal else "cancelled"
            self._settle(trial, _Lost("crashed" if self.fatal else "interrupted", reason))
            return
        from distributed.scheduler import KilledWorker

        error = None if lost else future.exception()
        if not lost and not isinstance(error, KilledWorker):
            self._settle(trial, error if isinstance(error, BaseException) else RuntimeError(str(error)))
        elif trial.tries > self.options.retries or self._stopping or self.fatal is not None:
            self._settle(trial, _Lost("crashed", f"its Dask workers died {trial.tries} time(s) (--retries)"))
        else:
            with self._lock:
                if lost and self._bundle is not None and self._bundle.status != "finished":
                    try:  # (waits for a worker to join, as long as the client waits to connect)
                        self._bundle = self.client.scatter(self._bundle_data, broadcast=True, hash=False)
                    except Exception as problem:
                        self._settle(
                            trial, _Lost("crashed", f"no Dask worker took its code again ({problem})")
                        )
                        return
            trial.tries += 1
            trial.current = None
            self._launch(trial)

    def _settle(self, trial: _Trial, error: BaseException) -> None:
        if not trial.future.done():
            try:
                trial.future.set_exception(error)
            except Exception:
                pass

    def _on_event(self, event: Any) -> None:
        _, message = event if isinstance(event, tuple) else (None, event)
        if not isinstance(message, dict):
            return
        with self._lock:
            trial = self._trials.get(message.get("run", ""))
        if trial is None or trial.future.done():
            return
        attempt = message.get("attempt")
        if not isinstance(attempt, str):  # executors.remote's events ("start", "live") all name their attempt
            return
        if message.get("kind") == "start":
            started = message.get("time")
            trial.attempts[attempt] = {
                "host": message.get("host"),
                "worker": message.get("worker"),
                "stdout": b"",
                "started": float(started) if isinstance(started, (int, float)) else time.time(),
                "last": time.time(),
                "points": [],  # what it streamed: kept for its own record if it is lost
            }
            if trial.current is not None:  # a retry: the log and curves so far were the lost attempt's
                (trial.run.staged.path / "stdout.log").write_bytes(b"")
                drop_live(trial.run)
            trial.current = attempt
            if len(trial.attempts) > self.options.retries + 1:  # the scheduler re-ran it once too often
                trial.cancelled = True
                if trial.dask is not None:
                    trial.dask.cancel()
                self._settle(
                    trial, _Lost("crashed", f"its Dask workers died {len(trial.attempts) - 1} time(s)")
                )
        elif message.get("kind") == "live" and attempt in trial.attempts:
            chunk = message.get("stdout") or b""
            info = trial.attempts[attempt]
            info["stdout"] += chunk
            info["points"].extend(message.get("points") or [])
            info["last"] = time.time()  # its last sign of life, should its worker die
            if attempt == trial.current:
                if chunk:  # `gitxp show --log` and the dashboard tail it while the trial runs
                    with open(trial.run.staged.path / "stdout.log", "ab") as log:
                        log.write(chunk)
                live(trial.run, message)

    def _give_up(self, trial: _Trial, status: str, why: str) -> str:
        """End a trial whose attempts were all lost: earlier ones as their own crashed runs, the last in the run."""
        attempts = list(trial.attempts.values())
        for info in attempts[:-1]:
            record_attempt(trial.run, info, f"Dask worker {info['worker']} lost mid-trial")
        run = trial.run
        if attempts and attempts[-1]["stdout"]:
            drop_live(run)
            (run.staged.path / "stdout.log").write_bytes(attempts[-1]["stdout"])
        run.meta({"error.type": "WorkerLost" if status == "crashed" else "Interrupted", "error.message": why})
        if attempts:
            run.record["host"] = attempts[-1]["host"]
        run.finish(status)
        return status

    def _cancel(self, trial: _Trial, status: str, why: str) -> None:
        trial.cancelled = True
        if trial.dask is not None:
            try:
                trial.dask.cancel()
            except Exception:
                pass
        self._settle(trial, _Lost(status, why))

    def _cancel_all(self, status: str, why: str) -> None:
        with self._lock:
            trials = list(self._trials.values())
        for trial in trials:
            if not trial.future.done():
                self._cancel(trial, status, why)

    def _check_scheduler(self) -> None:
        """A scheduler gone for more than a few seconds stops the sweep (the client keeps trying meanwhile)."""
        if self.fatal is not None or not self._bundled:
            return
        now = time.monotonic()
        if self.client.status == "running":
            self._seen = now
            return
        if now - getattr(self, "_seen", now) < 5.0:
            return
        self._lose_scheduler()

    def _lose_scheduler(self) -> None:
        if self.fatal is not None:
            return
        self.fatal = (
            f"lost the Dask scheduler at {self.address}: the finished trials are recorded; "
            "run the same command again with --resume to run the missing ones"
        )
        self._cancel_all("crashed", "the Dask scheduler went away")


def dask_executor(options: ExecutorOptions) -> DaskExecutor:
    return DaskExecutor(options)
