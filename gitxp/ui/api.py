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
from gitxp.ui.values import BadRequest, castable, downsample, int_param, json_value

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


def _elapsed(out: dict[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """A running run's ``duration`` is the time since it started (``elapsed`` says so): never blank."""
    import datetime

    started = row.get("started")
    if (
        row.get("status") == "running"
        and row.get("duration") is None
        and isinstance(started, datetime.datetime)
    ):
        now = datetime.datetime.now(started.tzinfo) if started.tzinfo else datetime.datetime.now()
        out["duration"] = max(0.0, (now - started).total_seconds())
        out["elapsed"] = True
    return out


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
            # only the columns the user sees (``qcols``, else the table's default ones: no meta.*, whose argv
            # lists every grid value, so "adam" would match runs of every optimiser)
            asked = [c for c in (query.get("qcols") or "").split(",") if c]
            searched = [c for c in asked if c in table.column_names] or [
                c for c in table.column_names if not c.startswith("meta.") and c not in ("commit", "ended")
            ]
            for name in searched:
                column = table[name]
                if not pa.types.is_string(column.type):
                    column = pc.cast(column, pa.string(), safe=False) if castable(column.type) else None
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
                if c.startswith(("params.", "results.", "meta.")) and castable(table[c].type):
                    if pc.count_distinct(table[c], mode="all").as_py() <= 1:
                        constant.append(c)
        groups = []
        if group and table.num_rows:
            counts = pc.value_counts(table[group]).to_pylist()
            groups = sorted(
                ({"value": g["values"], "runs": g["counts"]} for g in counts), key=lambda g: str(g["value"])
            )
        page = table.slice(offset, limit).select(columns)
        rows = [_elapsed({k: json_value(v) for k, v in row.items()}, row) for row in page.to_pylist()]
        return {
            "total": table.num_rows,
            "total_all": total_all,
            "offset": offset,
            "columns": columns,
            "constant": constant,
            "groups": groups,
            "rows": rows,
            "short_ids": self.short_ids(rows),  # ids as shown: the shortest prefixes unique in the store
            "errors": self.errors,
        }

    def short_ids(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        """``run_id`` -> the id as shown (the shortest prefix of 8 or more characters unique in the store)."""
        ids = [row["run_id"] for row in rows if isinstance(row.get("run_id"), str)]
        return dict(zip(ids, self.store.short_ids(ids)))

    # ------------------------------------------------------------------ one run

    def run(self, run_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        """A run's record, its version (commit, message), its diff and the tail of its log."""
        import pyarrow.compute as pc

        table = self.table()
        rid = self.store.resolve_run(run_id, table)
        row = table.filter(pc.equal(table["run_id"], rid)).to_pylist()[0]
        record = _elapsed({k: json_value(v) for k, v in row.items() if v is not None}, row)
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
        if patch:
            from gitxp.version.ipynb import readable_patch

            patch = readable_patch(self.store.repo, patch)  # notebooks as cell sources, without outputs
        try:
            metrics = self.store.metrics(rid)
        except StoreError:  # a damaged curves file: the rest of the run page is still shown
            metrics = None
        names = sorted(set(metrics["name"].to_pylist())) if metrics is not None and metrics.num_rows else []
        from gitxp.store.artifacts import list_artifacts

        artifacts = [
            {
                "name": entry["name"],
                "size": entry.get("size"),
                "stored": entry.get("stored"),
                "image": PurePosixPath(entry["name"]).suffix.lower() in IMAGE_TYPES,
            }
            for entry in list_artifacts(self.store, rid)
        ]
        from gitxp.store import envs
        from gitxp.store.inputs import parse_lines

        env = envs.of_run(self.store, row)
        return {
            "record": record,
            "lifecycle": self.lifecycle_state(rid),
            "environment": env,
            "inputs": parse_lines(row.get("meta.inputs")),
            "commit_message": message,
            "diff": patch.decode(errors="replace"),
            "log": log[start:].decode(errors="replace"),
            "log_size": len(log),
            "log_truncated": start > 0 and log_from == 0,
            "metrics": names,
            "artifacts": artifacts,
            "short_id": self.store.short_id(rid),
            "short_ids": {rid: self.store.short_id(rid)},
        }

    # ------------------------------------------------------------------ edits (POST /api/edit/..., see server)

    EDITS = ("tag", "untag", "note", "archive", "unarchive")

    def edit(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Tag, untag, note, archive or unarchive one run (the life-cycle ops of the CLI); returns its new state."""
        from gitxp.errors import did_you_mean
        from gitxp.lifecycle import api as lifecycle

        if action not in self.EDITS:
            raise BadRequest(f"unknown edit {action!r}{did_you_mean(action, list(self.EDITS)) or ''}")
        run_id = body.get("run")
        if not isinstance(run_id, str) or not run_id:
            raise BadRequest("the edit needs 'run': a run id")
        # archived runs too: the page of a run just archived can unarchive it
        rid = self.store.resolve_run(run_id, self.store.table(recover=False, show="archived"))
        if action in ("tag", "untag"):
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise BadRequest(f"{action} needs 'name': the tag")
            changed = getattr(lifecycle, action)(rid, name.strip(), store=self.store)
        elif action == "note":
            text = body.get("text")
            if text is not None and not isinstance(text, str):
                raise BadRequest("note needs 'text': a string (empty clears it)")
            changed = lifecycle.note(rid, text, store=self.store)
        else:
            changed = getattr(lifecycle, action)(rid, store=self.store)
        with self._lock:
            self._table = None  # the next read sees the edit
        return {"run": rid, "changed": changed, **self.lifecycle_state(rid)}

    def lifecycle_state(self, run_id: str) -> dict[str, Any]:
        """A run's tags, note and archived flag as the store's events fold them."""
        from gitxp.store.lifecycle import load_state

        state = load_state(self.store.repo, self.store.head(), self.store.cache_dir)
        return {
            "tags": sorted(state.tags(run_id)),
            "note": state.value(run_id, "note") or "",
            "archived": bool(state.value(run_id, "archived")),
        }

    def artifact(self, run_id: str, name: str) -> tuple[bytes, str]:
        """An image artifact's bytes (hash-verified, wherever it is stored) and its media type; other artifacts
        are refused: the dashboard shows pictures, ``gitxp artifacts get`` fetches files."""
        import tempfile

        from gitxp.store.artifacts import get_artifact

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
