"""Comparing versions, branches, commits and runs.

Each selector names a group of runs (:mod:`gitxp.compare.sides`): a run id (prefix) is that run; a version id
(``a1b2c3d+d.9f8e2c1``) the runs of that version; a commit the version recorded at it; a branch, tag or ``HEAD``
the newest version on its history that has runs, unless ``all_versions`` pools them. When every selector is a
single run, runs are compared key by key (params, results, meta side by side). Otherwise
groups are compared on their summary metric: runs, best, mean, std, median, the best run of each, the params
whose values differ between groups, and the difference of means against the first group with a 95% bootstrap
confidence interval (:mod:`gitxp.compare.stats`) — so "B is better" comes with error bars.
:mod:`gitxp.compare.report` writes base vs head as markdown for a pull request (``gitxp report``).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from gitxp.compare.sides import (
    Choice,
    Group,
    by_experiment,
    check_metric,
    resolve_groups,
    resolve_revision,
    resolve_side,
    same_version,
    side_at,
)
from gitxp.compare.stats import bootstrap_ci
from gitxp.query import objective, since_filter
from gitxp.store import Store
from gitxp.version.capture import require_commit, version_tree

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [  # the sides (gitxp.compare.sides) are re-exported: gitxp.compare is where callers find them
    "Group",
    "Choice",
    "side_at",
    "resolve_side",
    "resolve_revision",
    "same_version",
    "resolve_groups",
    "by_experiment",
    "check_metric",
    "compare_groups",
    "compare_by_experiment",
    "compare",
    "compare_runs",
    "code_diff",
    "since_filter",
    "bootstrap_ci",
]

VOLATILE_META = {
    "meta.pid",
    "meta.output_dir",
    "meta.argv",
    "meta.command",
    "meta.sweep",
    "meta.exit_code",
    "meta.error.traceback",
}


def _numbers(values: list[Any]) -> list[float]:
    return [
        float(v)
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


def _scored(table: pa.Table, column: str) -> list[tuple[float, str]]:
    """``(value, run id)`` of the runs whose ``column`` holds a finite number (filtered by Arrow: a group can be
    50,000 runs)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column not in table.column_names or not table.num_rows:
        return []
    cells = table[column]
    if not (pa.types.is_integer(cells.type) or pa.types.is_floating(cells.type)):
        ids = table["run_id"].to_pylist()
        return [(float(v), rid) for v, rid in zip(cells.to_pylist(), ids) if _numbers([v])]
    floats = pc.cast(cells, pa.float64())
    keep = pc.fill_null(pc.is_finite(floats), False)
    return list(zip(pc.filter(floats, keep).to_pylist(), pc.filter(table["run_id"], keep).to_pylist()))


def _metrics(groups: list[Group], metric: str | None) -> list[tuple[str, str]]:
    """The (name, goal) pairs to compare: ``metric`` if given, else the runs' recorded summary metric, else every
    numeric result."""
    if metric:
        name, goal = objective.parse(metric)
        return [(name, goal if goal in ("min", "max") else "max")]
    recorded = Counter(
        m
        for g in groups
        if "meta.metric" in g.table.column_names
        for m in g.table["meta.metric"].to_pylist()
        if m
    )
    if recorded:
        name, _, goal = recorded.most_common(1)[0][0].rpartition(":")
        return [(name, goal if goal in ("min", "max") else "max")]
    names: list[str] = []
    for group in groups:
        for column in group.table.column_names:
            if (
                column.startswith("results.")
                and column[8:] not in names
                and _numbers(group.table[column].to_pylist())
            ):
                names.append(column[8:])
    return [(n, "max") for n in names]


