"""The dashboard's data: JSON-ready views over gitxp's read path (``Store.table``, ``gitxp.query.select``).

Paging, sorting and filtering run server-side on the Arrow run table (cached for a second, so a burst of
requests reads the store once); filters are the ``--where`` expressions of ``gitxp ls``. Statistics come from
``gitxp.compare`` and importance from ``gitxp.search.importance``: nothing here re-implements them. Everything is
read-only. A run file the store cannot read shows up in ``errors`` (rendered as an error row) instead of failing.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError

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


class BadRequest(UsageError):
    """A malformed query parameter: answered with HTTP 400 and this message."""


def json_value(value: Any) -> Any:
    """A cell as JSON: timestamps as ISO 8601, NaN/inf as strings (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high], or a 400 naming it."""
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}={text!r}: expected an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}={value}: expected {low}..{high}")
    return value


def downsample(xs: list[float], ys: list[float], width: int) -> tuple[list[float], list[float]]:
    """At most ~2*width points keeping each bucket's min and max (in x order), so peaks survive."""
    n = len(xs)
    if n <= 2 * width or width <= 0:
        return xs, ys
    out_x: list[float] = []
    out_y: list[float] = []
    size = n / width
    for b in range(width):
        lo, hi = int(b * size), min(n, int((b + 1) * size))
        if lo >= hi:
            continue
        chunk = range(lo, hi)
        finite = [i for i in chunk if ys[i] is not None and math.isfinite(ys[i])]
        if not finite:
            continue
        i_min = min(finite, key=lambda i: ys[i])
        i_max = max(finite, key=lambda i: ys[i])
        for i in sorted({i_min, i_max}):
            out_x.append(xs[i])
            out_y.append(ys[i])
    return out_x, out_y


