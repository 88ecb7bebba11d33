"""The background thread that commits ended runs to the ref, many per commit."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable

from gitxp.errors import GitxpWarning
from gitxp.store.staging import StagedRun


class _Committer:
    """Commits ended runs to the ref from a background thread, many per commit.

    A run is durable (and listed) as soon as its final record is staged; the commit follows within milliseconds.
    Batching whatever ended while the previous commit was being written keeps a loop of short runs from paying
    one ``git fast-import`` per run. ``flush()`` waits for everything submitted; it runs at interpreter exit and
    before this process reads the store. If the process dies first, the next reader commits the staged runs.
    """

    def __init__(self, commit: Callable[[list[StagedRun]], None]) -> None:
        self.commit = commit
        self.pending: list[StagedRun] = []
        self.busy = False
        self.errors: list[BaseException] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, staged: StagedRun) -> None:
        with self.cond:
            self.pending.append(staged)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="gitxp-committer", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                batch, self.pending, self.busy = self.pending, [], True
            try:
                self.commit(batch)
            except BaseException as error:  # runs stay staged; recover() commits them later
                self.errors.append(error)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def flush(self) -> None:
        with self.cond:
            while self.pending or self.busy:
                self.cond.wait()
            errors, self.errors = self.errors, []
        if errors:
            import warnings

            warnings.warn(
                f"gitxp: could not commit runs (they stay staged and will be retried): {errors[-1]}",
                GitxpWarning,
                stacklevel=2,
            )


_committers: dict[str, _Committer] = {}


def flush_all() -> None:
    """Wait until every run ended in this process is committed."""
    for committer in list(_committers.values()):
        committer.flush()


def _forget_committers() -> None:  # a forked child has none of its parent's threads
    _committers.clear()


atexit.register(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_committers)
