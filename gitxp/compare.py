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
from dataclasses import dataclass, field, replace
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
    "Choice",
    "side_at",
    "resolve_side",
    "resolve_revision",
    "same_version",
    "resolve_groups",
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


@dataclass
class Choice:
    """Which runs of one experiment a side stands on, and why."""

    versions: list[str]  # the version used (one), or every version pooled (--all-versions)
    runs: int
    commit: str | None = None  # the commit of the version used
    left_out: int = 0  # other versions with runs on the side's history (or at its commit), not used
    pooled: bool = False
    back: int = 0  # commits between the side's tip and the version used (0: at the tip)


@dataclass
class Group:
    """The runs a selector names: one code version unless pooled explicitly (see :func:`resolve_groups`)."""

    label: str
    kind: str  # run, version, branch, tag, commit, ref
    table: pa.Table
    commit: str | None = None
    ref: str | None = None  # the ref the label was resolved to when it is not spelled so (origin/feature)
    tip: str | None = None  # the commit the side starts from (a ref's tip, a merge-base)
    choices: dict[str, Choice] = field(default_factory=dict)  # per experiment
    # reruns left out: {"reruns": n, "with_overrides": m}
    excluded: dict[str, int] = field(default_factory=dict)
    off_history: int = 0  # runs recorded on this branch at commits no longer on its history (rebased, reset)

    @property
    def run_ids(self) -> list[str]:
        return list(self.table["run_id"].to_pylist())

    def versions(self) -> list[str]:
        """The versions of the runs the side stands on."""
        import pyarrow.compute as pc

        return sorted(pc.unique(self.table["version"]).to_pylist()) if self.table.num_rows else []

    @property
    def left_out(self) -> int:
        return max((c.left_out for c in self.choices.values()), default=0)

    @property
    def pooled(self) -> bool:
        return any(c.pooled for c in self.choices.values())

    def stands_on(self, runs: int | None = None) -> str:
        """``main: 4 runs of 1a2b3c4`` (what a verdict line names), ``8 runs of 2 versions (all versions)``."""
        runs = self.table.num_rows if runs is None else runs
        if self.kind == "run":
            return f"{self.label}: run {self.label}"
        versions = self.versions()
        what = versions[0] if len(versions) == 1 else f"{len(versions)} versions"
        text = f"{self.label}: {runs} run{'' if runs == 1 else 's'} of {what}"
        return text + (" (all versions, pooled)" if self.pooled else "")

    def notes(self) -> list[str]:
        """How the side was chosen, one line each (``main: version 1a2b3c4 (4 runs), the newest on its history
        with runs; 1 older version left out``); nothing for a run or a version id."""
        lines = []
        if self.ref:
            lines.append(f"{self.label}: using {self.ref}")
        several = len(self.choices) > 1
        for experiment, choice in sorted(self.choices.items()):
            name = f"{self.label} [{experiment}]" if several else self.label
            lines.append(f"{name}: {_describe(choice, self.kind, self.tip)}")
        if self.excluded.get("reruns"):
            count, with_overrides = self.excluded["reruns"], self.excluded.get("with_overrides", 0)
            text = f"{self.label}: {count} rerun{'' if count == 1 else 's'} left out"
            if with_overrides:
                text += f" ({with_overrides} with overrides: other params)"
            lines.append(text + "; --reruns counts them")
        if self.off_history:
            lines.append(
                f"{self.label}: {self.off_history} run{'' if self.off_history == 1 else 's'} recorded on branch "
                f"{self.label} at commits no longer on its history (rebased or reset) not used"
            )
        return lines


def _describe(choice: Choice, kind: str, tip: str | None) -> str:
    runs = f"{choice.runs} run{'' if choice.runs == 1 else 's'}"
    if choice.pooled:
        return f"{runs} of {len(choice.versions)} version{'' if len(choice.versions) == 1 else 's'} pooled (--all-versions)"
    text = f"version {choice.versions[0]} ({runs})"
    if kind in ("version", "commit"):
        pass
    elif choice.back and tip:
        where = "the merge-base" if kind == "merge-base" else "its tip"
        text += (
            f": no finished runs at {where} {tip[:7]}, the nearest ancestor with runs "
            f"({choice.back} commit{'' if choice.back == 1 else 's'} back)"
        )
    elif kind == "merge-base":
        text += ", at the merge-base"
    else:
        text += ", the newest on its history with runs"
    if choice.left_out:
        other = "other version at this commit" if kind == "commit" else "older version"
        text += f"; {choice.left_out} {other}{'' if choice.left_out == 1 else 's'} left out"
        if kind != "commit":
            text += " (--all-versions pools them)"
    return text


