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

from gitxp.compare import Group, by_experiment, check_metric, compare_groups, resolve_side, same_version
from gitxp.errors import UsageError
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


def resolve_sides(
    store: Store,
    table: pa.Table,
    base: str,
    head: str,
    *,
    base_tip: bool = False,
    all_versions: bool = False,
    reruns: bool = False,
) -> tuple[list[Group], dict[str, Any]]:
    """The base and head groups of a report, and what was chosen (``sides``).

    The head is resolved as in ``gitxp compare`` (a branch: its newest version with runs). The base, when it is a
    revision and the head has a commit, is taken at the merge-base of the two (or its nearest ancestor with
    runs): what the pull request changed, not what the base branch did since; ``base_tip`` takes the base's tip
    instead."""
    from gitxp.compare import side_at
    from gitxp.query.ancestry import merge_base

    head_group = resolve_side(store, table, head, all_versions=all_versions, reruns=reruns)
    sides: dict[str, Any] = {"head": _side_info(head_group), "base": None}
    found = None if base_tip or head_group.commit is None else _base_revision(store, table, base)
    if found is not None:
        sha, _, ref = found
        point = merge_base(store, sha, head_group.commit or "")
        if point is not None:
            base_group = side_at(
                store, table, base, point, "merge-base", all_versions=all_versions, reruns=reruns, ref=ref
            )
            sides["base"] = {**_side_info(base_group), "merge_base": point, "base_tip": sha}
    if sides["base"] is None:
        base_group = resolve_side(store, table, base, all_versions=all_versions, reruns=reruns)
        info = _side_info(base_group)
        if found is not None:  # unrelated histories, or a shallow clone that does not reach the merge-base
            info["no_merge_base"] = True
        sides["base"] = info
    if base_group.label == head_group.label:
        raise UsageError(f"{base!r} is given twice")
    if head_group.kind == "run" and base_group.kind != "run":  # a run is on its own side only
        from gitxp.compare.sides import without_runs

        base_group = without_runs(base_group, head_group.run_ids)
        sides["base"] = {**sides["base"], **_side_info(base_group)}
    return [base_group, head_group], sides


def _base_revision(store: Store, table: pa.Table, base: str) -> tuple[str, str, str | None] | None:
    """``base`` as a revision (None when it is a version id or a run id: those are used as they are)."""
    import pyarrow.compute as pc

    from gitxp.compare import resolve_revision

    if table.num_rows and pc.any(pc.equal(table["version"], base)).as_py():
        return None
    return resolve_revision(store, base)


def _side_info(group: Group) -> dict[str, Any]:
    return {
        "label": group.label,
        "kind": group.kind,
        "ref": group.ref,
        "tip": group.tip,
        "versions": group.versions(),
        "runs": group.table.num_rows,
        "left_out": group.left_out,
        "pooled": group.pooled,
        "excluded": group.excluded,
        "notes": group.notes(),
        "commits": sorted({c.commit for c in group.choices.values() if c.commit}),
        "off_history": group.off_history,
    }


def build_report(
    store: Store,
    table: pa.Table,
    base: str,
    head: str,
    *,
    metrics: list[str] | None = None,
    link_base: str | None = None,
    base_tip: bool = False,
    all_versions: bool = False,
    reruns: bool = False,
) -> dict[str, Any]:
    """The report as data: the sides (see :func:`resolve_sides`), one block per experiment found on both sides,
    one row per metric."""
    groups, sides = resolve_sides(
        store, table, base, head, base_tip=base_tip, all_versions=all_versions, reruns=reruns
    )
    for name in metrics or []:
        check_metric(groups, name)
    blocks: list[dict[str, Any]] = []
    for experiment, parts in by_experiment(groups):
        if len(parts) < 2:
            side = "base" if parts[0] is not None and parts[0].label == base else "head"
            blocks.append(
                {"experiment": experiment, "note": f"only on the {side} ({_runs(parts[0].table.num_rows)})"}
            )
            continue
        same = same_version(parts)
        if same is not None:
            blocks.append({"experiment": experiment, "note": f"base and head are both version `{same}`"})
            continue
        entries = []
        wanted: list[str | None] = list(metrics) if metrics else [None]  # None: every metric
        for metric in wanted:
            from gitxp.query.objective import column, parse

            if metric and not any(column(*parse(metric), g.table.column_names) for g in parts):
                continue
            entries += compare_groups(parts, metric)["metrics"]
        blocks.append({"experiment": experiment, "rows": [_row(store, parts, entry) for entry in entries]})
        blocks[-1]["versions"] = {g.label: _versions(g.table, link_base) for g in parts}
        blocks[-1]["runs"] = {g.label: g.table.num_rows for g in parts}
        blocks[-1]["sides"] = {
            role: _choice_text(g) for role, g in zip(("base", "head"), parts) if _choice_text(g)
        }
    return {"base": base, "head": head, "sides": sides, "experiments": blocks}


