"""Reading: the read cache (``cache/runs.parquet``, updated incrementally) and the run files of one run."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpWarning, RunNotFoundError, StoreError
from gitxp.store import written
from gitxp.store.schema import BLOB, CACHE_VERSION, REF, SCHEMA_VERSION, run_path
from gitxp.store.staging import StagedRun, write_json
from gitxp.store.tables import concat_tables, empty_table, read_parquet, table_problem
from gitxp.store.writer import RefWriter

if TYPE_CHECKING:
    import pyarrow as pa


_IDS_SEEN: dict[str, tuple[tuple[str | None, tuple[str, ...]], Any]] = {}  # store -> (state, sorted run ids)


class ReadCache(RefWriter):
    """Every committed run as one table, kept in ``cache/runs.parquet``."""

    # -------------------------------------------------------------- reading

    def committed_table(self) -> pa.Table:
        """All committed runs as one wide table, from the incrementally maintained cache."""
        table = self._indexed_table()
        table = table.drop_columns([BLOB]) if BLOB in table.column_names else table
        if table.num_rows and "run_id" in table.column_names:
            import pyarrow.compute as pc

            valid = pc.fill_null(
                pc.match_substring_regex(table["run_id"], r"^[0-9a-hjkmnp-tv-z]{26}$"), False
            )
            if not pc.all(valid).as_py():
                bad = table.filter(pc.invert(valid))["run_id"].to_pylist()
                warnings.warn(
                    f"gitxp: ignoring {len(bad)} run(s) with a malformed run id in {REF} (e.g. {bad[0]!r})",
                    GitxpWarning,
                    stacklevel=2,
                )
                table = table.filter(valid)
        return table

    def _parse_runs(self, entries: list[tuple[str, str]]) -> list[pa.Table]:
        """Parse ``(blob sha, path)`` run files (one ``cat-file --batch``), tagging each row with its blob. A file
        that cannot be read (damaged, missing from this clone, of another schema) is skipped with a warning."""
        import pyarrow as pa

        known = {sha: written.recall(sha) for sha, _p in entries}  # committed by this process just now
        blobs = iter(self.repo.read_blobs([s for s, _p in entries if known[s] is None], missing_ok=True))
        out = []
        for sha, path in entries:
            table = known[sha]
            if table is None:
                data = next(blobs)
                problem = "its object is missing from this repository" if data is None else None
                if data is not None:
                    try:
                        table = read_parquet(data)
                        problem = table_problem(table.schema)
                    except (pa.ArrowInvalid, OSError) as error:
                        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
                if problem is not None or table is None:
                    warnings.warn(
                        f"gitxp: skipping unreadable run file {path} in {REF}: {problem}",
                        GitxpWarning,
                        stacklevel=2,
                    )
                    continue
            out.append(table.append_column(BLOB, pa.array([sha] * table.num_rows, pa.string())))
        return out

    def _cold_tables(self, head: str) -> list[pa.Table]:
        """Every run of commit ``head``: rows of the packs whose run file is unchanged since it was packed, plus
        the run files no pack covers."""
        import pyarrow as pa
        import pyarrow.compute as pc

        entries = self.repo.ls_tree(head, "runs", "packs")
        runs = {
            p.rsplit("/", 2)[-2]: (s, p)
            for k, s, p in entries
            if p.startswith("runs/") and p.endswith("/run.parquet")
        }
        packs = [s for k, s, p in entries if p.startswith("packs/") and p.endswith(".parquet")]
        parts: list[pa.Table] = []
        covered: set[str] = set()
        readable = []
        if packs:
            for sha, blob in zip(packs, self.repo.read_blobs(packs, missing_ok=True)):
                try:
                    if blob is None:
                        raise OSError("its object is missing from this repository")
                    table = read_parquet(blob)
                    problem = table_problem(table.schema, pack=True)
                    if problem is None:
                        readable.append(table)
                        continue
                    problem = f"is not a gitxp pack: {problem}"
                except (pa.ArrowInvalid, OSError) as error:
                    problem = f"is damaged ({str(error).splitlines()[0]})"
                warnings.warn(
                    f"gitxp: pack {sha[:12]} on {REF} {problem}; its runs are read from their own files "
                    "instead. 'gitxp gc' writes a new pack",
                    GitxpWarning,
                    stacklevel=2,
                )
        if packs and readable:
            packed = concat_tables(readable)
            current = pa.array([f"{rid}:{sha}" for rid, (sha, _p) in runs.items()], pa.string())
            key = pc.binary_join_element_wise(packed["run_id"], packed[BLOB], ":")
            packed = packed.filter(pc.is_in(key, value_set=current))
            first: dict[str, int] = {}
            for i, rid in enumerate(packed["run_id"].to_pylist()):
                first.setdefault(rid, i)  # overlapping packs (merged from clones): one row per run
            packed = packed.take(pa.array(sorted(first.values()), pa.int64()))
            covered = set(first)
            parts.append(packed)
        parts += self._parse_runs([entry for rid, entry in runs.items() if rid not in covered])
        return parts

    def _check_store(self, head: str) -> None:
        """Say so when the ref holds something that is not a gitxp store (instead of listing "no runs")."""
        if not self.repo.ls_tree(head, "gitxp.json"):
            warnings.warn(
                f"gitxp: {REF} points at commit {head[:12]}, which is not a gitxp store (no gitxp.json in its "
                f"tree); repair it with 'git update-ref {REF} <a store commit from git reflog {REF}>' or delete it",
                GitxpWarning,
                stacklevel=3,
            )

    def _indexed_table(self) -> pa.Table:
        import pyarrow as pa

        head = self.head()
        if head is None:
            return empty_table()
        cache_file = self.cache_dir / "runs.parquet"
        if not cache_file.exists():  # a cold read: check once that the ref is a store at all
            self._check_store(head)
        state_file = self.cache_dir / "state.json"
        if self.cache_dir.exists() and not self.cache_dir.is_dir():
            self.cache_dir.unlink()  # derived data only: rebuilt below
        try:
            state = json.loads(state_file.read_text())
        except (FileNotFoundError, NotADirectoryError, ValueError, OSError):
            state = {}
        if not isinstance(state, dict) or not all(
            isinstance(state.get(k, ""), (str, int)) for k in ("ref", "cache")
        ):
            state = {}
        cached = None
        if state.get("cache") == CACHE_VERSION and cache_file.exists():
            if state.get("ref") == head:
                try:
                    return read_parquet(cache_file)
                except (OSError, pa.ArrowInvalid):
                    pass
            elif state.get("ref") and self.repo.has_object(state["ref"]):
                try:
                    cached = read_parquet(cache_file)
                except (OSError, pa.ArrowInvalid):
                    cached = None
        if cached is not None:
            changed = [
                (s, p)
                for _st, s, p in self.repo.changed_paths(state["ref"], head)
                if p.endswith("/run.parquet")
            ]
            new = self._parse_runs(changed)
            if new and cached.num_rows:
                import pyarrow.compute as pc

                ids = pa.array([p.rsplit("/", 2)[-2] for _s, p in changed])
                cached = cached.filter(pc.invert(pc.is_in(cached["run_id"], value_set=ids)))
            parts = ([cached] if cached.num_rows else []) + new
        else:
            parts = self._cold_tables(head)
        table = concat_tables(parts)
        if table.num_rows and "started" in table.column_names:
            table = table.sort_by([("started", "ascending"), ("run_id", "ascending")])
        self._save_cache(table, head)
        return table

    def runs_since(self, head: str | None) -> tuple[str | None, pa.Table | None]:
        """``(the ref's commit now, the committed runs whose run file was added or changed since commit
        head)``, read from that change alone (a ``git diff-tree`` and the new run files), for readers that keep
        their own copy up to date (a search's history). The table is None when the change is not one of added
        runs alone (the life-cycle changed, a run file went away, the ref was rewritten): read everything again.
        """
        now = self.head()
        if now == head:
            return now, empty_table()
        if head is None or now is None:
            return now, None
        done = self.repo.run(["diff-tree", "-r", "-z", "--no-renames", head, now], check=False)
        if done.returncode != 0:  # head is gone (the ref was rewritten and its old commits pruned)
            return now, None
        rows = done.stdout.split(b"\0")
        changed = []
        for header, path in zip(rows[0::2], rows[1::2]):
            name = path.decode()
            parts = header.decode().split()
            if len(parts) < 5 or parts[4] not in ("A", "M") or name.startswith("events/"):
                if name.startswith(("runs/", "events/")):
                    return now, None
                continue
            if name.endswith("/run.parquet"):
                changed.append((parts[3], name))
        tables = self._parse_runs(changed)
        table = concat_tables(tables) if tables else empty_table()
        return now, table.drop_columns([BLOB]) if BLOB in table.column_names else table

    def _save_cache(self, table: pa.Table, head: str) -> None:
        """Keep ``table`` as the read cache of commit ``head``. Derived data only: where it cannot be written (a
        read-only ``.git``, a full disk) the next read builds it again, and this one still answers."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        cache_file = self.cache_dir / "runs.parquet"
        tmp = cache_file.with_name(f".runs.{os.getpid()}.tmp")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, tmp)
            os.replace(tmp, cache_file)
            write_json(
                self.cache_dir / "state.json", {"ref": head, "schema": SCHEMA_VERSION, "cache": CACHE_VERSION}
            )
        except (OSError, pa.ArrowException):
            try:
                tmp.unlink()
            except OSError:
                pass

    def table(self, *, recover: bool = True, show: str = "visible") -> pa.Table:
        """Every run: committed ones plus live ones, after committing the runs of dead processes.

        ``show``: "visible" leaves out archived and removed runs, "archived" leaves out removed ones only, "all"
        none (see gitxp.lifecycle)."""
        return self.lifecycle_view(self._all_runs(recover), show)

    def lifecycle_view(self, table: pa.Table, show: str = "visible") -> pa.Table:
        """``table`` with the life-cycle applied (gitxp tag/note/archive/rm, folded from events/ on the ref)."""
        from gitxp.store.lifecycle import load_view, overlay

        return overlay(table, load_view(self.repo, self.head(), self.cache_dir), show)

    def _all_runs(self, recover: bool) -> pa.Table:
        self.flush()
        if recover:
            try:
                self.recover()
            except (
                StoreError,
                OSError,
            ) as error:  # a leftover lock file, a read-only .git: reading must still work
                warnings.warn(
                    f"gitxp: could not record the runs of dead processes ({error}); they are listed as staged",
                    GitxpWarning,
                    stacklevel=2,
                )
        staged = self._staged_ids()
        live = self.live_table()
        committed = self.committed_table()
        # what printed ids must be unique among (run_ids), read here anyway
        if "run_id" in committed.column_names:
            self._remember_ids(self.head(), staged, committed["run_id"])
        if not live.num_rows:
            return committed
        import pyarrow.compute as pc

        committed = committed.filter(pc.invert(pc.is_in(committed["run_id"], value_set=live["run_id"])))
        return concat_tables([committed, live])

    def run_ids(self) -> Sequence[str]:
        """Every run id of the store, sorted (a sorted Arrow array: indexing gives ``pa.StringScalar``s; see
        ``gitxp.store.ids.unique_prefixes``): committed ones, archived and removed ones too, and staged ones. A printed
        prefix must be unique among these (``short_ids``). Remembered per process while neither the ref nor the
        staging area changes; ``table()`` fills the memory as it reads, so ``ls`` reads nothing twice."""
        head, staged = self.head(), self._staged_ids()
        memo = _IDS_SEEN.get(str(self.cache_dir))
        if memo is not None and memo[0] == (head, staged):
            return memo[1]
        column = None
        if head is not None:
            try:
                state = json.loads((self.cache_dir / "state.json").read_text())
                current = (head, CACHE_VERSION)
                if isinstance(state, dict) and (state.get("ref"), state.get("cache")) == current:
                    column = read_parquet(self.cache_dir / "runs.parquet", columns=["run_id"])["run_id"]
            except (OSError, ValueError, KeyError):
                column = None
            if column is None:
                column = self.committed_table()["run_id"]
        return self._remember_ids(head, staged, column)

    def state(self) -> tuple[str | None, tuple[str, ...]]:
        """What the store holds, in short: the ref's commit (moved by every recording, archive, removal, pull)
        and the runs still staged. Equal states, equal runs: a key for derived data (importance, ids)."""
        return self.head(), self._staged_ids()

    def _staged_ids(self) -> tuple[str, ...]:
        from gitxp.store.ids import is_run_id

        try:
            return tuple(sorted(n for n in os.listdir(self.staging) if is_run_id(n)))
        except (FileNotFoundError, NotADirectoryError):
            return ()

    def _remember_ids(self, head: str | None, staged: tuple[str, ...], committed: object) -> Sequence[str]:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = [pa.array(staged, pa.string())]
        if committed is not None:
            parts += [c.cast(pa.string()) for c in getattr(committed, "chunks", [committed])]
        ids = pc.unique(pa.chunked_array(parts, pa.string()).combine_chunks())
        ids = pc.array_take(ids, pc.array_sort_indices(ids))
        _IDS_SEEN[str(self.cache_dir)] = ((head, staged), ids)
        return ids

    def short_ids(self, ids: Sequence[str]) -> list[str]:
        """``ids`` as gitxp prints them: the shortest prefixes (at least 8 characters) unique in this store."""
        from gitxp.store.ids import unique_prefixes

        if not ids:
            return []
        return unique_prefixes(list(ids), self.run_ids())

    def short_id(self, run_id: str) -> str:
        """One id as gitxp prints it (see ``short_ids``)."""
        return self.short_ids([run_id])[0]

    def resolve_run(self, prefix: str, table: pa.Table | None = None) -> str:
        """Return the one run id starting with ``prefix``."""
        import pyarrow.compute as pc

        prefix = prefix.strip().lower()
        if not prefix:
            raise RunNotFoundError("empty run id")
        table = (
            self.table(show="archived") if table is None else table
        )  # an archived run is still there by id
        ids = table.filter(pc.starts_with(table["run_id"], prefix))["run_id"].to_pylist()
        if not ids:
            raise RunNotFoundError(f"no run matches {prefix!r} (see 'gitxp ls')")
        if len(ids) > 1:
            shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
            raise RunNotFoundError(
                f"run id {prefix!r} is ambiguous: {len(ids)} runs match ({shown}); type more characters"
            )
        return str(ids[0])

    def run_file(self, run_id: str, name: str) -> bytes | None:
        """A file of a run (``metrics.parquet``, ``diff.patch``, ``stdout.log``), committed or still staged."""
        staged = self.staging / run_id
        if staged.exists():
            if name == "metrics.parquet":
                table = StagedRun(staged).metrics_table()
                if table is None:
                    return None
                import pyarrow as pa
                import pyarrow.parquet as pq

                sink = pa.BufferOutputStream()
                pq.write_table(table, sink)
                return sink.getvalue().to_pybytes()
            if (staged / name).exists():
                return (staged / name).read_bytes()
        head = self.head()
        return self.repo.read_blob(head, f"{run_path(run_id)}/{name}") if head else None

    def metrics(self, run_id: str) -> pa.Table:
        """The curves of one run: columns step (int64), name (string), value, time (float64). A file that cannot
        be read, or whose columns are not of these types, is a ``StoreError`` naming the run."""
        import pyarrow as pa

        empty = pa.table(
            {
                "step": pa.array([], pa.int64()),
                "name": pa.array([], pa.string()),
                "value": pa.array([], pa.float64()),
                "time": pa.array([], pa.float64()),
            }
        )
        data = self.run_file(run_id, "metrics.parquet")
        if data is None:
            return empty
        try:
            table = read_parquet(data)
            if "time" not in table.column_names:
                table = table.append_column("time", pa.nulls(table.num_rows, pa.float64()))
            return pa.table({f.name: table[f.name].cast(f.type) for f in empty.schema})
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError, KeyError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise StoreError(
                f"run {run_id} is damaged: its metrics.parquet on {REF} cannot be read as curves ({reason}); "
                "its params and results are still listed"
            ) from None
