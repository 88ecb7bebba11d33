"""``gitxp ui --export report.html -e EXP``: the dashboard as one self-contained HTML file.

The file inlines the stylesheet, uPlot, ECharts, the dashboard's own script and a JSON snapshot of the
experiment (its runs, down-sampled curves, the sweep view and a comparison of its two latest versions), so it
opens from disk with no server: attach it to a pull request or keep it as a CI artifact. The snapshot is
embedded as JSON with ``<``, ``>`` and ``&`` escaped, so no recorded value can close the script element.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.ui.api import Dashboard

if TYPE_CHECKING:
    from gitxp.store import Store

__all__ = ["write_report", "build_snapshot"]

STATIC = Path(__file__).parent / "static"
CURVE_WIDTH = 400

# Answers the dashboard's /api calls from the embedded snapshot (paging, sorting and text filter in the page).
SHIM = r"""
(function () {
  const snap = JSON.parse(document.getElementById("gitxp-data").textContent);
  function cmp(a, b) {
    if (a === b) return 0; if (a === null || a === undefined) return 1; if (b === null || b === undefined) return -1;
    return a < b ? -1 : 1;
  }
  window.GITXP_DATA = {
    title: snap.title,
    async answer(path, p) {
      if (path === "experiments" || path === "info") return snap.experiments;
      if (path === "runs") {
        if (p.where) throw new Error("where filters need the live dashboard (gitxp ui); use the text filter");
        let rows = snap.runs.rows.slice();
        if (p.q) { const q = p.q.toLowerCase(); rows = rows.filter((r) => Object.values(r).some((v) => v !== null && String(v).toLowerCase().includes(q))); }
        if (p.status) rows = rows.filter((r) => r.status === p.status);
        const keys = [p.group, ...(p.sort || "").split(",")].filter(Boolean);
        if (keys.length) rows.sort((a, b) => { for (const k of keys) { const d = k.startsWith("-"); const c = cmp(a[k.replace(/^-/, "")], b[k.replace(/^-/, "")]); if (c) return d ? -c : c; } return 0; });
        const offset = Number(p.offset || 0), limit = Number(p.limit || 100);
        const groups = p.group ? Object.entries(rows.reduce((m, r) => (m[r[p.group]] = (m[r[p.group]] || 0) + 1, m), {})).map(([value, runs]) => ({ value, runs })) : [];
        return { ...snap.runs, rows: rows.slice(offset, offset + limit), total: rows.length, offset, groups };
      }
      if (path.startsWith("run/")) {
        const id = decodeURIComponent(path.slice(4)); const r = snap.runs.rows.find((x) => x.run_id.startsWith(id));
        if (!r) throw new Error(`no run ${id} in this report`);
        return { record: r, commit_message: "", diff: (snap.diffs || {})[r.run_id] || "", log: "(logs are not part of the report)", log_size: 0, metrics: [] };
      }
      if (path === "curves") {
        const ids = (p.runs || "").split(",");
        const series = snap.curves.filter((s) => ids.some((i) => s.run.startsWith(i)));
        return { series: JSON.parse(JSON.stringify(series)), metrics: [...new Set(series.map((s) => s.metric))].sort() };
      }
      if (path === "sweep") return snap.sweep;
      if (path === "compare") {
        // only the comparisons computed when the report was written: never another pair's numbers
        const all = snap.comparisons || [];
        if (!all.length) throw new Error("this report has a single version: nothing to compare");
        if (!p.a && !p.b) return all[0].data;
        const found = all.find((c) => c.a === p.a && c.b === p.b);
        if (!found) throw new Error(`this report holds only these comparisons: ${all.map((c) => `${c.a} vs ${c.b}`).join(", ")} (gitxp ui compares any two)`);
        return found.data;
      }
      if (path === "comparisons") return { comparisons: (snap.comparisons || []).map((c) => ({ a: c.a, b: c.b })) };
      if (path === "compare_runs") {
        const ids = (p.runs || "").split(",").filter(Boolean);
        const runs = ids.map((i) => snap.runs.rows.find((x) => x.run_id.startsWith(i)));
        if (runs.some((r) => !r)) throw new Error("a selected run is not in this report");
        const keys = (g) => [...new Set(runs.flatMap((r) => Object.keys(r).filter((k) => k.startsWith(g + ".") && r[k] !== null)))].sort();
        const params = keys("params"), results = keys("results"), facts = ["experiment", "status", "version", "branch", "started", "duration"];
        const differ = [...facts.filter((k) => k !== "started" && k !== "duration"), ...params, ...results].filter((k) => new Set(runs.map((r) => JSON.stringify(r[k] ?? null))).size > 1);
        const strip = (r, ks, n) => Object.fromEntries(ks.filter((k) => r[k] !== null && r[k] !== undefined).map((k) => [k.slice(n), r[k]]));
        return { runs: runs.map((r) => ({ run_id: r.run_id, ...Object.fromEntries(facts.map((k) => [k, r[k] ?? null])), params: strip(r, params, 7), results: strip(r, results, 8) })),
          params: params.map((k) => k.slice(7)), results: results.map((k) => k.slice(8)), differ };
      }
      throw new Error(`not in this report: ${path}`);
    },
  };
})();
"""


def _safe_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def build_snapshot(store: Store, experiment: str, metric: str | None = None) -> dict[str, Any]:
    """The data the report shows: the experiment's runs, their curves, its sweep view and a comparison."""
    from gitxp.query import check_experiments

    board = Dashboard(store)
    check_experiments(board.table(), [experiment])
    runs = board.runs({"experiment": experiment, "limit": "1000"})
    total = runs["total"]
    while len(runs["rows"]) < total:
        more = board.runs({"experiment": experiment, "limit": "1000", "offset": str(len(runs["rows"]))})
        runs["rows"] += more["rows"]
        runs["short_ids"] = {**runs.get("short_ids", {}), **more.get("short_ids", {})}
    ids = [r["run_id"] for r in runs["rows"]]
    curves: list[dict[str, Any]] = []
    for start in range(0, min(len(ids), 200), 50):
        chunk = ids[start : start + 50]
        curves += board.curves({"runs": ",".join(chunk), "width": str(CURVE_WIDTH)})["series"]
    sweep = board.sweep({"experiment": experiment, "metric": metric or "", "importance": "wait"})
    versions: list[str] = []
    for row in sorted(runs["rows"], key=lambda r: str(r.get("started")), reverse=True):
        if row.get("version") and row["version"] not in versions:
            versions.append(row["version"])
    comparisons = []  # each version against the one before it, newest first (at most 5 pairs)
    for newer, older in list(zip(versions, versions[1:]))[:5]:
        data = board.compare({"a": older, "b": newer, "metric": metric or ""})
        data["reports"] = [r for r in data["reports"] if r["experiment"] == experiment]
        comparisons.append({"a": older, "b": newer, "data": data})
    diffs = {}
    for rid in ids[:200]:
        patch = store.run_file(rid, "diff.patch")
        if patch:
            from gitxp.version.ipynb import readable_patch

            diffs[rid] = readable_patch(store.repo, patch).decode(errors="replace")
    return {
        "title": f"gitxp report: {experiment} ({total} runs)",
        "experiments": {"experiments": [{"name": experiment, "runs": total}]},
        "runs": runs,
        "curves": curves,
        "sweep": sweep,
        "comparisons": comparisons,
        "diffs": diffs,
    }


