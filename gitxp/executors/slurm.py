"""``--executor slurm``: every trial a Slurm job, submitted through submitit (a grid or random sweep as one array).

Settings come from ``--slurm-partition/--slurm-time/--slurm-gpus/--slurm-cpus/--slurm-mem/--slurm-array-parallelism/
--slurm-setup`` over a ``[tool.gitxp.slurm]`` table in the repository's ``pyproject.toml`` (same keys: ``partition``,
``time`` in minutes, ``gpus``, ``cpus``, ``mem``, ``array_parallelism``, ``setup``, plus ``folder``). The job folder
(submitit's pickles and logs, and the code bundle) defaults to ``.git/gitxp/slurm/<sweep>`` and must be on a
filesystem the nodes share. ``GITXP_SLURM_CLUSTER=local|debug`` swaps in submitit's local or debug executor: the
same code path without Slurm (how the tests run it).

Uninformed strategies (grid, random) are proposed all at once and submitted as one job array; informed ones as
slots free up (``--slurm-array-parallelism``, else ``-j``, else 2 at once). With ``--detach``, ``gitxp run``
returns once the jobs are submitted: the trials are listed ``queued`` (then ``running``), and :func:`collect`
(``gitxp collect``, or any later ``gitxp ls``/``run``) records those whose job has ended.

On a real cluster the jobs are watched with ``squeue``, never ``sacct`` (:mod:`gitxp.executors.slurm_watch`).
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.executors import ExecutorOptions, Job
from gitxp.executors.remote import Outcome, absorb, run_trial, spec_for
from gitxp.executors.slurm_watch import GRACE, SlurmJobEnded, ended, job_states
from gitxp.store import DETACHED  # the meta flag of a trial left to Slurm by `gitxp run --detach`

if TYPE_CHECKING:
    from gitxp.run import Run
    from gitxp.store import Store

__all__ = ["SlurmExecutor", "settings", "collect", "cancel", "job_states", "DETACHED"]

_KEYS = {
    "partition": str,
    "time": int,
    "gpus": int,
    "cpus": int,
    "mem": str,
    "array_parallelism": int,
    "setup": list,
    "folder": str,
}


def settings(root: Path | None, given: dict[str, Any]) -> dict[str, Any]:
    """The ``[tool.gitxp.slurm]`` table of ``root/pyproject.toml`` overridden by the ``--slurm-*`` options."""
    table: dict[str, Any] = {}
    if root is not None and (root / "pyproject.toml").exists():
        import tomllib

        try:
            data = tomllib.loads((root / "pyproject.toml").read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"pyproject.toml: cannot read [tool.gitxp.slurm]: {error}") from None
        table = dict(data.get("tool", {}).get("gitxp", {}).get("slurm", {}))
    from gitxp.errors import did_you_mean

    for key, value in table.items():
        if key not in _KEYS:
            hint = did_you_mean(key, list(_KEYS)) or f" (expected one of {', '.join(_KEYS)})"
            raise UsageError(f"[tool.gitxp.slurm] {key!r}: unknown key{hint}")
        if not isinstance(value, _KEYS[key]):
            raise UsageError(f"[tool.gitxp.slurm] {key!r}: expected {_KEYS[key].__name__}, not {value!r}")
    return {**table, **given}


def _task(spec: Any, bundle: str | None) -> Outcome:
    """Runs in the Slurm job."""
    data = Path(bundle).read_bytes() if bundle else None
    return run_trial(spec, data)


class SlurmExecutor:
    name = "slurm"
    remote = True

    def __init__(self, options: ExecutorOptions) -> None:
        try:
            import submitit
        except ImportError:
            raise UsageError("--executor slurm needs submitit: pip install 'gitxp[cluster]'") from None
        self.submitit = submitit
        self.options = options
        self.cluster = os.environ.get("GITXP_SLURM_CLUSTER", "slurm")
        if self.cluster not in ("slurm", "local", "debug"):
            raise UsageError(f"GITXP_SLURM_CLUSTER={self.cluster!r}: expected slurm, local or debug")
        self.executor: Any = None
        self.folder: Path | None = None
        self.bundle: str | None = None
        self.pending: list[tuple[Run, Any, Future[Any]]] = []
        self.jobs: dict[str, tuple[Any, Future[Any]]] = {}
        self.informed = True
        self.settings: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._closed = threading.Event()
        self.detached: list[Run] = []
        self.states: dict[str, str] = {}  # the last squeue answer (real cluster)

    def _start(self, run: Run, job: Job) -> None:
        from gitxp.store.ids import new_run_id

        assert run.store is not None
        root = run.store.repo.worktree
        self.settings = settings(root, dict(self.options.slurm))
        sweep = job.sweep_id or new_run_id()
        folder = self.options.folder or self.settings.get("folder") or str(run.store.root / "slurm")
        self.folder = Path(folder).absolute() / sweep
        self.folder.mkdir(parents=True, exist_ok=True)
        if run.version.commit is not None:
            from gitxp.executors.code import make_bundle

            path = self.folder / "code.bundle"
            path.write_bytes(make_bundle(run.store.repo, run.version.commit))
            self.bundle = str(path)
        self.executor = self.submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=self.cluster)
        params: dict[str, Any] = {"name": f"gitxp-{run.experiment}"}
        if "time" in self.settings:
            params["timeout_min"] = int(self.settings["time"])
        if "gpus" in self.settings:
            params["gpus_per_node"] = int(self.settings["gpus"])
        if "cpus" in self.settings:
            params["cpus_per_task"] = int(self.settings["cpus"])
        if self.cluster == "slurm":
            for key in ("partition", "mem", "array_parallelism", "setup"):
                if key in self.settings:
                    params[f"slurm_{key}"] = self.settings[key]
        self.executor.update_parameters(**params)
        self.informed = job.informed

    # -------------------------------------------------------------- interface

    def slots(self) -> int:
        if not self.informed or self.options.detach:
            return 1_000_000  # a grid or random sweep goes as one job array
        return int(self.options.jobs or self.settings.get("array_parallelism") or 2)

    def submit(self, run: Run, job: Job) -> Future[Any]:
        if self.executor is None:
            self._start(run, job)
        future: Future[Any] = Future()
        self.pending.append((run, spec_for(run, job, "slurm"), future))
        if self.informed and not self.options.detach:
            self.flush()
        return future

    def flush(self) -> None:
        """Submit what was queued, as one job array (submitit's batch)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        with self.executor.batch():
            jobs = [self.executor.submit(_task, spec, self.bundle) for _, spec, _ in pending]
        for (run, _, future), job in zip(pending, jobs):
            with self._lock:
                self.jobs[run.id] = (job, future)
            run.meta(
                {
                    "slurm.job_id": str(job.job_id),
                    "slurm.cluster": self.cluster,
                    "slurm.result": str(job.paths.result_pickle),
                    "slurm.stdout": str(job.paths.stdout),
                    "slurm.stderr": str(job.paths.stderr),
                }
            )
        if self.options.detach:
            self._detach([run for run, _, _ in pending])
            return
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="gitxp-slurm", daemon=True)
            self._poller.start()

    def _detach(self, runs: list[Run]) -> None:
        """Leave the trials to Slurm: each staged run is marked ``queued`` and let go by this process."""
        for run in runs:
            run.let_go("queued", {DETACHED: True})
            job, future = self.jobs.pop(run.id)
            future.set_result(None)
            self.detached.append(run)

    def _poll(self) -> None:
        last_squeue = 0.0
        overdue: dict[str, float] = {}  # job id -> when Slurm first said it ended (or stopped listing it)
        while not self._closed.wait(0.2):
            with self._lock:
                items = [(job, future) for job, future in self.jobs.values() if not future.done()]
            waiting = []
            for job, future in items:
                if self.cluster == "slurm" and not job.paths.result_pickle.exists():
                    waiting.append((job, future))
                    continue
                if self.cluster != "slurm" and not job.done():
                    continue
                try:
                    future.set_result(job.result())
                except Exception as error:
                    future.set_exception(error)
            if not waiting or time.monotonic() - last_squeue < 2.0:
                continue
            last_squeue = time.monotonic()
            states = job_states([str(job.job_id) for job, _ in waiting])
            if states is None:
                continue  # no answer from the controller: conclude nothing
            with self._lock:
                self.states = states
            now = time.monotonic()
            for job, future in waiting:
                job_id = str(job.job_id)
                why = ended(job_id, states, Path(job.paths.stdout).exists())
                if why is None:
                    overdue.pop(job_id, None)
                elif now - overdue.setdefault(job_id, now) >= GRACE and not job.paths.result_pickle.exists():
                    future.set_exception(why)

    def outcome(self, run: Run, future: Future[Any]) -> str:
        with self._lock:
            job, _ = self.jobs.pop(run.id, (None, None))
        if run in self.detached:
            return "queued"
        try:
            outcome = future.result()
        except Exception as error:
            run.meta({"error.type": type(error).__name__, "error.message": str(error).strip()[-2000:]})
            if job is not None:
                _attach_log(run, job)
            status = "crashed" if "UncompletedJobError" in type(error).__name__ else "failed"
            if isinstance(error, SlurmJobEnded):
                status = error.status
            elif "interrupted" in str(error).lower() or "cancel" in str(error).lower():
                status = "interrupted"
            run.finish(status)
            return status
        return absorb(run, outcome)

    def counts(self) -> dict[str, int]:
        with self._lock:
            jobs = [job for job, future in self.jobs.values() if not future.done()]
        running = 0
        for job in jobs:
            if self.cluster == "slurm":  # squeue's last answer: submitit's job.state asks sacct
                with self._lock:
                    state = self.states.get(str(job.job_id), "PENDING")
            else:
                try:
                    state = str(job.state).upper()
                except Exception:
                    state = "UNKNOWN"
            running += state == "RUNNING"
        return {"queued": len(jobs) - running + len(self.pending), "running": running}

    def interrupt(self) -> None:
        with self._lock:
            items = list(self.jobs.values())
        for job, future in items:
            if not future.done():
                try:
                    job.cancel(check=False)
                except Exception:
                    pass
                future.set_exception(RuntimeError("interrupted (Ctrl-C): the Slurm job was cancelled"))

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            self.interrupt()
        self._closed.set()