def _without_reruns(table: pa.Table, keep: bool) -> tuple[pa.Table, dict[str, int]]:
    """``table`` without the reruns of another run (duplicates of a run already counted, or other params when
    made with ``--set``), and how many were left out; all of it with ``keep``."""
    import pyarrow.compute as pc

    if keep or "meta.rerun_of" not in table.column_names or not table.num_rows:
        return table, {}
    rerun = pc.is_valid(table["meta.rerun_of"])
    count = pc.sum(rerun).as_py() or 0
    if not count:
        return table, {}
    overrides = [c for c in table.column_names if c.startswith("meta.rerun.overrides")]
    with_overrides = 0
    if overrides:
        mask = pc.is_valid(table[overrides[0]])
        for column in overrides[1:]:
            mask = pc.or_(mask, pc.is_valid(table[column]))
        with_overrides = pc.sum(pc.and_(rerun, mask)).as_py() or 0
    return table.filter(pc.invert(rerun)), {"reruns": count, "with_overrides": with_overrides}


def resolve_revision(store: Store, text: str) -> tuple[str, str, str | None] | None:
    """``(commit, kind, ref used)`` for a revision: a branch, a tag, a commit, any rev (``HEAD~2``), or — like
    git's checkout DWIM — a branch that exists only as ``<remote>/<name>`` (the ref used is then named)."""
    repo = store.repo
    sha = repo.read_ref(f"refs/heads/{text}")
    if sha is not None:
        return sha, "branch", None
    sha = repo.resolve(text)
    if sha is not None:
        if repo.read_ref(f"refs/tags/{text}") is not None:
            return sha, "tag", None
        if repo.read_ref(f"refs/remotes/{text}") is not None:
            return sha, "branch", None
        lowered = text.lower()
        if len(lowered) >= 4 and all(c in "0123456789abcdef" for c in lowered) and sha.startswith(lowered):
            return sha, "commit", None
        return sha, "ref", None
    out = repo.run(["for-each-ref", "--format=%(refname)", "refs/remotes/"], check=False).stdout.decode()
    found = [ref for ref in out.split() if ref.endswith(f"/{text}") and ref.count("/") == text.count("/") + 3]
    if len(found) > 1:
        names = ", ".join(ref[len("refs/remotes/") :] for ref in found)
        raise UsageError(f"{text!r} is a branch of several remotes ({names}): name one")
    if found:
        sha = repo.resolve(found[0])
        if sha is not None:
            return sha, "branch", found[0][len("refs/remotes/") :]
    return None


def _pick_version(rows: pa.Table) -> tuple[str, int]:
    """The version of a commit a side uses: the clean one if it has runs, else the one run most recently; and
    how many other versions of the commit were left out."""
    newest_run = rows.group_by("version").aggregate([("run_id", "max")])
    latest = dict(zip(newest_run["version"].to_pylist(), newest_run["run_id_max"].to_pylist()))
    clean = [v for v in latest if "+" not in v]
    chosen = clean[0] if clean else max(latest, key=lambda v: latest[v])
    return chosen, len(latest) - 1


