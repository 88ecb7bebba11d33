"""Comparing versions, branches, commits and runs.

Each selector names a group of runs: a run id (prefix) is that run; a version id (``a1b2c3d+d.9f8e2c1``) the runs
of that version; a branch the runs recorded on it; a tag, commit or other revision the runs of that commit.
When every selector is a single run, runs are compared key by key (params, results, meta side by side). Otherwise
groups are compared on their summary metric: runs, best, mean, std, median, the best run of each, the params
whose values differ between groups, and the difference of means against the first group with a 95% bootstrap
confidence interval — so "B is better" comes with error bars.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitxp import objective
from gitxp.errors import RunNotFoundError, UsageError
from gitxp.query import since_filter
from gitxp.store import Store
from gitxp.versioning import require_commit, version_tree

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Group",
    "resolve_groups",
    "compare_groups",
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


@dataclass
class Group:
    """The runs a selector names."""

    label: str
    kind: str  # run, version, branch, commit
    table: pa.Table
    commit: str | None = None

    @property
    def run_ids(self) -> list[str]:
        return list(self.table["run_id"].to_pylist())


def _resolve_one(store: Store, table: pa.Table, selector: str) -> Group:
    import pyarrow.compute as pc

    text = selector.strip()
    if not text:
        raise UsageError("empty selector")
    versions = table.filter(pc.equal(table["version"], text))
    if versions.num_rows:
        return Group(text, "version", versions, versions["commit"][0].as_py())
    try:
        run_id = store.resolve_run(text, table)
        return Group(run_id[:12], "run", table.filter(pc.equal(table["run_id"], run_id)))
    except RunNotFoundError as error:
        if "ambiguous" in str(error) and store.repo.resolve(text) is None:
            raise
    if store.repo.read_ref(f"refs/heads/{text}") is not None:
        runs = table.filter(pc.equal(table["branch"], text))
        if not runs.num_rows:
            raise UsageError(f"branch {text!r} has no recorded runs")
        return Group(text, "branch", runs)
    sha = store.repo.resolve(text)
    if sha is None:
        raise UsageError(f"{text!r} is not a run id, version, branch, tag or commit")
    runs = table.filter(pc.equal(table["commit"], sha))
    if not runs.num_rows:
        raise UsageError(f"{text!r} (commit {sha[:7]}) has no recorded runs")
    return Group(text, "commit", runs, sha)


def check_metric(groups: list[Group], metric: str) -> None:
    """A usage error naming the recorded results (did you mean ...?) when no run of ``groups`` has ``metric``."""
    name, goal = objective.parse(metric)
    recorded = {
        column
        for group in groups
        for column in group.table.column_names
        if column.startswith("results.") and group.table[column].null_count < group.table.num_rows
    }
    objective.check_known(name, goal, sorted(recorded))


def by_experiment(groups: list[Group]) -> list[tuple[str, list[Group]]]:
    """The groups split per experiment (most runs first): runs of different experiments are never pooled.

    An experiment present in fewer than two groups comes back with the groups that have it, so the caller can
    say it has nothing to be compared with."""
    import pyarrow.compute as pc

    counts: Counter[str] = Counter()
    for group in groups:
        counts.update(group.table["experiment"].to_pylist())
    out = []
    for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        parts = []
        for group in groups:
            rows = group.table.filter(pc.equal(group.table["experiment"], name))
            if rows.num_rows:
                parts.append(Group(group.label, group.kind, rows, group.commit))
        out.append((name, parts))
    return out


def resolve_groups(store: Store, table: pa.Table, selectors: list[str]) -> list[Group]:
    if len(selectors) < 2:
        raise UsageError("compare needs at least two runs, versions, commits or branches")
    groups = [_resolve_one(store, table, s) for s in selectors]
    labels = Counter(g.label for g in groups)
    if any(n > 1 for n in labels.values()):
        raise UsageError(f"{next(k for k, n in labels.items() if n > 1)!r} is given twice")
    return groups


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
                "versions": sorted(set(group.table["version"].to_pylist())),
                "run_ids": group.run_ids,
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
                }
            )
        report["metrics"].append(entry)
    params = sorted({c for g in groups for c in g.table.column_names if c.startswith("params.")})
    for column in params:
        per_group = {}
        for group in groups:
            vals = group.table[column].to_pylist() if column in group.table.column_names else []
            per_group[group.label] = sorted({repr(v) for v in vals if v is not None})
        if len({tuple(v) for v in per_group.values()}) > 1:
            report["params"].append({"name": column[len("params.") :], "values": per_group})
    return report


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


# ---------------------------------------------------------------------- code


def _group_version(store: Store, group: Group) -> tuple[str, bytes]:
    """(commit, patch) of a group: a run's own version, or the group's single version (its first if several)."""
    columns = [c for c in ("run_id", "commit") if c in group.table.column_names]
    first = group.table.select(columns).slice(0, 1).to_pylist()[0]  # one row, not the whole group
    commit = require_commit(store.repo, first.get("commit"), f"{group.label}")
    patch = store.run_file(first["run_id"], "diff.patch") or b""
    return commit, patch


def code_diff(store: Store, a: Group, b: Group, *, full: bool = False) -> str:
    """The difference between the code of two groups (commit diff and uncommitted patches together)."""
    commit_a, patch_a = _group_version(store, a)
    commit_b, patch_b = _group_version(store, b)
    tree_a = version_tree(store.repo, commit_a, patch_a)
    tree_b = version_tree(store.repo, commit_b, patch_b)
    args = ["diff", "--no-color", "--no-ext-diff"] + ([] if full else ["--stat"]) + [tree_a, tree_b]
    return store.repo.git(*args).decode(errors="replace")


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