def _attach_log(run: Run, job: Any) -> None:
    for path in (job.paths.stdout, job.paths.stderr):
        try:
            data = Path(path).read_bytes()
        except OSError:
            continue
        with open(run.staged.path / "stdout.log", "ab") as log:
            log.write(data)


# ---------------------------------------------------------------------- detached trials


def detached(store: Store) -> list[tuple[Any, dict[str, Any]]]:
    """The staged trials left to Slurm by ``gitxp run --detach`` that are still queued or running."""
    return [
        (staged, record)
        for staged, record in store.staged_records()
        if (record.get("meta") or {}).get(DETACHED) and record.get("status") in ("queued", "running")
    ]


def collect(store: Store) -> dict[str, int]:
    """Record the detached trials whose job has ended; mark those that started ``running``. Returns counts."""
    counts = {"collected": 0, "running": 0, "queued": 0}
    done = []
    trials = detached(store)
    real = [
        str(record["meta"].get("slurm.job_id"))
        for _, record in trials
        if record["meta"].get("slurm.cluster") == "slurm"
        and not Path(record["meta"].get("slurm.result", "")).exists()
    ]
    states = job_states(real) if real else {}
    for staged, record in trials:
        meta = record["meta"]
        result = Path(meta.get("slurm.result", ""))
        job_id = str(meta.get("slurm.job_id", ""))
        why = None
        if states is not None and job_id in real and time.time() - float(record.get("started") or 0) > GRACE:
            why = ended(job_id, states, Path(meta.get("slurm.stdout", "")).exists())
        if why is not None and not result.exists():
            _ingest(staged, record, "ended", why)
            done.append(staged)
            counts["collected"] += 1
        elif result.exists():
            try:
                with open(result, "rb") as handle:
                    kind, value = pickle.load(handle)
            except Exception as error:  # a result still being written: next time
                if time.time() - result.stat().st_mtime < 30:
                    continue
                kind, value = "error", f"unreadable result {result}: {error}"
            _ingest(staged, record, kind, value)
            done.append(staged)
            counts["collected"] += 1
        elif Path(meta.get("slurm.stdout", "")).exists():
            if record["status"] != "running":
                record["status"] = "running"
                staged.write_record(record)
            counts["running"] += 1
        else:
            counts["queued"] += 1
    if done:
        store.commit(done)
    return counts


