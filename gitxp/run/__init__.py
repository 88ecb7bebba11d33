"""Recording runs from training code: ``gitxp.start`` (context manager), ``@gitxp.experiment`` and ``gitxp.current``.

A run is staged on disk the moment it starts (params, meta, version), its curves are appended in chunks while it
trains, and it is committed to the store's ref when it ends, whatever way it ends.

The pieces, one question per module: :mod:`~gitxp.run.setup` (what a run needs before it starts),
:mod:`~gitxp.run.curves` (logging curves), :mod:`~gitxp.run.inputs` (declared input data), :mod:`~gitxp.run.core`
(the ``Run`` object, ``start``, ``current``), :mod:`~gitxp.run.decorator` (``@experiment``),
:mod:`~gitxp.run.plumbing` (what executors, sweeps and the wrapper do to a run: not user API); and two of gitxp's own
plugins: :mod:`~gitxp.run.entrypoint` (how the run can be run again) and :mod:`~gitxp.run.meta` (user, host,
environment). This module re-exports the API so that ``from gitxp.run import Run, start`` works.
"""

from __future__ import annotations

from gitxp.run.core import Run, current, start
from gitxp.run.curves import CHUNK_POINTS, FLUSH_SECONDS, HEARTBEAT_SECONDS

# ruff: noqa: F401
from gitxp.run.decorator import experiment
from gitxp.run.setup import END_STATUSES, RunInterrupted

__all__ = ["Run", "start", "experiment", "current", "RunInterrupted"]