class Dashboard:
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
        metrics = self.store.metrics(rid)
        names = sorted(set(metrics["name"].to_pylist())) if metrics.num_rows else []
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

    def curves(self, query: Mapping[str, str]) -> dict[str, Any]:
        """Per-step metrics of ``runs`` (comma-separated ids): one series per run and metric, down-sampled to
        ``width`` buckets; ``after=N`` returns only the points with step > N (live polling)."""
        ids = [r for r in (query.get("runs") or "").split(",") if r.strip()]
        if not ids:
            raise BadRequest("runs: give one or more run ids")
        if len(ids) > 50:
            raise BadRequest("runs: at most 50 runs at a time")
        width = int_param(query, "width", 1000, 10, 20000)
        after = int_param(query, "after", -1, -1, 10**12)
        wanted = {m for m in (query.get("metrics") or "").split(",") if m}
        table = self.table()
        out = []
        names: set[str] = set()
        for prefix in ids:
            rid = self.store.resolve_run(prefix, table)
            metrics = self.store.metrics(rid)
            if not metrics.num_rows:
                continue
            by_name: dict[str, list[tuple[int, float, float | None]]] = {}
            for step, name, value, when in zip(
                metrics["step"].to_pylist(),
                metrics["name"].to_pylist(),
                metrics["value"].to_pylist(),
                metrics["time"].to_pylist(),
            ):
                names.add(name)
                if (wanted and name not in wanted) or step is None or step <= after:
                    continue
                by_name.setdefault(name, []).append((step, value, when))
            for name, points in sorted(by_name.items()):
                points.sort(key=lambda p: p[0])
                steps, values = downsample([float(p[0]) for p in points], [p[1] for p in points], width)
                index = {p[0]: p[2] for p in points}
                times = [index.get(int(s)) for s in steps]
                out.append(
                    {
                        "run": rid,
                        "metric": name,
                        "steps": steps,
                        "values": [json_value(v) for v in values],
                        "times": times,
                        "points": len(points),
                        "last_step": points[-1][0],
                    }
                )
        return {"series": out, "metrics": sorted(names)}

    # ------------------------------------------------------------------ sweep and compare

    def sweep(self, query: Mapping[str, str]) -> dict[str, Any]:
        """An experiment's trials in start order: params, objective value, best so far; importance when
        ``gitxp.search.importance`` can compute it."""
        import pyarrow.compute as pc

        from gitxp import objective
        from gitxp.query import check_experiments

        experiment = query.get("experiment") or ""
        table = self.table()
        check_experiments(table, [experiment])
        runs = table.filter(pc.equal(table["experiment"], experiment))
        runs = runs.take(pc.sort_indices(runs, sort_keys=[("started", "ascending")]))
        results = sorted(
            c[8:]
            for c in runs.column_names
            if c.startswith("results.") and runs[c].null_count < runs.num_rows
        )
        metric = query.get("metric") or ""
        if not metric:
            recorded = (
                [m for m in runs["meta.metric"].to_pylist() if m]
                if "meta.metric" in runs.column_names
                else []
            )
            metric = recorded[0].split(",")[0] if recorded else (f"{results[0]}:max" if results else "")
        if not metric:
            return {"experiment": experiment, "metric": None, "trials": [], "params": [], "results": results}
        name, goal = objective.parse(metric)
        column = objective.column(name, goal, runs.column_names)
        if column is None:
            raise BadRequest(
                f"metric {name!r}: no run of {experiment!r} reports it (results: {', '.join(results)})"
            )
        params = [
            c for c in runs.column_names if c.startswith("params.") and runs[c].null_count < runs.num_rows
        ]
        trials = []
        best: float | None = None
        for i, row in enumerate(runs.to_pylist()):
            value = row.get(column)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if ok and (best is None or (value < best if goal == "min" else value > best)):
                best = float(value)
            trials.append(
                {
                    "trial": i,
                    "run_id": row["run_id"],
                    "status": row.get("status"),
                    "value": float(value) if ok else None,
                    "best": best,
                    "params": {p[7:]: json_value(row.get(p)) for p in params},
                }
            )
        return {
            "experiment": experiment,
            "metric": name,
            "goal": goal,
            "trials": trials,
            "params": [p[7:] for p in params],
            "results": results,
            "importance": self._importance(experiment, name, goal),
        }

    def _importance(self, experiment: str, name: str, goal: str) -> dict[str, Any]:
        try:
            from gitxp.search.history import load_history
            from gitxp.search.importance import importances
        except ImportError as error:
            return {"error": f"param importance is not available: {error}"}
        try:
            history = load_history(self.store, experiment, [], [(name, goal)])
            return {"values": importances(history, evaluator="fanova")}
        except Exception as error:  # noqa: BLE001 - shown in the panel, the rest of the page keeps working
            return {"error": str(error)}

    def compare(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``gitxp compare A B``: the same statistics (gitxp.compare) plus the code diff between the two."""
        from gitxp.compare import by_experiment, code_diff, compare_groups, resolve_groups

        a, b = (query.get("a") or "").strip(), (query.get("b") or "").strip()
        if not a or not b:
            raise BadRequest("compare needs a= and b= (run ids, versions, branches or commits)")
        metric = query.get("metric") or None
        groups = resolve_groups(self.store, self.table(), [a, b])
        blocks = [(name, parts) for name, parts in by_experiment(groups) if len(parts) == len(groups)]
        reports = [{"experiment": name, **_clean(compare_groups(parts, metric))} for name, parts in blocks]
        try:
            diff = code_diff(self.store, groups[0], groups[1], full=True)
        except UsageError as error:
            diff = f"(no code diff: {error})"
        groups_info = [
            {
                "label": g.label,
                "kind": g.kind,
                "runs": g.table.num_rows,
                "versions": sorted(set(g.table["version"].to_pylist())),
            }
            for g in groups
        ]
        return {"groups": groups_info, "reports": reports, "diff": diff}


def _castable(kind: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_timestamp(kind)
    )


def _clean(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_clean(v) for v in data]
    return json_value(data)
