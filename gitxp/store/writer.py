"""The ref writer: committing runs (fast-import, compare-and-swap on the ref), recovering dead runs, merging."""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gitxp.errors import StoreError
from gitxp.store import liveness, recycle, written
from gitxp.store import staging as _staging
from gitxp.store.area import StagingArea
from gitxp.store.committer import Committer, committers
from gitxp.store.provenance import note_recorded
from gitxp.store.schema import DETACHED, FINAL_STATUSES, REF, SCHEMA_VERSION, ZERO, check_incoming, run_path
from gitxp.store.staging import CorruptRecord, StagedRun
from gitxp.store.tables import concat_tables, parquet_schema, record_table, record_tables, table_problem

if TYPE_CHECKING:
    import pyarrow as pa


class Merged(NamedTuple):
    """What a merge brought that this store did not have: runs, and batches of life-cycle events."""

    runs: int
    events: int


class RefWriter(StagingArea):
    """Writes runs to ``refs/gitxp/runs``."""

    def commit_later(self, staged: StagedRun) -> None:
        """Queue an ended run for the background committer (see ``Committer``).

        With ``detach_commits`` (set by ``gitxp run`` for a single run) and pyarrow not loaded yet, a detached
        ``python -m gitxp.store.commit_later`` process writes the commit instead, so that the wrapper exits without paying for
        importing pyarrow (~0.1 s); the run is already durable in staging, and listed, when the wrapper returns.
        """
        if self.detach_commits and "pyarrow" not in sys.modules and not os.environ.get("GITXP_SYNC"):
            import subprocess

            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gitxp.store.commit_later",
                    str(self.repo.worktree or self.repo.git_dir),
                    staged.run_id,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
            return
        key = str(self.root)
        committer = committers.get(key)
        if committer is None:
            committer = committers[key] = Committer(self.commit)
        committer.submit(staged)

    def flush(self) -> None:
        committer = committers.get(str(self.root))
        if committer is not None:
            committer.flush()

    # -------------------------------------------------------------- committing

    def _files_for(
        self,
        staged: StagedRun,
        record: Mapping[str, Any],
        extra: list[pa.Table] | None = None,
        table: pa.Table | None = None,
        names: set[str] | None = None,
    ) -> dict[str, bytes]:
        """The files of one run on the ref; ``names``: the files in its staging directory, when known."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if names is None:
            names = set(os.listdir(staged.path))
        base = run_path(record["run_id"])
        sink = pa.BufferOutputStream()
        # Uncompressed and plain: a one-row file gains nothing from compression, dictionaries or statistics, and
        # is written and parsed faster without them.
        pq.write_table(
            record_table(record) if table is None else table,
            sink,
            compression="none",
            use_dictionary=False,
            write_statistics=False,
        )
        files = {f"{base}/run.parquet": sink.getvalue().to_pybytes()}
        metrics = staged.metrics_table() if "metrics.arrows" in names else None
        if extra:
            metrics = concat_tables([t for t in (metrics, *extra) if t is not None])
        if metrics is not None:
            sink = pa.BufferOutputStream()
            pq.write_table(metrics, sink, compression="zstd")
            files[f"{base}/metrics.parquet"] = sink.getvalue().to_pybytes()
        for name in ("diff.patch", "stdout.log"):
            if name in names:
                files[f"{base}/{name}"] = (staged.path / name).read_bytes()
        if "artifacts.json" in names:
            from gitxp.store.artifact_files import committed_files

            files.update(committed_files(staged.path, base))
        return files

    def commit(self, staged: list[StagedRun], *, crashed: Iterable[str] = ()) -> int:
        """Commit staged runs to the ref in one commit and remove their staging directories.

        Runs named in ``crashed`` are recorded with status ``crashed`` (their process died mid-run), unless the
        record read here, under the store lock, is final: the run ended between its reader's look at its record
        and at its lock (the owner writes the final record before letting go of the lock), and stands as it ended.
        """
        crashed = set(crashed)
        with self.lock():
            files: dict[str, bytes] = {}
            done = []
            prepared: list[tuple[StagedRun, dict[str, Any], list[pa.Table], set[str]]] = []
            for item in staged:
                try:
                    names = set(os.listdir(item.path))  # one call, not a stat per file that may be there
                    record = item.final if item.final is not None else item.read_record()
                except (FileNotFoundError, NotADirectoryError):
                    continue  # already committed by someone else
                except CorruptRecord as error:
                    self.quarantine(item.path, str(error))
                    continue
                if record is None or "record.json" not in names or recycle.is_leftover(item.run_id, record):
                    continue  # never initialised (or a recycled directory whose new run never started)
                extra: list[pa.Table] = []
                if item.run_id in crashed and record.get("status") not in FINAL_STATUSES:
                    from gitxp.store.attached import fold

                    ended = item.last_sign_of_life(record["started"])
                    record.update(status="crashed", ended=ended, duration=ended - record["started"])
                    if (item.path / "cancel").exists():  # killed by gitxp cancel (gitxp.lifecycle.cancel)
                        record["status"] = "cancelled"
                    record.setdefault("meta", {})["error"] = (
                        "process died without recording an end (crash, kill -9 or power loss)"
                    )
                    # what the wrapped command recorded through the API before its wrapper died
                    extra = fold(
                        record,
                        item.path / "attached",
                        experiment_given=bool(record.get("experiment_given")),
                        remove=False,
                        quarantine=self.quarantine,
                    )
                prepared.append((item, record, extra, names))
            try:  # the batch's run tables built together (the same tables as one by one)
                tables: list[pa.Table | None] = list(record_tables([r for _i, r, _e, _n in prepared]))
            except Exception:  # a value no Parquet file can hold: found run by run below
                tables = [None] * len(prepared)
            built: list[tuple[bytes, pa.Table]] = []
            for (item, record, extra, names), table in zip(prepared, tables):
                try:
                    table = record_table(record) if table is None else table
                    run_files = self._files_for(item, record, extra, table, names)
                except Exception as error:  # a value no Parquet file can hold: never block the other runs
                    self.quarantine(item.path, f"cannot be stored: {type(error).__name__}: {error}")
                    continue
                files.update(run_files)
                built.append((run_files[f"{run_path(record['run_id'])}/run.parquet"], table))
                done.append(record)
            if not done:
                return 0
            what = done[0]["run_id"] if len(done) == 1 else f"{len(done)} runs"
            message = f"gitxp: record {what}\n\n" + "".join(
                f"{r['run_id']} {r.get('experiment')} {r.get('status')} {r.get('version')}\n" for r in done
            )
            # this clone recorded them (gitxp.store.provenance): noted before the ref names them
            note_recorded(self.root, [r["run_id"] for r in done])
            from gitxp.store import envs

            env_files = envs.ref_files(self.root, done)
            files.update(env_files)
            self.commit_files(files, message)
            envs.committed(self.root, list(env_files))
            for data, table in built:
                written.remember(data, table)  # the read cache takes these instead of parsing them again
            listed = {item.path: names for item, _r, _e, names in prepared}
            self._discard([item.path for item in staged], listed)
        return len(done)

    def _discard(self, paths: list[Path], listed: Mapping[Path, set[str]] | None = None) -> None:
        """Take committed runs out of staging (the store lock is held): each directory that holds nothing but
        its records goes to the pool of recycled directories (gitxp.store.recycle), any other is moved into
        ``staging/.committed/`` at once and deleted there by a background thread (see ``committer._Cleaner``)."""
        from gitxp.store import committer

        trash = self.staging / ".committed"
        committer.CLEANER.sweep(trash)
        moved = []
        for path in paths:
            names = (listed or {}).get(path)
            if names is not None and recycle.put(self.staging, path, names):
                continue
            try:
                os.rename(path, trash / path.name)
            except FileNotFoundError:
                try:  # the first time: no trash folder yet (else: the run was never staged, or is gone)
                    trash.mkdir(exist_ok=True)
                    os.rename(path, trash / path.name)
                except OSError:
                    shutil.rmtree(path, ignore_errors=True)
                    continue
            except OSError:  # e.g. a leftover of the same name: delete in place, as before
                shutil.rmtree(path, ignore_errors=True)
                continue
            moved.append(trash / path.name)
        committer.CLEANER.submit(moved)

    def commit_files(
        self,
        files: Mapping[str, bytes | str],
        message: str,
        *,
        merge: str | None = None,
        delete: Iterable[str] = (),
    ) -> str:
        """Commit ``files`` (path -> content) onto the ref, ``delete`` removed, compare-and-swap with retries when
        another writer moved it; the new commit's sha. ``merge``: a second parent (``gitxp pull``)."""
        files = {"gitxp.json": json.dumps({"schema": SCHEMA_VERSION}).encode() + b"\n", **files}
        delete = list(delete)
        for attempt in range(50):
            parent = self.head()
            sha = self.repo.commit_files(REF, parent, files, message, merge=merge, delete=delete)
            if sha is not None:
                return sha
            time.sleep(random.uniform(0.001, 0.02) * (attempt + 1))
        raise StoreError(
            f"could not update {REF}: it kept moving under concurrent writers; your runs are still staged in {self.staging}"
        )

    def recover(self) -> int:
        """Commit staged runs whose process is gone (as ``crashed``) or which ended but were not committed."""
        dead, finished = [], []
        for item in self.staged_runs():
            record = self._record_or_quarantine(item)
            if record is None:  # being created right now (no lock file yet), or never got past creation
                if time.time() - item.heartbeat() > _staging.STALE_AFTER and not liveness.is_held(item.path):
                    shutil.rmtree(item.path, ignore_errors=True)
                continue
            if (record.get("meta") or {}).get(DETACHED) and record.get("status") in ("queued", "running"):
                continue  # left to Slurm by `gitxp run --detach`: `gitxp collect` records it when its job ends
            if record.get("status") in FINAL_STATUSES:
                if item.is_dead(record):
                    finished.append(item)
            elif item.is_dead(record):
                dead.append(item)
        if dead or finished:
            self.commit(dead + finished, crashed=[d.run_id for d in dead])
        return len(dead) + len(finished)

    # -------------------------------------------------------------- merging stores

    def merge(self, other: str) -> Merged:
        """Merge another store's commit (e.g. fetched from a clone) into ours as a union of runs.

        Runs only the other side has are added; runs both sides have keep our copy; life-cycle events (tags,
        notes, archive, rm) only the other side has are added. Returns how many of each were new here.
        """
        self.flush()
        names = self.repo.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", other).decode().split("\0")
        paths = [p for p in names if p]
        check_incoming(("blob", "", p) for p in paths)
        ours = self.head()
        self._check_incoming_packs(other, ours)
        if ours is None:
            self.repo.git("update-ref", "-m", "gitxp: merge", REF, other, ZERO)
            runs = sum(1 for p in paths if p.startswith("runs/") and p.endswith("/run.parquet"))
            return Merged(runs, sum(1 for p in paths if p.startswith("events/")))
        if self.repo.run(["merge-base", "--is-ancestor", other, ours], check=False).returncode == 0:
            return Merged(0, 0)
        theirs = {p: s for _k, s, p in self.repo.ls_tree(other, "runs", "packs", "events", "envs")}
        mine = {p for _k, _s, p in self.repo.ls_tree(ours, "runs", "packs", "events", "envs")}
        new_runs = {p.rsplit("/", 1)[0] for p in theirs if p not in mine and p.endswith("/run.parquet")}
        files = {
            p: s
            for p, s in theirs.items()
            if p.rsplit("/", 1)[0] in new_runs
            or (p.startswith(("packs/", "events/", "envs/")) and p not in mine)
        }  # events/: life-cycle ops (gitxp.lifecycle), one file per batch; envs/: environments; unions
        with self.lock():
            self.commit_files(files, f"gitxp: merge {len(new_runs)} runs from {other[:12]}", merge=other)
        return Merged(len(new_runs), sum(1 for p in files if p.startswith("events/")))

    def _check_incoming_packs(self, other: str, ours: str | None) -> None:
        """Refuse to merge a pack we do not have yet that is not a gitxp pack (another schema, or no Parquet file
        at all): on our ref it would stand in every fresh clone's read of the store."""
        import pyarrow as pa

        mine = {s for _k, s, _p in self.repo.ls_tree(ours, "packs")} if ours else set()
        new = [(s, p) for _k, s, p in self.repo.ls_tree(other, "packs") if s not in mine]
        for (_sha, path), blob in zip(new, self.repo.read_blobs([s for s, _p in new], missing_ok=True)):
            if blob is None:
                problem: str | None = "its object was not fetched"
            else:
                try:
                    problem = table_problem(parquet_schema(blob), pack=True)
                except (pa.ArrowInvalid, OSError) as error:
                    problem = f"not a Parquet file: {str(error).splitlines()[0]}"
            if problem is not None:
                raise StoreError(
                    f"refusing to merge: the incoming store's {path} is not a gitxp pack ({problem}); "
                    "nothing was merged"
                )
