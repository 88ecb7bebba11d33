"""Trials that run in another process or on another machine (Dask workers, Slurm jobs).

The client stages the run (so that ``gitxp ls`` lists it and informed strategies count it as in flight) and ships a
:class:`TrialSpec`. The worker (:func:`run_trial`) materializes the version (:mod:`gitxp.executors.code`), runs the
command (or the pickled objective) as a run of a private scratch store, and returns an :class:`Outcome`: the final
record and every file of its staging directory (curves, log, artifacts). The client (:func:`absorb`) folds that into
its staged run and commits it: workers never write to the repository, and a worker that dies leaves nothing
half-written. While the trial runs, the worker streams ``start``/``live`` events (curve points, log lines) through
``emit``; the client keeps them for live curves and for the partial log of an attempt lost with its worker.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.version.capture import Version

if TYPE_CHECKING:
    from gitxp.run import Run
    from gitxp.store import Store
    from gitxp.wrap.command import Command

__all__ = [
    "TrialSpec",
    "Outcome",
    "spec_for",
    "run_trial",
    "absorb",
    "drop_live",
    "record_lost",
    "record_attempt",
    "LIVE_SECONDS",
]

LIVE_SECONDS = float(os.environ.get("GITXP_LIVE_SECONDS", 0.5))
_SKIP = {"record.json", "heartbeat", "lock", "diff.patch", "attached"}
_MAX_LIVE_BYTES = 64 * 1024


@dataclass
class TrialSpec:
    """Everything a worker needs to run one trial, and nothing that needs the repository."""

    run_id: str
    experiment: str
    params: dict[str, Any]
    meta: dict[str, Any]
    metric: str | None
    version: Version
    workdir: str | None  # the client's directory relative to the worktree (where the command runs)
    command: Command | None = None
    task: bytes | None = None  # cloudpickle of the trial function (gitxp.optimize)
    executor: str = ""
    events: str = ""  # the topic the worker reports on


@dataclass
class Outcome:
    """What a worker sends back: the run's final record and the files of its staging directory."""

    status: str
    record: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    attempt: str = ""
    host: str = ""


def spec_for(run: Run, job: Any, executor: str, events: str = "") -> TrialSpec:
    """The spec of a staged client-side ``run`` (``job``: the sweep's :class:`gitxp.executors.Job`)."""
    task = None
    if job.command is None:
        import cloudpickle

        task = cloudpickle.dumps(job.task)
    record = run.record
    return TrialSpec(
        run_id=run.id,
        experiment=run.experiment,
        params=dict(record["params"]),
        meta={
            k: v for k, v in record["meta"].items() if k not in ("host", "pid", "cwd", "argv", "executable")
        },
        metric=record["meta"].get("metric"),
        version=run.version,
        workdir=record["meta"].get("workdir"),
        command=job.command,
        task=task,
        executor=executor,
        events=events,
    )


# ---------------------------------------------------------------------- worker side

_scratch: Any = None
_scratch_lock = threading.Lock()


def _scratch_store() -> Store:
    """This machine's private store for trials run here (outputs, staging); its ref is never written."""
    global _scratch
    from filelock import FileLock

    from gitxp.executors.code import cache_root
    from gitxp.git.repo import Repo
    from gitxp.store import Store

    class ScratchStore(Store):
        def commit_later(self, staged: Any) -> None:  # the client commits the run
            pass

    with _scratch_lock:
        if _scratch is None:
            root = cache_root() / "worker"
            root.mkdir(parents=True, exist_ok=True)
            with FileLock(str(root) + ".lock", timeout=120):
                _scratch = ScratchStore(Repo.init_bare(root))
        return _scratch


