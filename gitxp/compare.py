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
    values each would otherwise be a 150 M-element index array)."""
    if len(a) < 2 or len(b) < 2:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diffs = np.empty(samples, dtype=np.float64)
    block = max(1, min(samples, 4_000_000 // max(len(va), len(vb))))
    for start in range(0, samples, block):
        count = min(block, samples - start)
        mean_a = va[rng.integers(0, len(va), size=(count, len(va)), dtype=np.int32)].mean(axis=1)
        mean_b = vb[rng.integers(0, len(vb), size=(count, len(vb)), dtype=np.int32)].mean(axis=1)
        diffs[start : start + count] = mean_b - mean_a
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
            rows = group.table.to_pylist()
            scored = [
                (float(r[column]), r["run_id"]) for r in rows if column in r and _numbers([r.get(column)])
            ]
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
    first = group.table.to_pylist()[0]
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
            item["objective"] = f"{found[len('results.'):] if found else name}:{goal}"
            item["best"] = (min if goal == "min" else max)(nums) if nums else None
            item["mean"] = statistics.fmean(nums) if nums else None
        out.append(item)
    return out