def _choice_text(group: Group) -> str:
    """What one experiment's side left out: ``1 older version left out``, ``pooled (--all-versions)``."""
    choice = next(iter(group.choices.values()), None)
    if choice is None:
        return ""
    if choice.pooled:
        return f"{len(choice.versions)} versions pooled (--all-versions)"
    older, same = choice.left_out - choice.same_commit, choice.same_commit
    parts = [f"{older} older version{'' if older == 1 else 's'}"] if older else []
    if same:
        parts.append(f"{same} other version{'' if same == 1 else 's'} of its commit")
    return " and ".join(parts) + " left out" if parts else ""


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


def _side_line(role: str, side: dict[str, Any], other: str) -> str:
    """``base: merge-base of `main` and `feature`: `1a2b3c4` (4 runs)``: which version a side stands on."""
    label = f"`{side['label']}`" + (f" ({side['ref']})" if side.get("ref") else "")
    versions = side["versions"]
    used = ", ".join(f"`{v}`" for v in versions) if len(versions) <= 3 else f"{len(versions)} versions"
    runs = f"{side['runs']} run{'' if side['runs'] == 1 else 's'}"
    start = side.get("merge_base") or side.get("tip")
    if side.get("merge_base"):
        text = f"{role}: merge-base of {label} and `{other}`: "
    else:
        text = f"{role}: {label}: "
    if side.get("pooled"):
        return text + f"{used}, {runs}, every version on its history pooled (--all-versions)"
    commits = {c for c in side.get("commits", []) if c}
    if start and commits and start not in commits and side["kind"] != "version":
        text += f"`{start[:7]}` has no finished runs; nearest ancestor with runs: {used} ({runs})"
    else:
        text += f"{used} ({runs})"
    if side.get("merge_base") and side.get("base_tip") != side["merge_base"]:
        text += f"; `{side['label']}` has moved on since (--base-tip compares with its tip)"
    if side.get("no_merge_base"):
        text += (
            f" — no merge-base with `{other}` in this clone (unrelated or shallow history): its tip is used"
        )
    return text


def _sets(excluded: dict[str, Any]) -> str:
    return ", ".join(
        f"`{k}` ({n} run{'' if n == 1 else 's'})" for k, n in excluded.get("overrides", {}).items()
    )


def render_markdown(report: dict[str, Any]) -> str:
    base, head = report["base"], report["head"]
    lines = [f"### gitxp: `{head}` vs `{base}`", ""]
    sides = report.get("sides") or {}
    for role, other in (("base", head), ("head", base)):
        side = sides.get(role)
        if side:
            lines.append(_side_line(role, side, other) + "  ")
            excluded = side.get("excluded") or {}
            if excluded.get("reruns"):
                count, overrides = excluded["reruns"], excluded.get("with_overrides", 0)
                lines.append(
                    f"{role}: {count} rerun{'' if count == 1 else 's'} left out"
                    + (f" ({overrides} with overrides: other params, {_sets(excluded)})" if overrides else "")
                    + ": reruns of other runs are not samples (--reruns counts them)  "
                )
            if side.get("off_history"):
                lines.append(
                    f"{role}: {side['off_history']} runs recorded on `{side['label']}` at commits no longer on "
                    "its history (rebased or reset) not used  "
                )
    if sides:
        lines.append("")
    worse = sum(1 for b in report["experiments"] for r in b.get("rows", []) if r["mark"] == "worse")
    better = sum(1 for b in report["experiments"] for r in b.get("rows", []) if r["mark"] == "better")
    lines.append(f"**{worse} worse, {better} better** (95% bootstrap CI of the difference of means)\n")
    for block in report["experiments"]:
        if "note" in block:
            lines.append(f"**experiment `{block['experiment']}`**: {block['note']}, nothing to compare\n")
            continue
        notes = block.get("sides", {})
        versions = "; ".join(
            f"{label}: {', '.join(v)}" + (f" ({notes[role]})" if role in notes else "")
            for role, (label, v) in zip(("base", "head"), block["versions"].items())
        )
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


def _runs(n: int) -> str:
    return f"{n} run{'' if n == 1 else 's'}"
