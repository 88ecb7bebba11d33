"""The dashboard's data: JSON-ready views over gitxp's read path (``Store.table``, ``gitxp.query.select``).

Paging, sorting and filtering run server-side on the Arrow run table (cached for a second, so a burst of
requests reads the store once); filters are the ``--where`` expressions of ``gitxp ls``. Statistics come from
``gitxp.compare`` and importance from ``gitxp.search.importance``: nothing here re-implements them. Everything is
read-only. A run file the store cannot read shows up in ``errors`` (rendered as an error row) instead of failing.
Here: the runs table and one run's page; the curves, sweep and compare views are in ``gitxp.ui.analysis``, shared
helpers in ``gitxp.ui.values``.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gitxp.errors import StoreError, UsageError
from gitxp.ui.analysis import AnalysisViews
from gitxp.ui.values import BadRequest, _castable, downsample, int_param, json_value

if TYPE_CHECKING:
    import pyarrow as pa

    from gitxp.store import Store

__all__ = ["BadRequest", "Dashboard", "downsample", "json_value"]

CACHE_SECONDS = 1.0
MAX_PAGE = 1000
LOG_TAIL = 256 * 1024
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}


class Dashboard(AnalysisViews):
    """Read-only views of one store for the web UI."""

    def __init__(self, store: Store, show: str = "visible") -> None:
        self.store = store
        self.show = show  # "archived": archived runs listed too (gitxp ui --all; see gitxp.lifecycle)
        self._lock = threading.Lock()
        self._table: pa.Table | None = None
        self._loaded = 0.0
        self.errors: list[str] = []

    # ------------------------------------------------------------------ table

    def table(self) -> pa.Table:
        """Every run (committed and live), re-read at most once a second; unreadable runs go to ``errors``."""
        with self._lock:
            if self._table is None or time.monotonic() - self._loaded > CACHE_SECONDS:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    table = self.store.table(recover=False, show=self.show)
                self.errors = sorted({str(w.message).removeprefix("gitxp: ") for w in caught})
                self._table, self._loaded = table, time.monotonic()
            return self._table

    def experiments(self) -> dict[str, Any]:
        table = self.table()
        names = table["experiment"].to_pylist() if table.num_rows else []
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        return {"experiments": [{"name": k, "runs": v} for k, v in sorted(counts.items(), key=str)]}

    def runs(self, query: Mapping[str, str]) -> dict[str, Any]:
        """One page of the runs table: ``q`` (text), ``where`` (as ``ls --where``), ``experiment``, ``status``,
        ``sort`` (``-results.acc``), ``group`` (experiment/version/status), ``offset``, ``limit``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from gitxp.query import select

        table = self.table()
        total_all = table.num_rows
        offset = int_param(query, "offset", 0, 0, 10**9)
        limit = int_param(query, "limit", 100, 1, MAX_PAGE)
        group = query.get("group") or None
        if group not in (None, "experiment", "version", "status", "branch"):
            raise BadRequest(f"group={group!r}: expected experiment, version, status or branch")
        sort = [s for s in (query.get("sort") or "").split(",") if s.strip()]
        if group:
            sort = [group, *(sort or ["-started"])]
        if table.num_rows:
            table = select(
                self.store,
                table,
                experiment=query.get("experiment") or None,
                status=query.get("status") or None,
                where=query.get("where") or None,
                sort=sort or None,
            )
        text = (query.get("q") or "").strip()
        if text and table.num_rows:
            hit = None
            for name in table.column_names:
                column = table[name]
                if not pa.types.is_string(column.type):
                    column = pc.cast(column, pa.string(), safe=False) if _castable(column.type) else None
                if column is None:
                    continue
                match = pc.fill_null(pc.match_substring(column, text, ignore_case=True), False)
                hit = match if hit is None else pc.or_(hit, match)
            table = table.filter(hit) if hit is not None else table
        columns = [
            c
            for c in table.column_names
            if not c.startswith(("params.", "results.", "meta.")) or table[c].null_count < table.num_rows
        ]
        constant = []
        if table.num_rows > 1:
            for c in columns:
                if c.startswith(("params.", "results.", "meta.")) and _castable(table[c].type):
                    if pc.count_distinct(table[c], mode="all").as_py() <= 1:
                        constant.append(c)
        groups = []
        if group and table.num_rows:
            counts = pc.value_counts(table[group]).to_pylist()
            groups = sorted(
                ({"value": g["values"], "runs": g["counts"]} for g in counts), key=lambda g: str(g["value"])
            )
        page = table.slice(offset, limit).select(columns)
        rows = [{k: json_value(v) for k, v in row.items()} for row in page.to_pylist()]
        return {
            "total": table.num_rows,
            "total_all": total_all,
            "offset": offset,
            "columns": columns,
            "constant": constant,
            "groups": groups,
            "rows": rows,
            "errors": self.errors,
        }

    # ------------------------------------------------------------------ one run

    def run(self, run_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """A run's record, its version (commit, message), its diff and the tail of its log."""
        import pyarrow.compute as pc

        table = self.table()
        rid = self.store.resolve_run(run_id, table)
        row = table.filter(pc.equal(table["run_id"], rid)).to_pylist()[0]
        record = {k: json_value(v) for k, v in row.items() if v is not None}
        message = ""
        commit = row.get("commit")
        if commit and self.store.repo.has_object(commit):
            message = self.store.repo.git("log", "-1", "--format=%an <%ae>%n%ad%n%n%B", commit).decode(
                errors="replace"
            )
        log = self.store.run_file(rid, "stdout.log") or b""
        log_from = int_param(query, "log_from", 0, 0, 10**12)
        start = max(log_from, len(log) - LOG_TAIL) if log_from == 0 else log_from
        patch = self.store.run_file(rid, "diff.patch") or b""
        try:
            metrics = self.store.metrics(rid)
        except StoreError:  # a damaged curves file: the rest of the run page is still shown
            metrics = None
        names = sorted(set(metrics["name"].to_pylist())) if metrics is not None and metrics.num_rows else []
        from gitxp.artifacts import list_artifacts

        artifacts = [
            {
                "name": entry["name"],
                "size": entry.get("size"),
                "stored": entry.get("stored"),
                "image": PurePosixPath(entry["name"]).suffix.lower() in IMAGE_TYPES,
            }
            for entry in list_artifacts(self.store, rid)
        ]
        return {
            "record": record,
            "commit_message": message,
            "diff": patch.decode(errors="replace"),
            "log": log[start:].decode(errors="replace"),
            "log_size": len(log),
            "log_truncated": start > 0 and log_from == 0,
            "metrics": names,
            "artifacts": artifacts,
        }

    def artifact(self, run_id: str, name: str) -> tuple[bytes, str]:
        """An image artifact's bytes (hash-verified, wherever it is stored) and its media type; other artifacts
        are refused: the dashboard shows pictures, ``gitxp artifacts get`` fetches files."""
        import tempfile

        from gitxp.artifacts import get_artifact

        rid = self.store.resolve_run(run_id, self.table())
        kind = IMAGE_TYPES.get(PurePosixPath(name).suffix.lower())
        if kind is None:
            raise UsageError(
                f"artifact {name!r}: the dashboard shows only images ({', '.join(sorted(IMAGE_TYPES))})"
            )
        with tempfile.TemporaryDirectory(prefix="gitxp-ui-") as tmp:
            target = Path(tmp) / "artifact"
            get_artifact(self.store, rid, name, target)
            return target.read_bytes(), kind
