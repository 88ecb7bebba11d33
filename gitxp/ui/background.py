"""Param importance for the dashboard, off the request path: computed in child processes, answered when ready.

The sweep page used to compute fANOVA inside its request (11-14 s at 1,000 runs, no answer at 50,000) and kept
computing after the client left, slowing every other request. Here a request only looks: a result cached for
the store's current state (``gitxp.search.importance.cache_key``) is answered at once; otherwise a child process
(``python -m gitxp.search.importance``) computes it on a bounded sample and the page polls ``/api/importance``
until it is there. A child is a process, not a thread, so it holds no lock of the server's interpreter, and it
can be stopped at once: when no client has asked for its result for ``ABANDONED_AFTER`` seconds (the page was
left), and when the server stops (SIGINT, SIGTERM: ``stop_all`` from the app's shutdown, and at exit).
"""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.store import Store

__all__ = ["ABANDONED_AFTER", "MAX_JOBS", "ImportanceJobs"]

ABANDONED_AFTER = 10.0  # seconds without a client asking for a result before its computation is stopped
MAX_JOBS = 2  # computations at once (the others wait for a slot: asked again, they start)


@dataclass
class _Job:
    proc: subprocess.Popen[bytes]
    seen: float = field(default_factory=time.monotonic)


class ImportanceJobs:
    """Importance results of one store's experiments: cached ones at once, others computed in the background."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._done: dict[str, dict[str, Any]] = {}  # results of this server's children (errors too)
        self._stopping = False
        atexit.register(self.stop_all)

    def status(self, experiment: str, metric: tuple[str, str], evaluator: str = "fanova") -> dict[str, Any]:
        """The result as JSON (``values``, ``runs``, ``eligible``, ``sampled``...), ``{"error": ...}``, or
        ``{"pending": True}`` while it is computed (started by this call when it is not yet)."""
        from gitxp.search.importance import cache_key, recall

        key = cache_key(self.store, experiment, metric, evaluator)
        with self._lock:
            if key in self._done:
                return self._done[key]
            job = self._jobs.get(key)
            if job is not None:
                job.seen = time.monotonic()
                return {"pending": True}
        found = recall(self.store, key)
        if found is not None:
            return found.to_json()
        with self._lock:
            if self._stopping or key in self._jobs:
                return {"pending": True}
            if len(self._jobs) >= MAX_JOBS:
                return {"pending": True, "queued": True}
            command = [
                sys.executable,
                "-m",
                "gitxp.search.importance",
                str(self.store.repo.worktree or self.store.repo.git_dir),
                experiment,
                f"{metric[0]}:{metric[1]}",
                evaluator,
            ]
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
            )
            self._jobs[key] = _Job(proc)
        threading.Thread(target=self._watch, args=(key,), daemon=True, name=f"importance-{key[:8]}").start()
        return {"pending": True}

    def _watch(self, key: str) -> None:
        job = self._jobs[key]
        while True:
            try:
                out, err = job.proc.communicate(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if self._stopping or time.monotonic() - job.seen > ABANDONED_AFTER:
                    job.proc.kill()  # the page was left (or the server stops): no one wants this result
                    job.proc.communicate()
                    with self._lock:
                        self._jobs.pop(key, None)
                    return
        try:
            result = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [
                f"exit status {job.proc.returncode}"
            ]
            result = {"error": f"param importance could not be computed: {tail[0]}"}
        with self._lock:
            self._done[key] = result
            self._jobs.pop(key, None)

    def running(self) -> int:
        """How many computations are under way."""
        with self._lock:
            return len(self._jobs)

    def stop_all(self) -> None:
        """Stop every computation now (the server is stopping)."""
        with self._lock:
            self._stopping = True
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.proc.poll() is None:
                job.proc.kill()