def compare_groups(groups: list[Group], metric: str | None = None) -> dict[str, Any]:
    """The version comparison report (see the module docstring)."""
    report: dict[str, Any] = {"kind": "groups", "groups": [], "metrics": [], "params": []}
    for group in groups:
        report["groups"].append(
            {
                "label": group.label,
                "kind": group.kind,
                "runs": group.table.num_rows,
                "versions": group.versions(),
                "run_ids": group.run_ids,
                "left_out": group.left_out,
                "pooled": group.pooled,
                "excluded": group.excluded,
                "notes": group.notes(),
            }
        )
    for name, goal in _metrics(groups, metric):
        entry: dict[str, Any] = {"name": name, "goal": goal, "groups": [], "differences": []}
        values = []
        for group in groups:
            column = objective.column(name, goal, group.table.column_names) or f"results.{name}"
            if column != f"results.{name}":
                entry["name"] = column[len("results.") :]  # the curve summary it really is: loss.min
            scored = _scored(group.table, column)
            nums = [v for v, _ in scored]
            values.append(nums)
            best = (min if goal == "min" else max)(scored) if scored else None
            entry["groups"].append(
                {
                    "label": group.label,
                    "runs": len(nums),
                    "best": best[0] if best else None,
                    "best_run": best[1] if best else None,
                    "mean": statistics.fmean(nums) if nums else None,
                    "std": statistics.stdev(nums) if len(nums) > 1 else None,
                    "median": statistics.median(nums) if nums else None,
                }
            )
        for group, nums in zip(groups[1:], values[1:]):
            if not nums or not values[0]:
                continue
            diff = statistics.fmean(nums) - statistics.fmean(values[0])
            ci = bootstrap_ci(values[0], nums)
            verdict = None
            if ci is not None and (ci[0] > 0 or ci[1] < 0):
                improves = (ci[0] > 0) == (goal == "max")
                verdict = f"{group.label} is {'better' if improves else 'worse'} than {groups[0].label}"
            elif ci is not None:
                verdict = "no significant difference"
            entry["differences"].append(
                {
                    "a": groups[0].label,
                    "b": group.label,
                    "mean_diff": diff,
                    "ci95": list(ci) if ci else None,
                    "verdict": verdict,
                    "on": f"{groups[0].stands_on(len(values[0]))} vs {group.stands_on(len(nums))}",
                }
            )
        report["metrics"].append(entry)
    params = sorted({c for g in groups for c in g.table.column_names if c.startswith("params.")})
    for column in params:
        per_group, seen = {}, {}
        for group in groups:
            seen[group.label] = _value_counts(group.table, column)
            per_group[group.label] = sorted(seen[group.label])
        if len({tuple(v) for v in per_group.values()}) > 1:
            counts = {  # every value with its run count, most runs first (a sweep's unique values: sorted)
                label: sorted(found.items(), key=lambda item: (-item[1], item[0]))
                if any(n > 1 for n in found.values())
                else [(value, 1) for value in per_group[label]]
                for label, found in seen.items()
            }
            report["params"].append({"name": column[len("params.") :], "values": per_group, "counts": counts})
    return report


def compare_by_experiment(groups: list[Group], metric: str | None = None) -> dict[str, Any]:
    """:func:`compare_groups` per experiment (runs of different experiments are never pooled): a single
    experiment gives its plain report (with its name), several ``{"kind": "experiments", "experiments": [...]}``;
    an experiment found in one group only, or where every group stands on the same version, is a note."""
    reports: list[dict[str, Any]] = []
    for name, parts in by_experiment(groups):
        same = same_version(parts) if len(parts) > 1 else None
        if same is not None:
            labels = " and ".join(g.label for g in parts)
            reports.append(
                {"experiment": name, "note": f"{labels} are both version {same}: nothing to compare"}
            )
            continue
        if len(parts) < 2:
            only = ", ".join(f"{g.label} ({_runs(g.table.num_rows)})" for g in parts)
            reports.append({"experiment": name, "note": f"only in {only}: nothing to compare it with"})
            continue
        if metric and not any(
            objective.column(*objective.parse(metric), g.table.column_names) for g in parts
        ):
            reports.append(
                {"experiment": name, "note": f"no result {objective.parse(metric)[0]!r} in this experiment"}
            )
            continue
        reports.append({"experiment": name, **compare_groups(parts, metric)})
    if len(reports) == 1 and "note" not in reports[0]:
        return reports[0]
    return {"kind": "experiments", "experiments": reports}


def compare(
    *selectors: str,
    metric: str | None = None,
    experiment: str | list[str] | None = None,
    status: str | None = None,
    where: str | None = None,
    all_versions: bool = False,
    reruns: bool = False,
    path: str | None = None,
) -> dict[str, Any]:
    """``gitxp compare A B ...`` from Python: the report ``--format json`` prints, with the same sides.

    >>> gitxp.compare.compare("main", "feature", metric="acc:max")  # doctest: +SKIP

    Each selector is a run id, a version id, a commit, or a branch/tag/``HEAD`` — its newest version with runs;
    ``all_versions`` pools every version on its history, ``reruns`` counts reruns of other runs (see
    :func:`resolve_groups`). Every group in the result says how it was chosen (``notes``) and each verdict what it
    stands on (``on``)."""
    from gitxp.query import check_experiments, select

    store = Store.open(path)
    table = store.table()
    names = [experiment] if isinstance(experiment, str) else list(experiment or [])
    if names and table.num_rows:
        check_experiments(table, names)
    table = select(store, table, experiment=names or None, status=status, where=where)
    groups = resolve_groups(store, table, list(selectors), all_versions=all_versions, reruns=reruns)
    if all(g.kind == "run" for g in groups):
        return compare_runs(groups)
    if metric:
        check_metric(groups, metric)
    return compare_by_experiment(groups, metric)


def _value_counts(table: pa.Table, column: str) -> Counter[str]:
    """How many runs have each value of ``column`` (values as ``repr``; None left out), counted by Arrow."""
    import pyarrow.compute as pc

    if column not in table.column_names or not table.num_rows:
        return Counter()
    try:
        counted = pc.value_counts(table[column])
        pairs = zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist())
        seen: Counter[str] = Counter()
        for value, count in pairs:
            if value is not None:
                seen[repr(value)] += count
        return seen
    except Exception:  # noqa: BLE001 - a type Arrow cannot count (nested lists): count in Python
        return Counter(repr(v) for v in table[column].to_pylist() if v is not None)


