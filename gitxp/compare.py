"""Comparing versions, branches, commits and runs.

Each selector names a group of runs (:mod:`gitxp.sides`): a run id (prefix) is that run; a version id
(``a1b2c3d+d.9f8e2c1``) the runs of that version; a commit the version recorded at it; a branch, tag or ``HEAD``
the newest version on its history that has runs, unless ``all_versions`` pools them. When every selector is a single run, runs are compared key by key (params, results, meta side by side). Otherwise
groups are compared on their summary metric: runs, best, mean, std, median, the best run of each, the params
whose values differ between groups, and the difference of means against the first group with a 95% bootstrap
confidence interval — so "B is better" comes with error bars.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any

from gitxp import objective
from gitxp.query import since_filter
from gitxp.sides import (
    Choice,
    Group,
    by_experiment,
    check_metric,
    code_diff,
    resolve_groups,
    resolve_revision,
    resolve_side,
    same_version,
    side_at,
)
from gitxp.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [  # the sides (gitxp.sides) are re-exported: gitxp.compare is where callers find them
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
BOOTSTRAP_SAMPLES = 5000
BOOTSTRAP_EXACT = 10_000  # values per side resampled one by one; more: the normal limit (see bootstrap_ci)


# ---------------------------------------------------------------------- statistics


def bootstrap_ci(
    a: list[float], b: list[float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile-bootstrap interval of mean(b) - mean(a); None when a side has fewer than 2 values.

    Vectorised with numpy, in blocks of resamples so that memory stays bounded (5,000 resamples of 30,000
    values each would otherwise be a 150 M-element index array). A side of more than ``BOOTSTRAP_EXACT``
    values draws its resampled means from their normal limit, with the bootstrap's own mean and variance
    (mean, population variance / n): by then the central limit theorem makes the two indistinguishable within
    the Monte-Carlo error of 5,000 resamples, and drawing them costs 5,000 numbers instead of 5,000 x n."""
    if len(a) < 2 or len(b) < 2:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    mean_a = _resampled_means(va, samples, rng)
    low, high = _percentiles(_resampled_means(vb, samples, rng) - mean_a, samples)
    t_low, t_high = welch_interval(va, vb)
    return min(low, t_low), max(high, t_high)


def welch_interval(va: Any, vb: Any) -> tuple[float, float]:
    """Welch's 95% t interval of mean(b) - mean(a) (unequal variances, Welch-Satterthwaite degrees of freedom).

    ``bootstrap_ci`` never reports less than this: a percentile bootstrap of a handful of runs is too narrow (with
    3 runs a side it calls an unchanged metric significantly different about 19% of the time instead of 5%,
    because it uses the spread of 3 values as if it were known), and ``gitxp bisect`` and ``gitxp report`` decide on
    3-5 runs. With many runs the two intervals agree and the bootstrap's is kept."""
    va_n, vb_n = len(va), len(vb)
    var_a, var_b = float(va.var(ddof=1)) / va_n, float(vb.var(ddof=1)) / vb_n
    centre = float(vb.mean() - va.mean())
    se = math.sqrt(var_a + var_b)
    if se == 0.0:
        return centre, centre
    bottom = var_a**2 / (va_n - 1) + var_b**2 / (vb_n - 1)
    df = (var_a + var_b) ** 2 / bottom if bottom > 0 else math.inf
    half = t_quantile_975(df) * se
    return centre - half, centre + half


def t_quantile_975(df: float) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom, rounded down to whole degrees (so never
    smaller than the exact one): exact for 1 and 2, the Cornish-Fisher series (Abramowitz & Stegun 26.7.5,
    error below 0.15% from 3 on) above."""
    z = 1.959963984540054
    if not math.isfinite(df) or df > 1e6:
        return z
    k = max(1, math.floor(df))
    if k == 1:
        return math.tan(math.pi * 0.475)
    if k == 2:
        return 0.95 / math.sqrt(2 * 0.975 * 0.025)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / k + g2 / k**2 + g3 / k**3 + g4 / k**4


def _resampled_means(values: Any, samples: int, rng: Any) -> Any:
    """The means of ``samples`` bootstrap resamples of ``values``."""
    import numpy as np

    n = len(values)
    if n > BOOTSTRAP_EXACT:
        return rng.normal(values.mean(), values.std() / math.sqrt(n), size=samples)
    means = np.empty(samples, dtype=np.float64)
    block = max(1, min(samples, 4_000_000 // n))
    for start in range(0, samples, block):
        count = min(block, samples - start)
        means[start : start + count] = values[rng.integers(0, n, size=(count, n), dtype=np.int32)].mean(
            axis=1
        )
    return means


def _percentiles(diffs: Any, samples: int) -> tuple[float, float]:
    diffs.sort()
    return float(diffs[int(0.025 * samples)]), float(diffs[min(samples - 1, int(0.975 * samples))])


def _numbers(values: list[Any]) -> list[float]:
    return [
        float(v)
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


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
            cells = group.table[column].to_pylist() if column in group.table.column_names else []
            ids = group.table["run_id"].to_pylist() if cells else []
            scored = [(float(v), rid) for v, rid in zip(cells, ids) if _numbers([v])]
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
            only = ", ".join(f"{g.label} ({g.table.num_rows} runs)" for g in parts)
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
            found = objective.column(name, goal, members.column_names)
            nums = _numbers(members[found].to_pylist()) if found else []
            item["objective"] = f"{found[len('results.') :] if found else name}:{goal}"
            item["best"] = (min if goal == "min" else max)(nums) if nums else None
            item["mean"] = statistics.fmean(nums) if nums else None
        out.append(item)
    return out