def write_report(
    store: Store, path: str | os.PathLike[str], experiment: str, metric: str | None = None
) -> int:
    """Write the self-contained report; returns the number of runs in it."""
    snapshot = build_snapshot(store, experiment, metric)
    css = (STATIC / "app.css").read_text() + (STATIC / "vendor" / "uPlot.min.css").read_text()
    scripts = [
        (STATIC / "vendor" / "uPlot.iife.min.js").read_text(),
        (STATIC / "vendor" / "echarts.min.js").read_text(),
        SHIM,
        (STATIC / "app.js").read_text(),
    ]
    for script in scripts:
        if "</script" in script.lower():
            raise UsageError("a bundled script contains '</script': re-vendor the assets")
    title = snapshot["title"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    html = [
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">',
        f"<title>{title}</title><style>{css}</style></head><body>",
        '<header class="top"><a class="brand" href="#/runs">gitxp</a><nav><a href="#/runs" data-page="runs">Runs</a>',
        '<a href="#/sweep" data-page="sweep">Sweep</a><a href="#/compare" data-page="compare">Compare</a></nav>',
        '<span id="repo" class="muted"></span><span id="status" class="muted right"></span></header><main id="main"></main>',
        f'<script type="application/json" id="gitxp-data">{_safe_json(snapshot)}</script>',
    ]
    html += [f"<script>{script}</script>" for script in scripts]
    html.append("</body></html>\n")
    Path(path).write_text("".join(html), encoding="utf-8")
    return int(snapshot["runs"]["total"])
