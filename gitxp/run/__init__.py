"""Recording runs from training code: ``gitxp.start`` (context manager), ``@gitxp.experiment`` and ``gitxp.current``.

A run is staged on disk the moment it starts (params, meta, version), its curves are appended in chunks while it
trains, and it is committed to the store's ref when it ends, whatever way it ends.

The pieces, one question per module: ``run_setup`` (what a run needs before it starts), ``run_curves`` (logging
curves), ``run_core`` (the ``Run`` object, ``start``, ``current``), ``decorator`` (``@experiment``). This module
re-exports them so that ``from gitxp.run import X`` keeps working.
"""

from __future__ import annotations

from gitxp.run.core import Run, current, start
from gitxp.run.curves import CHUNK_POINTS, FLUSH_SECONDS, HEARTBEAT_SECONDS

# ruff: noqa: F401
from gitxp.run.decorator import experiment
from gitxp.run.setup import END_STATUSES, RunInterrupted

__all__ = ["Run", "start", "experiment", "current", "RunInterrupted"]
