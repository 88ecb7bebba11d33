"""``gitxp report``: base vs head as markdown that reads well as a pull-request comment.

Per experiment and metric: the mean (± std) of each side, the difference of means with its 95% bootstrap CI (the
statistics of ``gitxp compare``), a clear mark (better / worse / no significant change), the run counts, the
versions (linked to their commits with ``link_base``) and a unicode sparkline of each side's mean curve. Sides are
selected as in ``gitxp compare``: a branch (the runs recorded on it), a commit or tag (the runs of that commit), a
version id or a run id.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from gitxp.compare import Group, by_experiment, check_metric, compare_groups, resolve_groups
from gitxp.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["build_report", "render_markdown", "sparkline", "mark"]

BLOCKS = "▁▂▃▄▅▆▇█"
MARKS = {
    "better": "✅ better",
    "worse": "🔴 worse",
    "same": "⚪ no significant change",
    None: "❔ too few runs",
}


def sparkline(values: list[float], low: float, high: float, width: int = 16) -> str:
    """``values`` as unicode blocks on the scale ``low``..``high`` (shared by both sides), at most ``width``
    characters (averaged into buckets when longer)."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [
            statistics.fmean(values[int(i * size) : max(int(i * size) + 1, int((i + 1) * size))])
            for i in range(width)
        ]
    span = high - low
    return "".join(
        BLOCKS[min(len(BLOCKS) - 1, int((v - low) / span * len(BLOCKS))) if span > 0 else 0] for v in values
    )


def mark(ci: list[float] | None, goal: str) -> str | None:
    """``better``/``worse``/``same`` (the CI of head - base includes 0), None without a CI."""
    if ci is None:
        return None
    if ci[0] <= 0 <= ci[1]:
        return "same"
    return "better" if (ci[0] > 0) == (goal == "max") else "worse"


def _mean_curve(store: Store, run_ids: list[str], name: str, limit: int = 50) -> list[float]:
    """The mean of the runs' curves ``name`` per step (steps every run reached only counted by those that did)."""
    sums: dict[int, list[float]] = {}
    for run_id in run_ids[:limit]:
        points = store.metrics(run_id)
        if not points.num_rows:
            continue
        for step, curve, value in zip(
            points["step"].to_pylist(), points["name"].to_pylist(), points["value"].to_pylist()
        ):
            if curve == name and isinstance(value, (int, float)) and value == value:
                sums.setdefault(int(step), []).append(float(value))
    return [statistics.fmean(sums[step]) for step in sorted(sums)]


def _versions(table: pa.Table, link_base: str | None) -> list[str]:
    seen: dict[str, str | None] = {}
    for version, commit in zip(table["version"].to_pylist(), table["commit"].to_pylist()):
        seen.setdefault(version, commit)
    out = []
    for version, commit in sorted(seen.items()):
        if link_base and commit:
            out.append(f"[`{version}`]({link_base.rstrip('/')}/commit/{commit})")
        else:
            out.append(f"`{version}`")
    return out


def build_report(
    store: Store,
    table: pa.Table,
    base: str,
    head: str,
    *,
    metrics: list[str] | None = None,
    link_base: str | None = None,
) -> dict[str, Any]:
    """The report as data: one block per experiment found on both sides, one row per metric."""
    groups = resolve_groups(store, table, [base, head])
    for metric in metrics or []:
        check_metric(groups, metric)
    blocks = []
    for experiment, parts in by_experiment(groups):
        if len(parts) < 2:
            side = "base" if parts[0].label == base else "head"
            blocks.append(
                {"experiment": experiment, "note": f"only on the {side} ({parts[0].table.num_rows} runs)"}
            )
            continue
        entries = []
        for metric in metrics or [None]:
            from gitxp.objective import column, parse

            if metric and not any(column(*parse(metric), g.table.column_names) for g in parts):
                continue
            entries += compare_groups(parts, metric)["metrics"]
        blocks.append({"experiment": experiment, "rows": [_row(store, parts, entry) for entry in entries]})
        blocks[-1]["versions"] = {g.label: _versions(g.table, link_base) for g in parts}
        blocks[-1]["runs"] = {g.label: g.table.num_rows for g in parts}
    return {"base": base, "head": head, "experiments": blocks}


def _row(store: Store, parts: list[Group], entry: dict[str, Any]) -> dict[str, Any]:
    name, goal = entry["name"], entry["goal"]
    a, b = entry["groups"]
    diff = entry["differences"][0] if entry["differences"] else {"mean_diff": None, "ci95": None}
    curve = name.rsplit(".", 1)[0] if name.endswith((".min", ".max", ".last")) else name
    curves = [_mean_curve(store, g.run_ids, curve) for g in parts]
    points = [v for c in curves for v in c]
    lines = [sparkline(c, min(points), max(points)) if points else "" for c in curves]
    return {
        "metric": name,
        "goal": goal,
        "base_mean": a["mean"],
        "base_std": a["std"],
        "base_runs": a["runs"],
        "head_mean": b["mean"],
        "head_std": b["std"],
        "head_runs": b["runs"],
        "diff": diff["mean_diff"],
        "ci95": diff["ci95"],
        "mark": mark(diff["ci95"], goal),
        "curves": {"base": lines[0], "head": lines[1]},
    }


def _num(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" + (f" ± {std:.2g}" if std is not None else "")


def render_markdown(report: dict[str, Any]) -> str:
    base, head = report["base"], report["head"]
    lines = [f"### gitxp: `{head}` vs `{base}`", ""]
    worse = sum(1 for b in report["experiments"] for r in b.get("rows", []) if r["mark"] == "worse")
    better = sum(1 for b in report["experiments"] for r in b.get("rows", []) if r["mark"] == "better")
    lines.append(f"**{worse} worse, {better} better** (95% bootstrap CI of the difference of means)\n")
    for block in report["experiments"]:
        if "note" in block:
            lines.append(f"**experiment `{block['experiment']}`**: {block['note']}, nothing to compare\n")
            continue
        versions = "; ".join(f"{label}: {', '.join(v)}" for label, v in block["versions"].items())
        lines.append(f"**experiment `{block['experiment']}`** — versions {versions}\n")
        lines.append(
            f"| metric | `{base}` mean ± std | `{head}` mean ± std | head − base (95% CI) | | runs | curves |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for row in block["rows"]:
            ci = row["ci95"]
            diff = "–" if row["diff"] is None else f"{row['diff']:+.4g}"
            if ci:
                diff += f" [{ci[0]:+.3g}, {ci[1]:+.3g}]"
            curves = row["curves"]
            chart = f"`{curves['base']}` → `{curves['head']}`" if curves["base"] or curves["head"] else ""
            lines.append(
                f"| {row['metric']} ({row['goal']}) | {_num(row['base_mean'], row['base_std'])} | "
                f"{_num(row['head_mean'], row['head_std'])} | {diff} | {MARKS[row['mark']]} | "
                f"{row['base_runs']} → {row['head_runs']} | {chart} |"
            )
        lines.append("")
    lines.append("<sub>generated by `gitxp report`; curves: mean per step, base → head, on one scale</sub>")
    return "\n".join(lines) + "\n"
