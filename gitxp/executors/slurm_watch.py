"""Watching Slurm jobs without ``sacct``: one ``squeue --states=all`` call for a whole sweep's jobs, and why a job
that wrote no result is over (see :mod:`gitxp.executors.slurm`).

Many clusters (and the single-node one of the tests) run without accounting, where ``sacct`` fails and submitit
warns on every poll, and a task cancelled while still pending leaves no record at all: it simply stops being listed.
A job that ended without writing its result is recorded from the state Slurm gives (``CANCELLED`` -> ``cancelled``,
``FAILED`` -> ``failed``, ``TIMEOUT``/``NODE_FAIL``/``OUT_OF_MEMORY``/... -> ``crashed``); one that Slurm no longer
lists is ``cancelled`` when it never started and ``crashed`` when it had.
"""

from __future__ import annotations

import subprocess

__all__ = ["SlurmJobEnded", "job_states", "ended", "GRACE"]

# Slurm's job states after which a job writes nothing more; a result pickle absent then never comes.
_ENDED = {
    "CANCELLED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "crashed",
    "NODE_FAIL": "crashed",
    "OUT_OF_MEMORY": "crashed",
    "PREEMPTED": "crashed",
    "BOOT_FAIL": "crashed",
    "DEADLINE": "crashed",
    "COMPLETED": "crashed",  # exited 0 without submitit's result: the job was killed past submitit's handler
}
GRACE = 5.0  # seconds a result may lag behind the state Slurm reports (shared filesystems)


class SlurmJobEnded(Exception):
    """A Slurm job that ended (or vanished) without writing its result; ``status`` is what the run records."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def job_states(job_ids: list[str]) -> dict[str, str] | None:
    """The state of each job or array task (``"7_3"``) that Slurm still lists, in one ``squeue -t all`` call.

    ``None`` when squeue cannot answer (no controller): nothing may be concluded then. Jobs that ended stay listed for
    the controller's ``MinJobAge`` (300 s by default); a pending array task cancelled by ``scancel`` is not listed.
    """
    bases = sorted({str(job_id).split("_")[0] for job_id in job_ids if job_id})
    if not bases:
        return {}
    try:
        proc = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--array", "--format=%i|%T", "--jobs", ",".join(bases)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        # squeue refuses a list made only of ids it no longer knows: those are simply not listed
        return {} if "Invalid job id" in proc.stderr else None
    states = {}
    for line in proc.stdout.splitlines():
        job_id, _, state = line.strip().partition("|")
        if job_id:
            states[job_id] = state.split()[0].rstrip("+") if state else "UNKNOWN"
    return states


def _sacct_state(job_id: str) -> str | None:
    """The state accounting kept for a job Slurm no longer lists, or None (accounting off: sacct fails quietly)."""
    try:
        proc = subprocess.run(
            ["sacct", "--noheader", "--parsable2", "--format=JobID,State", "--jobs", job_id],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        found, _, state = line.partition("|")
        if found == job_id and state:
            return state.split()[0].rstrip("+")
    return None


def ended(job_id: str, states: dict[str, str], started: bool) -> SlurmJobEnded | None:
    """Why a job that wrote no result is over, from ``squeue``'s ``states`` (None: it may still write one)."""
    state = states.get(job_id)
    if state is None:
        state = _sacct_state(job_id)
        if state is None:
            if started:
                return SlurmJobEnded(
                    "crashed", f"Slurm job {job_id} ended without a result (no longer listed)"
                )
            return SlurmJobEnded("cancelled", f"Slurm job {job_id} was cancelled before it started")
    status = _ENDED.get(state)
    if status is None:
        return None  # PENDING, RUNNING, COMPLETING, ...
    return SlurmJobEnded(status, f"Slurm job {job_id} ended {state} without a result")