def side_at(
    store: Store,
    table: pa.Table,
    label: str,
    sha: str,
    kind: str,
    *,
    all_versions: bool = False,
    reruns: bool = False,
    ref: str | None = None,
) -> Group:
    """The side a revision names (``sha``, its tip): per experiment, the newest version on its history that has
    runs — the tip's own (clean first) or, when the tip has none, its nearest ancestor's; ``all_versions`` pools
    every version on the history. A commit given by its sha is only itself (its clean version first)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from gitxp.ancestry import distance, newest, on_history

    off_history = 0
    if kind == "commit":
        history = table.filter(pc.equal(table["commit"], sha))
    else:
        commits = [c for c in pc.unique(table["commit"]).to_pylist() if c] if table.num_rows else []
        keep = pa.array(sorted(on_history(store, sha, commits)), pa.string())
        history = table.filter(pc.is_in(table["commit"], value_set=keep))
        if kind == "branch" and ref is None and "branch" in table.column_names and table.num_rows:
            mine = pc.and_(
                pc.equal(table["branch"], label), pc.invert(pc.is_in(table["commit"], value_set=keep))
            )
            off_history = pc.sum(pc.fill_null(mine, False)).as_py() or 0
    history, excluded = _without_reruns(history, reruns)
    if not history.num_rows:
        where = "at that commit" if kind == "commit" else "on its history"
        raise UsageError(f"{label!r} (commit {sha[:7]}) has no recorded runs {where}")
    parts = []
    choices: dict[str, Choice] = {}
    heads_of: dict[tuple[str, ...], str] = {}  # experiments recorded at the same commits share one answer
    back_of: dict[str, int] = {sha: 0}
    experiments = sorted(pc.unique(history["experiment"]).to_pylist())
    for experiment in experiments:
        # filters skipped when they would keep every row (one experiment, one version: the common case)
        rows = (
            history if len(experiments) == 1 else history.filter(pc.equal(history["experiment"], experiment))
        )
        versions = sorted(pc.unique(rows["version"]).to_pylist())
        if all_versions:
            choices[experiment] = Choice(versions, rows.num_rows, pooled=True)
            parts.append(rows)
            continue
        # a version "has runs" when a run of it finished (a tip whose only run crashed is no side to compare)
        done = rows.filter(pc.equal(rows["status"], "finished")) if len(versions) > 1 else rows
        candidates = done if done.num_rows else rows
        key = tuple(sorted(pc.unique(candidates["commit"]).to_pylist()))
        if key not in heads_of:
            heads_of[key] = newest(store, list(key))[0]
        head = heads_of[key]
        if len(versions) == 1:
            version, chosen = versions[0], rows
        else:
            version, _ = _pick_version(candidates.filter(pc.equal(candidates["commit"], head)))
            chosen = rows.filter(pc.equal(rows["version"], version))
        if head not in back_of:
            back_of[head] = distance(store, head, sha)
        back = back_of[head]
        choices[experiment] = Choice([version], chosen.num_rows, head, len(versions) - 1, back=back)
        parts.append(chosen)
    runs = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    return Group(
        label, kind, runs, sha, ref=ref, tip=sha, choices=choices, excluded=excluded, off_history=off_history
    )


def _resolve_one(
    store: Store, table: pa.Table, selector: str, *, all_versions: bool = False, reruns: bool = False
) -> Group:
    import pyarrow.compute as pc

    text = selector.strip()
    if not text:
        raise UsageError("empty selector")
    versions = table.filter(pc.equal(table["version"], text))
    if versions.num_rows:
        runs, excluded = _without_reruns(versions, reruns)
        if not runs.num_rows:
            raise UsageError(f"version {text!r} has only reruns of other runs (--reruns counts them)")
        return Group(text, "version", runs, versions["commit"][0].as_py(), excluded=excluded)
    try:
        run_id = store.resolve_run(text, table)
        rows = table.filter(pc.equal(table["run_id"], run_id))
        return Group(run_id[:12], "run", rows, rows["commit"][0].as_py() if rows.num_rows else None)
    except RunNotFoundError as error:
        if "ambiguous" in str(error) and store.repo.resolve(text) is None:
            raise
    found = resolve_revision(store, text)
    if found is None:
        raise UsageError(f"{text!r} is not a run id, version, branch, tag or commit")
    sha, kind, ref = found
    return side_at(store, table, text, sha, kind, all_versions=all_versions, reruns=reruns, ref=ref)


def resolve_side(
    store: Store, table: pa.Table, selector: str, *, all_versions: bool = False, reruns: bool = False
) -> Group:
    """One side, as :func:`resolve_groups` resolves each of its selectors."""
    return _resolve_one(store, table, selector, all_versions=all_versions, reruns=reruns)


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
                choices = {name: group.choices[name]} if name in group.choices else {}
                parts.append(replace(group, table=rows, choices=choices))
        out.append((name, parts))
    return out


def same_version(groups: list[Group]) -> str | None:
    """The version when every group stands on the same single version (nothing to compare), else None."""
    versions = {tuple(g.versions()) for g in groups}
    if len(versions) == 1 and len(next(iter(versions))) == 1 and not any(g.kind == "run" for g in groups):
        return next(iter(versions))[0]
    return None


def resolve_groups(
    store: Store,
    table: pa.Table,
    selectors: list[str],
    *,
    all_versions: bool = False,
    reruns: bool = False,
) -> list[Group]:
    """The groups ``selectors`` name (the sides of ``gitxp compare``, ``report``, the dashboard's compare page).

    A run id is that run; a version id its runs; a commit (sha) the version recorded at it (clean first); a
    branch — local, or only ``origin/NAME`` as git's checkout finds it —, tag, ``HEAD`` or any revision is the
    newest version on its history that has runs (the tip's, or its nearest ancestor's), chosen per experiment;
    ``all_versions`` pools every version on that history instead. Reruns of another run are left out of every
    group but a run id (they are duplicates, or other params when made with overrides) unless ``reruns``.
    Each group says how it was chosen (:meth:`Group.notes`) and what it stands on (:meth:`Group.stands_on`)."""
    if len(selectors) < 2:
        raise UsageError("compare needs at least two runs, versions, commits or branches")
    groups = [_resolve_one(store, table, s, all_versions=all_versions, reruns=reruns) for s in selectors]
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
            item["objective"] = f"{found[len('results.') :] if found else name}:{goal}"
            item["best"] = (min if goal == "min" else max)(nums) if nums else None
            item["mean"] = statistics.fmean(nums) if nums else None
        out.append(item)
    return out
