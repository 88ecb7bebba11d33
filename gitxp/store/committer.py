"""The background threads that commit ended runs to the ref, many per commit, and delete their staging."""

from __future__ import annotations

import atexit
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gitxp.errors import GitxpWarning
from gitxp.store.staging import StagedRun

GATHER_GAP = 0.01  # seconds: commit once no run ended for this long ...
GATHER_MAX = 0.1  # ... or once the oldest waiting run has waited this long ...
BATCH_MAX = 500  # ... or once this many runs wait


class Committer:
    """Commits ended runs to the ref from a background thread, many per commit.

    A run is durable (and listed) as soon as its final record is staged; the commit follows within milliseconds.
    While runs keep ending (a loop of short runs) the committer gathers them a little longer (``GATHER_*``): one
    commit of 100 runs costs git a fifth of the CPU of ten commits of 10 (one ``git fast-import`` instead of ten,
    its objects kept as one pack instead of exploded into loose files by ``git unpack-objects``), and gitxp less
    too. ``flush()`` waits for everything submitted, gathering no longer; it runs at interpreter exit and before
    this process reads the store. If the process dies first, the next reader commits the staged runs.
    """

    def __init__(self, commit: Callable[[list[StagedRun]], object]) -> None:
        self.commit = commit
        self.pending: list[StagedRun] = []
        self.busy = False
        self.flushing = 0
        self.errors: list[BaseException] = []
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def submit(self, staged: StagedRun) -> None:
        with self.cond:
            self.pending.append(staged)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="gitxp-committer", daemon=True)
                self.thread.start()
            if len(self.pending) == 1 or len(self.pending) >= BATCH_MAX:
                # Wake the committer only when it waits for a first run, or for a full batch: while it gathers
                # it looks at the count every GATHER_GAP anyway (a wake-up per run cost a thread switch per run).
                self.cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                self._gather()
                batch, self.pending, self.busy = self.pending, [], True
            try:
                self.commit(batch)
            except BaseException as error:  # runs stay staged; recover() commits them later
                self.errors.append(error)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()

    def _gather(self) -> None:
        """Wait (holding ``cond``) while more runs keep ending, within the ``GATHER_*`` bounds."""
        end = time.monotonic() + GATHER_MAX
        while not self.flushing and len(self.pending) < BATCH_MAX:
            count, left = len(self.pending), end - time.monotonic()
            if left <= 0:
                return
            self.cond.wait(min(GATHER_GAP, left))
            if len(self.pending) == count:
                return  # none ended within the gap: the loop paused, or ended

    def flush(self) -> None:
        with self.cond:
            self.flushing += 1
            self.cond.notify_all()
            try:
                while self.pending or self.busy:
                    self.cond.wait()
            finally:
                self.flushing -= 1
            errors, self.errors = self.errors, []
        if errors:
            import warnings

            warnings.warn(
                f"gitxp: could not commit runs (they stay staged and will be retried): {errors[-1]}",
                GitxpWarning,
                stacklevel=2,
            )


committers: dict[str, Committer] = {}  # one per store (by its root directory)


def _remove(path: Path) -> None:
    """Delete a committed run's directory: its few files directly (``shutil.rmtree`` costs several system calls
    and ~50 us of Python per entry), whatever else (sub-directories) through ``rmtree``."""
    try:
        for name in os.listdir(path):
            try:
                os.unlink(os.path.join(path, name))
            except IsADirectoryError:
                shutil.rmtree(os.path.join(path, name), ignore_errors=True)
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class _Cleaner:
    """Deletes the staging directories of committed runs from a background thread.

    The ref writer moves a committed run's directory into ``staging/.committed/`` while it holds the store lock
    (one rename instead of deleting each file there: readers skip names starting with "."), so no reader can
    take it for a run still to commit; the files are deleted here, while the next runs are being committed.
    ``flush_all`` waits for it. Directories a process left there when it died are deleted by the next one.
    """

    def __init__(self) -> None:
        self.pending: list[Path] = []
        self.busy = False
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.swept: set[Path] = set()

    def submit(self, paths: list[Path]) -> None:
        with self.cond:
            self.pending += paths
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="gitxp-cleaner", daemon=True)
                self.thread.start()
            self.cond.notify_all()

    def sweep(self, trash: Path) -> None:
        """Also delete what a process that died left in ``trash`` (once per process)."""
        if trash in self.swept:
            return
        self.swept.add(trash)
        try:
            self.submit([trash / name for name in os.listdir(trash)])
        except OSError:
            pass

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
                batch, self.pending, self.busy = self.pending, [], True
            for path in batch:
                _remove(path)
            with self.cond:
                if not self.pending:  # idle: the trash folder goes too when empty (a writer re-creates it)
                    for folder in {path.parent for path in batch}:
                        try:
                            os.rmdir(folder)
                        except OSError:
                            pass
                self.busy = False
                self.cond.notify_all()

    def flush(self) -> None:
        with self.cond:
            while self.pending or self.busy:
                self.cond.wait()


CLEANER = _Cleaner()


def flush_all() -> None:
    """Wait until every run ended in this process is committed (and its staging directory deleted)."""
    for committer in list(committers.values()):
        committer.flush()
    CLEANER.flush()


def _forget_committers() -> None:  # a forked child has none of its parent's threads
    global CLEANER
    committers.clear()
    CLEANER = _Cleaner()


atexit.register(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_committers)
