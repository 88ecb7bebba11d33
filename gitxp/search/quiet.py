"""Optuna's INFO log, silenced where gitxp drives Optuna (and only there).

gitxp builds a throw-away in-memory study at every proposal and at every pruning decision (the store is the
history, see gitxp.search.history); Optuna logs "A new study created in memory" for each at INFO, which would
flood a sweep's output with one line per logged step. ``with quiet():`` drops the INFO records of the Optuna
loggers gitxp's calls reach, for the current thread only: Optuna's global verbosity -- the user's own setting
for their own studies -- is never changed, and another thread's Optuna calls keep their log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet"]

# the Optuna loggers whose INFO records a gitxp-built study emits (study creation, trials told)
_LOGGERS = ("optuna.storages._in_memory", "optuna.study.study", "optuna.study._tell")
_state = threading.local()
_installed = False
_lock = threading.Lock()


class _Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or not getattr(_state, "depth", 0)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            for name in _LOGGERS:
                logging.getLogger(name).addFilter(_Filter())
            _installed = True


@contextmanager
def quiet() -> Iterator[None]:
    """Within the block, this thread's calls into Optuna log nothing below WARNING."""
    _install()
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1
