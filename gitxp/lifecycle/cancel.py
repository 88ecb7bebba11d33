"""``gitxp cancel``: stop live runs of any local process and record them ``cancelled``.

Every live run has a staging directory whose record names its owner (the ``gitxp run`` wrapper, or the Python
process that called ``gitxp.start``): ``host``, ``pid`` and the pid's start time (see gitxp.store.liveness). Cancelling:

1. writes a ``cancel`` marker into the staging directory of every run to stop: whoever ends the run records it
   ``cancelled`` instead of ``interrupted`` (``Run.end``), and so does the recovery of a run whose owner was
   killed (``Store.commit``);
2. sends SIGTERM to each owner -- to its whole process group when it leads one (a ``gitxp run`` started from a
   shell or by a scheduler), else to the process alone. A ``gitxp run`` wrapper forwards it to its commands and a
   sweep (``gitxp run -n ...``) starts no further point; a process inside ``gitxp.start()`` ends its run;
3. while waiting, marks runs the same owners start meanwhile; after ``grace`` seconds sends SIGKILL (a killed
   wrapper's watchdog then stops its commands), and records the runs of dead owners at once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Sequence
from typing import Any

from gitxp.errors import RunNotFoundError, UsageError, did_you_mean
from gitxp.store import HOST, StagedRun, Store, pid_start
from gitxp.store.staging import process_alive

__all__ = ["live_runs", "select_live", "cancel", "CANCEL_GRACE"]

CANCEL_GRACE = float(os.environ.get("GITXP_CANCEL_GRACE", 30.0))


def live_runs(store: Store) -> list[tuple[StagedRun, dict[str, Any]]]:
    """Runs still running: staged, not ended, owner alive."""
    return [
        (staged, record)
        for staged, record in store.staged_records()
        if record.get("status") == "running" and not staged.is_dead(record)
    ]


def select_live(
    store: Store, targets: Sequence[str], experiment: Sequence[str] = ()
) -> list[tuple[StagedRun, dict[str, Any]]]:
    """The live runs named by ``targets`` (run ids/prefixes or experiment names) and ``experiment``."""
    if not targets and not experiment:
        raise UsageError("cancel needs a RUN (id or prefix) or an experiment (-e EXP)")
    live = live_runs(store)
    by_id = {record["run_id"]: (staged, record) for staged, record in live}
    chosen: dict[str, tuple[StagedRun, dict[str, Any]]] = {}
    experiments: set[str] = {r["experiment"] for _s, r in live if isinstance(r.get("experiment"), str)}
    for name in experiment:
        if name not in experiments:
            raise UsageError(f"experiment {name!r} has no running run{did_you_mean(name, experiments)}")
    names = list(experiment)
    for target in targets:
        if target in experiments:
            names.append(target)
            continue
        text = target.strip().lower()
        from gitxp.store.ids import check_prefix

        check_prefix(text)
        found = [r for r in by_id if text and r.startswith(text)]
        if len(found) > 1:
            raise RunNotFoundError(
                f"run id {target!r} is ambiguous: {len(found)} running runs match; type more"
            )
        if found:
            chosen[found[0]] = by_id[found[0]]
            continue
        table = store.table(show="all")
        ids = table["run_id"].to_pylist() if table.num_rows else []
        known = [r for r in ids if text and r.startswith(text)]
        if known:
            status = table["status"][ids.index(known[0])].as_py()
            raise UsageError(f"run {known[0]} is not running (it is {status}): nothing to cancel")
        recorded = {e for e in (table["experiment"].to_pylist() if table.num_rows else []) if e}
        if target in recorded:
            raise UsageError(f"experiment {target!r} has no running run: nothing to cancel")
        hint = did_you_mean(target, {*experiments, *recorded, *(r[: len(text)] for r in ids)})
        raise RunNotFoundError(f"no running run or experiment matches {target!r}{hint}")
    for staged, record in live:
        if record.get("experiment") in names:
            chosen[record["run_id"]] = (staged, record)
    for run_id, (_staged, record) in chosen.items():
        if record.get("host") != HOST:
            raise UsageError(f"run {run_id} runs on host {record.get('host')!r}: cancel it there")
    return list(chosen.values())


def _signal(pid: int, sig: int) -> None:
    """``sig`` to the process group ``pid`` leads, or to ``pid`` alone (never to our own group)."""
    try:
        group = os.getpgid(pid)
        if group == pid and group != os.getpgrp():
            os.killpg(group, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _mark(staged: StagedRun) -> None:
    try:
        (staged.path / "cancel").write_text(
            json.dumps({"by": os.getpid(), "host": HOST, "time": time.time()})
        )
    except OSError:
        pass  # the run ended and its directory is gone


def cancel(
    store: Store, chosen: Sequence[tuple[StagedRun, dict[str, Any]]], *, grace: float | None = None
) -> dict[str, str]:
    """Stop the runs in ``chosen`` (see the module docstring); returns each run's recorded status."""
    grace = CANCEL_GRACE if grace is None else grace
    owners: dict[int, str | None] = {}
    for staged, record in chosen:
        _mark(staged)
        pid = record.get("pid")
        if isinstance(pid, int) and pid > 0:
            if pid == os.getpid():
                raise UsageError(
                    f"run {record['run_id']} belongs to this process: end it with run.end('cancelled')"
                )
            owners[pid] = record.get("pid_start") or pid_start(pid)
    for pid in owners:
        _signal(pid, signal.SIGTERM)
    ids = [record["run_id"] for _s, record in chosen]
    deadline = time.monotonic() + grace
    killed = False
    while True:
        for staged, record in live_runs(store):  # a sweep may have started a point before it got the signal
            if record.get("pid") in owners and record.get("host") == HOST and record["run_id"] not in ids:
                _mark(staged)
                ids.append(record["run_id"])
        alive = [pid for pid, start in owners.items() if process_alive(pid, start, zombie_alive=False)]
        if not alive:
            break
        if time.monotonic() > deadline:
            if killed:
                break
            for pid in alive:
                _signal(pid, signal.SIGKILL)
            killed, deadline = True, time.monotonic() + 5.0
        time.sleep(0.05)
    store.recover()  # runs whose owner died before recording them: committed now, as cancelled
    table = store.table(show="all")
    status = dict(zip(table["run_id"].to_pylist(), table["status"].to_pylist())) if table.num_rows else {}
    return {run: str(status.get(run, "unknown")) for run in ids}
