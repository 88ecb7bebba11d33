"""Packs: committed runs gathered into ``packs/<hash>.parquet`` on the ref, so a read needs a few files, not one
per run; and packing automatically as the store grows, as git's ``gc --auto`` does.

A pack row is used only while its run file is unchanged (the row carries the run file's blob), so run files stay
the source of truth and a pack can never hide a newer record. ``pack()`` (``gitxp gc``, ``gitxp push``) writes every
run into one pack, replacing the others. The automatic packing keeps a count of the runs committed since the last
pack (``.git/gitxp/unpacked``, derived data); when it passes ``GITXP_AUTO_PACK`` (default 1000, 0 turns it off) the
writer that crossed it packs the runs no pack holds yet into one more pack (all into one when there would be more
than ``MAX_PACKS``), then packs the loose objects its commits wrote (``git repack -d``) and runs ``git gc --auto``,
which gathers packs under git's own thresholds (``gc.auto=0`` turns both off).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

from gitxp.errors import GitxpWarning
from gitxp.store.cache import ReadCache
from gitxp.store.schema import BLOB, FINAL_STATUSES
from gitxp.store.staging import StagedRun
from gitxp.store.tables import read_parquet, table_problem
from gitxp.store.writer import Merged

if TYPE_CHECKING:
    import pyarrow as pa

AUTO_PACK = int(os.environ.get("GITXP_AUTO_PACK", 1000))
MAX_PACKS = 8


class Packs(ReadCache):
    """Writing packs (reading them is part of the read cache's cold read)."""

    # -------------------------------------------------------------- writing a pack

    def _write_pack(self, table: pa.Table, *, delete: Iterable[str] = ()) -> str:
        """Commit ``table`` (rows of the read cache, with their ``_blob``) as one pack; returns its path."""
        import hashlib

        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        data = sink.getvalue().to_pybytes()
        name = f"packs/{hashlib.sha256(data).hexdigest()[:16]}.parquet"
        self.commit_files({name: data}, f"gitxp: pack {table.num_rows} runs", delete=list(delete))
        return name

    def _final_runs(self) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self._indexed_table()
        return table.filter(pc.is_in(table["status"], value_set=pa.array(list(FINAL_STATUSES))))

    def _packed_keys(self, shas: list[str]) -> pa.Array:
        """``run_id:blob`` of every row of the packs ``shas`` (the rows a cold read can take from them)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = []
        for blob in self.repo.read_blobs(shas, missing_ok=True):
            if blob is None:
                continue
            try:
                part = read_parquet(blob, columns=["run_id", BLOB])
            except (pa.ArrowInvalid, OSError, KeyError):
                continue  # a damaged pack covers nothing: its runs are packed again
            if table_problem(part.schema, pack=True) is None:  # a pack of another schema neither
                keys.append(pc.binary_join_element_wise(part["run_id"], part[BLOB], ":"))
        return pa.chunked_array(keys, pa.string()).combine_chunks() if keys else pa.array([], pa.string())

    def _runs_and_packs(self) -> tuple[pa.Table, list[tuple[str, str, str]]]:
        """Under the store's lock (the ref has a head): the committed runs, and the packs on the ref (``ls_tree``
        rows: type, blob, path)."""
        head = self.head()
        assert head is not None
        return self._final_runs(), self.repo.ls_tree(head, "packs")

    def pack(self, *, min_new: int = 0, force: bool = False) -> int:
        """Write every committed run into one ``packs/<hash>.parquet`` on the ref (replacing older packs) so that
        a fresh clone reads the whole store from a few files instead of one file per run. Run files stay the
        source of truth: a pack row is used only while its run file is unchanged. Returns the number of runs
        packed (0 when fewer than ``min_new`` runs are not packed yet)."""
        self.flush()
        head = self.head()
        if head is None:
            return 0
        with self.lock():
            table, old = self._runs_and_packs()
            packed_rows = len(self._packed_keys([s for _k, s, _p in old]))  # damaged or foreign packs: 0
            if table.num_rows == 0 or table.num_rows - packed_rows < max(1, min_new):
                if not (
                    force and old
                ):  # force: rewrite the pack anyway (gitxp gc after pruning removed runs)
                    return 0
            if table.num_rows == 0:  # force, and no run left: drop the old packs
                self.commit_files({}, "gitxp: drop packs", delete=[p for _k, _s, p in old])
                return 0
            self._write_pack(table, delete=[p for _k, _s, p in old])
        self._set_unpacked(0)
        return int(table.num_rows)

    def pack_new(self) -> int:
        """Pack the committed runs that no pack holds yet (their run file is new or changed) into one more pack;
        into one pack for all when there would be more than ``MAX_PACKS``. Returns the number of runs packed."""
        import pyarrow.compute as pc

        if self.head() is None:
            return 0
        with self.lock():
            table, old = self._runs_and_packs()
            if table.num_rows == 0:
                return 0
            key = pc.binary_join_element_wise(table["run_id"], table[BLOB], ":")
            new = table.filter(
                pc.invert(pc.is_in(key, value_set=self._packed_keys([s for _k, s, _p in old])))
            )
            if new.num_rows == 0:
                return 0
            if len(old) + 1 > MAX_PACKS:
                self._write_pack(table, delete=[p for _k, _s, p in old])
            else:
                self._write_pack(new)
        return int(new.num_rows)

    # -------------------------------------------------------------- packing automatically

    def _get_unpacked(self) -> int:
        try:
            return max(0, int((self.root / "unpacked").read_text()))
        except (OSError, ValueError):
            return 0

    def _set_unpacked(self, count: int) -> None:
        path = self.root / "unpacked"
        tmp = path.with_name(f".unpacked.{os.getpid()}.tmp")
        try:
            tmp.write_text(str(count))
            os.replace(tmp, path)
        except OSError:
            pass  # derived data: a lost count only delays the next automatic pack

    def _added(self, count: int, *, repack: bool = True) -> None:
        """``count`` runs were committed: pack once the runs not packed since the last pack pass ``AUTO_PACK``
        (and with ``repack``, pack the loose objects the commits wrote)."""
        if count <= 0 or AUTO_PACK <= 0:
            return
        total = self._get_unpacked() + count
        if total < AUTO_PACK:
            self._set_unpacked(total)
            return
        try:
            self.pack_new()
        except (
            Exception
        ) as error:  # never fails a recording: the runs are committed; packing is retried later
            self._set_unpacked(total)
            warnings.warn(
                f"gitxp: could not pack the store ({error}); retried later", GitxpWarning, stacklevel=2
            )
            return
        self._set_unpacked(0)
        if repack:
            self.repack()

    def repack(self) -> None:
        """Pack the loose objects gitxp's commits wrote and merge the small packs of its larger commits
        (``git repack --geometric=2 -d``: the work is proportional to the new objects and small packs, never a
        repack of the whole repository; plain ``repack -d`` on a git older than 2.32), then let ``git gc --auto``
        gather the packs under git's own thresholds. ``gc.auto=0`` turns both off."""
        if self.repo.run(["config", "--get", "gc.auto"], check=False).stdout.strip() == b"0":
            return
        if self.repo.run(["repack", "--geometric=2", "-d", "-q"], check=False).returncode != 0:
            self.repo.run(["repack", "-d", "-q"], check=False)
        self.repo.run(["-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"], check=False)

    def commit(self, staged: list[StagedRun], *, crashed: Iterable[str] = ()) -> int:
        count = super().commit(staged, crashed=crashed)
        self._added(count)
        return count

    def merge(self, other: str) -> Merged:
        """As the writer's merge; the runs added count towards the next automatic pack, unless the store was
        empty (a first pull takes the other store as it is, packed by its own recordings: packing again and
        repacking the objects ``git fetch`` just packed tripled the time of a first pull of 100,000 runs)."""
        empty = self.head() is None
        merged = super().merge(other)
        if not empty:
            self._added(merged.runs, repack=False)  # fetched objects are packed; the merge commit is loose
        return merged
