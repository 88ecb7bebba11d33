"""The staging area: creating a live run's directory, listing staged runs, quarantining bad entries."""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpWarning
from gitxp.store import liveness, recycle
from gitxp.store.base import StoreBase
from gitxp.store.staging import CorruptRecord, StagedRun
from gitxp.store.tables import concat_tables, empty_table, record_table

if TYPE_CHECKING:
    import pyarrow as pa


class StagingArea(StoreBase):
    """Live runs in ``staging/``."""

    def stage(self, record: dict[str, Any], patch: bytes) -> StagedRun:
        """Create the staging directory of a new run (or take a recycled one: gitxp.store.recycle), locked for
        the life of the run (gitxp.store.liveness). The record gains ``lock`` (where the lock is: "dir" or "file"),
        which tells readers that a free lock means a dead owner (a run staged by a gitxp too old to lock is
        judged by its pid instead)."""
        staged = StagedRun(self.staging / record["run_id"])
        staged.lock = recycle.take(self.staging, record["run_id"])
        recycled = staged.lock is not None
        try:
            if not recycled:
                staged.path.mkdir(parents=True)
                # locked before the record is written: no reader ever sees a live run without its lock
                staged.lock = liveness.hold(staged.path)
            if staged.lock is not None:
                record["lock"] = "file" if staged.lock.on_file else "dir"
            if patch:
                (staged.path / "diff.patch").write_bytes(patch)
            if staged.lock is None:
                staged.write_record(record)
            else:
                staged.write_first_record(record, recycled=recycled)
        except BaseException:  # e.g. Ctrl-C mid-creation: the run never started, leave no half-written entry
            shutil.rmtree(staged.path, ignore_errors=True)
            if staged.lock is not None:
                staged.lock.close()
            raise
        return staged

    def staged_runs(self) -> list[StagedRun]:
        try:
            names = sorted(os.listdir(self.staging))
        except (FileNotFoundError, NotADirectoryError):
            return []
        out = []
        for name in names:
            if name.startswith("."):
                continue
            if not (self.staging / name).is_dir():
                self.quarantine(self.staging / name, "not a staging directory")
                continue
            out.append(StagedRun(self.staging / name))
        return out

    def staged_records(self) -> Iterator[tuple[StagedRun, dict[str, Any]]]:
        """Each staged run that has a readable record, with it (for readers that only look: a damaged record is
        passed over here and quarantined by the recovery, a run with no record yet is still starting)."""
        for staged in self.staged_runs():
            try:
                record = staged.read_record()
            except CorruptRecord:
                continue
            if record is not None:
                yield staged, record

    def quarantine(self, path: Path, why: str) -> None:
        """Move a bad staging entry aside to ``staging/.corrupt/`` (nothing is deleted) and say so once."""
        target = self.staging / ".corrupt" / path.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target = target.with_name(f"{path.name}.{time.time_ns()}")
            path.rename(target)
        except OSError:
            return
        warnings.warn(
            f"gitxp: moved the staging entry {path.name} aside to {target} ({why}); the other runs are unaffected",
            GitxpWarning,
            stacklevel=3,
        )

    def _record_or_quarantine(self, item: StagedRun) -> dict[str, Any] | None:
        try:
            record = item.read_record()
        except CorruptRecord as error:
            if liveness.is_held(item.path):
                return None  # its owner is alive and writing: not ours to judge
            self.quarantine(item.path, str(error))
            return None
        if record is not None and recycle.is_leftover(item.run_id, record):
            if not liveness.is_held(item.path):  # a recycled directory whose new run died before writing
                shutil.rmtree(item.path, ignore_errors=True)
            return None
        return record

    def live_table(self) -> pa.Table:
        """Runs still in staging (running, or dead and about to be recovered)."""
        records = [r for r in (self._record_or_quarantine(s) for s in self.staged_runs()) if r is not None]
        return concat_tables([record_table(r) for r in records]) if records else empty_table()