def compare_runs(groups: list[Group], *, show_all: bool = False) -> dict[str, Any]:
    """Runs side by side: one row per key; constant rows (and volatile meta) hidden unless ``show_all``."""
    rows = [g.table.to_pylist()[0] for g in groups]
    keys = ["version", "status", "duration"]
    columns = sorted(
        {c for r in rows for c in r},
        key=lambda c: (
            ("params.", "results.", "meta.").index(c.split(".", 1)[0] + ".")
            if c.split(".", 1)[0] in ("params", "results", "meta")
            else 3,
            c,
        ),
    )
    keys += [c for c in columns if c.startswith(("params.", "results.", "meta."))]
    table = []
    for key in keys:
        values = [r.get(key) for r in rows]
        differs = len({repr(v) for v in values}) > 1
        if not show_all and (key == "duration" or key in VOLATILE_META or not differs):
            continue
        if all(v is None for v in values):
            continue
        table.append({"key": key, "values": values, "differs": differs})
    return {"kind": "runs", "runs": [r["run_id"] for r in rows], "rows": table}


def group_by(table: pa.Table, column: str, metric: str | None = None) -> list[dict[str, Any]]:
    """``ls --by``: one row per value of ``column`` with run counts and, per group, its own objective (the
    ``--metric`` its runs recorded, e.g. each experiment's), its best and mean: ``objective, best, mean``."""
    import pyarrow as pa

    keys = table[column].to_pylist()
    groups: dict[Any, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key if isinstance(key, str) or key is None else repr(key), []).append(index)
    out = []
    for value, indexes in groups.items():
        members = table.take(pa.array(indexes))
        status = members["status"].to_pylist()
        item: dict[str, Any] = {
            column: value,
            "runs": members.num_rows,
            "finished": status.count("finished"),
            "failed": sum(1 for s in status if s in ("failed", "crashed")),
            "objective": None,
            "best": None,
            "mean": None,
        }
        for name, goal in _metrics([Group(str(value), "all", members)], metric)[:1]:
            # per run, as objective.lookup: its result NAME, else its curve summary NAME.goal (in a table of
            # several experiments, the other's plain `loss` column is there, all null for this group)
            names = (f"results.{name}", f"results.{objective.summary_name(name, goal)}")
            candidates = [c for c in names if c in members.column_names]
            columns = [members[c].to_pylist() for c in candidates]
            values = [next((v for v in row if v is not None), None) for row in zip(*columns)]
            nums = _numbers(values) if columns else []
            used = [c for c, col in zip(candidates, columns) if _numbers(col)]
            found = used[0] if len(used) == 1 else None
            item["objective"] = f"{found[len('results.') :] if found else name}:{goal}"
            item["best"] = (min if goal == "min" else max)(nums) if nums else None
            item["mean"] = statistics.fmean(nums) if nums else None
        out.append(item)
    return out


def _runs(n: int) -> str:
    return f"{n} run{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------- code


def code_diff(store: Store, a: Group, b: Group, *, full: bool = False) -> str:
    """The code difference (commits and uncommitted patches) of the versions compared for the experiment with
    most runs on both sides in different versions, named when the groups hold several experiments."""
    shared = [(n, p) for n, p in by_experiment([a, b]) if len(p) == 2]
    shared = [(n, p) for n, p in shared if p[0].versions() != p[1].versions()] or shared
    head = ""
    if shared and (len(a.choices) > 1 or len(b.choices) > 1):
        name, (a, b) = shared[0]
        sides = " -> ".join(f"{g.label} {'+'.join(g.versions())}" for g in (a, b))
        head = f"# experiment {name}: {sides}\n"
    diff = _diff(store, a, b, full)
    return head + diff if diff.strip() else diff


def _tree(store: Store, group: Group) -> str:
    """The code tree of a group: a run's own version, or the group's single version (its first if several)."""
    first = group.table.slice(0, 1).to_pylist()[0]
    commit = require_commit(store.repo, first.get("commit"), f"{group.label}")
    return version_tree(store.repo, commit, store.run_file(first["run_id"], "diff.patch") or b"")


def _diff(store: Store, a: Group, b: Group, full: bool) -> str:
    tree_a, tree_b = _tree(store, a), _tree(store, b)
    if b".ipynb" in store.repo.git("diff", "--name-only", "-z", tree_a, tree_b):
        from gitxp.version.ipynb import readable_patch, stat

        args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--full-index", tree_a, tree_b]
        patch = readable_patch(store.repo, store.repo.git(*args))  # notebooks as cell sources, no outputs
        return (patch.decode(errors="replace") if full else stat(patch)) if patch.strip() else ""
    args = ["diff", "--no-color", "--no-ext-diff"] + ([] if full else ["--stat"]) + [tree_a, tree_b]
    return store.repo.git(*args).decode(errors="replace")