def run_trial(
    spec: TrialSpec,
    bundle: bytes | None,
    emit: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Outcome:
    """Run one trial here (a Dask worker, a Slurm job) and return its complete record; writes no repository."""
    from gitxp.run import Run
    from gitxp.store import HOST
    from gitxp.wrap.command import Controller, execute

    attempt = uuid.uuid4().hex[:12]
    send = emit or (lambda event: None)
    send({"kind": "start", "run": spec.run_id, "attempt": attempt, "host": HOST, "time": time.time()})
    if spec.version.commit is not None:
        from gitxp.executors.code import checkout

        root = checkout(spec.version, bundle)
        workdir = root / (spec.workdir or ".")
    else:
        workdir = Path(os.getcwd())
    store = _scratch_store()
    import shutil

    shutil.rmtree(
        store.staging / spec.run_id, ignore_errors=True
    )  # an earlier attempt that died on this machine
    run = Run(
        experiment=spec.experiment,
        params=spec.params,
        meta={**spec.meta, "executor": spec.executor, "code_dir": str(workdir)},
        metric=spec.metric,
        store=store,
        version=spec.version,
        attach=False,
        run_id=spec.run_id,
    )
    points: list[tuple[int, dict[str, float], float]] = []
    points_lock = threading.Lock()

    def on_log(run: Any, step: int, values: dict[str, float]) -> None:
        with points_lock:
            points.append((step, dict(values), time.time()))  # with its time: a lost attempt keeps it

    run.add_log_hook(on_log)
    controller = Controller()
    done = threading.Event()

    def live() -> None:
        offset = 0
        log = run.staged.path / "stdout.log"
        while not done.wait(LIVE_SECONDS):
            if should_stop is not None and not controller.interrupted.is_set() and should_stop():
                controller.stop()
            with points_lock:
                batch = points[:]
                points.clear()
            chunk = b""
            try:
                with open(log, "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read(_MAX_LIVE_BYTES)
                    offset += len(chunk)
            except OSError:
                pass
            if batch or chunk:
                send(
                    {"kind": "live", "run": spec.run_id, "attempt": attempt, "points": batch, "stdout": chunk}
                )

    watcher = threading.Thread(target=live, name=f"gitxp-live-{spec.run_id}", daemon=True)
    watcher.start()
    try:
        if spec.command is not None:
            command = dataclasses.replace(spec.command, cwd=workdir)
            import subprocess

            status = execute(run, command, controller=controller, tee=False, stdin=subprocess.DEVNULL)
        else:
            import cloudpickle

            if str(workdir) not in sys.path:
                sys.path.insert(0, str(workdir))  # the project's modules, as of the run's version
            assert spec.task is not None
            status = cloudpickle.loads(spec.task)(run)
    except BaseException as error:
        run.end("failed", error)
        status = "failed"
    finally:
        done.set()
        watcher.join()
    return _package(run, status, attempt, HOST)


def _package(run: Run, status: str, attempt: str, host: str) -> Outcome:
    import shutil

    path = run.staged.path
    record = run.staged.read_record() or dict(run.record)
    files = {}
    for item in sorted(path.rglob("*")):
        relative = item.relative_to(path)
        if item.is_file() and relative.parts[0] not in _SKIP and not relative.parts[0].startswith("."):
            files[relative.as_posix()] = item.read_bytes()
    shutil.rmtree(path, ignore_errors=True)  # the outputs stay on this machine, in the scratch store
    return Outcome(status=status, record=record, files=files, attempt=attempt, host=host)


# ---------------------------------------------------------------------- client side


def drop_live(run: Run) -> None:
    """Forget the curve points streamed while the trial ran: the outcome carries the complete curves."""
    run.drop_points()


def absorb(run: Run, outcome: Outcome) -> str:
    """Fold a worker's ``outcome`` into the staged client-side ``run`` and end it (committing it)."""
    drop_live(run)
    path = run.staged.path
    for name, data in outcome.files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if "metrics.arrows" not in outcome.files:
        (path / "metrics.arrows").unlink(missing_ok=True)
    remote = outcome.record
    with run.lock:
        record = run.record
        record["params"].update(remote.get("params") or {})
        record["results"].update(remote.get("results") or {})
        record["meta"].update(remote.get("meta") or {})
        for key in ("host", "pid", "pid_start"):
            record[key] = remote.get(key)
        record["meta"]["attempt"] = outcome.attempt
        if remote.get("started"):
            run.started = remote["started"]
    status = outcome.status if outcome.status != "running" else "failed"
    run.finish(status)
    return status


def record_lost(
    run: Run,
    host: str,
    stdout: bytes,
    why: str,
    *,
    started: float | None = None,
    ended: float | None = None,
    points: Sequence[Sequence[Any]] = (),
) -> Run:
    """Record an attempt of ``run`` lost with its worker as a ``crashed`` run of its own: its partial log, the
    curve ``points`` it streamed (``(step, values, time)``), from when it ``started`` to its last sign of life
    (``ended``) — not the moment it is recorded."""
    from gitxp.run import Run as RunClass

    lost = RunClass(
        experiment=run.experiment,
        params=dict(run.record["params"]),
        meta={**run.record["meta"], "attempt.of": run.id, "error.message": why, "error.type": "WorkerLost"},
        metric=run.record["meta"].get("metric"),
        store=run.store,
        version=run.version,
        attach=False,
    )
    lost.record["host"] = host
    if started is not None:
        lost.started = started
    if stdout:
        (lost.staged.path / "stdout.log").write_bytes(stdout)
    now = time.time()
    lost.add_points(
        (int(point[0]), str(name), float(value), float(point[2]) if len(point) > 2 else now)
        for point in points
        for name, value in point[1].items()
    )
    lost.finish("crashed", ended=ended)
    return lost


def record_attempt(run: Run, info: dict[str, Any], why: str) -> Run:
    """:func:`record_lost` of an attempt as an executor tracked it (``host``, ``stdout``, ``started``, ``last``
    sign of life, streamed ``points``)."""
    return record_lost(
        run,
        info["host"],
        info["stdout"],
        why,
        started=info.get("started"),
        ended=info.get("last"),
        points=info.get("points") or (),
    )


def live(run: Run, event: dict[str, Any]) -> None:
    """Apply a ``live`` event to the client-side run: its curves grow while it trains."""
    for point in event.get("points") or []:
        try:
            run.log(point[1], step=point[0])
        except Exception:
            pass
