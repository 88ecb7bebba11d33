"""Packs: every committed run in one ``packs/<hash>.parquet`` on the ref, so a fresh clone reads a few files."""

from __future__ import annotations

from gitxp.store.cache import ReadCache
from gitxp.store.schema import FINAL_STATUSES


class Packs(ReadCache):
    """Writing packs (reading them is part of the read cache's cold read)."""

    # -------------------------------------------------------------- packs

    def pack(self, *, min_new: int = 0, force: bool = False) -> int:
        """Write every committed run into one ``packs/<hash>.parquet`` on the ref (replacing older packs) so that
        a fresh clone reads the whole store from a few files instead of one file per run. Run files stay the
        source of truth: a pack row is used only while its run file is unchanged. Returns the number of runs
        packed (0 when fewer than ``min_new`` runs are not packed yet)."""
        import hashlib

        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        self.flush()
        head = self.head()
        if head is None:
            return 0
        with self.lock():
            head = self.head()
            assert head is not None
            table = self._indexed_table()
            table = table.filter(pc.is_in(table["status"], value_set=pa.array(list(FINAL_STATUSES))))
            old = [p for _k, _s, p in self.repo.ls_tree(head, "packs")]
            packed_rows = 0
            if old:
                packed_rows = sum(
                    pq.read_metadata(pa.BufferReader(b)).num_rows
                    for b in self.repo.read_blobs(s for _k, s, _p in self.repo.ls_tree(head, "packs"))
                )
            if table.num_rows == 0 or table.num_rows - packed_rows < max(1, min_new):
                if not (force and old):  # force: rewrite the pack anyway (gitxp gc after pruning removed runs)
                    return 0
            if table.num_rows == 0:  # force, and no run left: drop the old packs
                self._commit_files({}, "gitxp: drop packs", delete=old)
                return 0
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            data = sink.getvalue().to_pybytes()
            name = f"packs/{hashlib.sha256(data).hexdigest()[:16]}.parquet"
            self._commit_files({name: data}, f"gitxp: pack {table.num_rows} runs", delete=old)
        return int(table.num_rows)