def _ingest(staged: Any, record: dict[str, Any], kind: str, value: Any) -> None:
    """Fold a finished job's result (an :class:`Outcome`, or submitit's error text) into the staged run."""
    now = time.time()
    if kind == "success" and isinstance(value, Outcome):
        for name, data in value.files.items():
            target = staged.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        remote = value.record
        for group in ("params", "results", "meta"):
            record.setdefault(group, {}).update(remote.get(group) or {})
        for key in ("host", "pid", "pid_start", "started", "ended", "duration"):
            if remote.get(key) is not None:
                record[key] = remote[key]
        record["status"] = value.status
        record["meta"]["attempt"] = value.attempt
    elif kind == "ended" and isinstance(value, SlurmJobEnded):
        record["meta"].update({"error.type": "SlurmJobEnded", "error.message": str(value)})
        record.update(status=value.status, ended=now, duration=now - record["started"])
    else:
        record["meta"].update({"error.type": "JobFailed", "error.message": str(value).strip()[-2000:]})
        record.update(status="failed", ended=now, duration=now - record["started"])
    staged.write_record(record)


def cancel(store: Store, run_ids: list[str] | None = None) -> int:
    """Cancel detached trials (all, or those of ``run_ids``): scancel their jobs, record them ``cancelled``."""
    import signal
    import subprocess

    done = []
    for staged, record in detached(store):
        if run_ids and not any(record["run_id"].startswith(r) for r in run_ids):
            continue
        meta = record["meta"]
        job_id = str(meta.get("slurm.job_id", ""))
        if meta.get("slurm.cluster") == "slurm":
            subprocess.run(["scancel", job_id], check=False, capture_output=True)
        elif meta.get("slurm.cluster") == "local" and job_id.isdigit():
            try:
                os.kill(int(job_id), signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        now = time.time()
        record.update(status="cancelled", ended=now, duration=now - record["started"])
        staged.write_record(record)
        done.append(staged)
    if done:
        store.commit(done)
    return len(done)
