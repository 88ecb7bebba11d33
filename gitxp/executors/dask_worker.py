"""What a Dask worker runs for a trial of ``--executor dask`` (:mod:`gitxp.executors.dask` is the client side):
the trial itself is :func:`gitxp.executors.remote.run_trial`, with Dask's worker events and stop event around it."""

from __future__ import annotations

import time
from typing import Any

from gitxp.executors.remote import Outcome, run_trial

__all__ = ["task"]


def task(spec: Any, bundle: bytes | None, stop_name: str) -> Outcome:
    """One attempt of a trial, on a Dask worker: the trial's events go to the sweep's topic, and the sweep's stop
    event (Ctrl-C on the client) is polled at most once a second."""
    from distributed import Event, get_client, get_worker

    worker = get_worker()
    stop = Event(stop_name, client=get_client())  # polled from the trial's watcher thread: bind it now
    checked = [0.0, False]

    def should_stop() -> bool:
        if time.monotonic() - checked[0] > 1.0:
            checked[0] = time.monotonic()
            try:
                checked[1] = bool(stop.is_set())
            except Exception:
                pass
        return bool(checked[1])

    def emit(event: dict[str, Any]) -> None:
        event["worker"] = worker.address
        try:
            worker.log_event(spec.events, event)
        except Exception:
            pass

    return run_trial(spec, bundle, emit=emit, should_stop=should_stop)
