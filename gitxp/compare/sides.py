"""The sides of a comparison: which runs a selector names (``gitxp compare``, ``report``, the dashboard).

A side is a set of runs of one code version unless the user pools explicitly (docs/design.md, "Sides of a
comparison"): a run id is that run; a version id its runs; a commit the version recorded at it (clean first); a
branch — local, or only ``origin/NAME`` as ``git checkout`` finds it —, tag, ``HEAD`` or any revision is the
newest version on its history that has runs (its tip's, or the nearest ancestor's), per experiment, named with
how many older versions were left out; ``all_versions`` pools every version on the history. Reruns of other runs
are left out (duplicates, or other params when made with overrides) unless asked for. Each :class:`Group` says how
it was chosen (:meth:`Group.notes`) and what a verdict on it stands on (:meth:`Group.stands_on`)."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitxp.errors import RunNotFoundError, UsageError, did_you_mean
from gitxp.query import objective
from gitxp.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

# fmt: off
__all__ = [
    "Choice", "Group", "side_at", "resolve_side", "resolve_revision", "resolve_groups", "by_experiment",
    "same_version", "check_metric", "without_runs",
]
# fmt: on


@dataclass
class Choice:
    """Which runs of one experiment a side stands on, and why."""

    versions: list[str]  # the version used (one), or every version pooled (--all-versions)
    runs: int
    commit: str | None = None  # the commit of the version used
    left_out: int = 0  # other versions with runs on the side's history (or at its commit), not used
    same_commit: int = 0  # of which: other versions of the same commit (runs with uncommitted changes)
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
    excluded: dict[str, Any] = field(default_factory=dict)
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
                sets = ", ".join(
                    f"{k} ({n} run{'' if n == 1 else 's'})" for k, n in self.excluded["overrides"].items()
                )
                text += f" ({with_overrides} with overrides: other params, {sets})"
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
    older, same = choice.left_out - choice.same_commit, choice.same_commit
    parts = [f"{older} older version{'' if older == 1 else 's'}"] if older else []
    if same:
        parts.append(f"{same} other version{'' if same == 1 else 's'} of its commit (uncommitted changes)")
    if parts:
        text += f"; {' and '.join(parts)} left out (--all-versions pools them; a version id selects one)"
    return text


def _without_reruns(table: pa.Table, keep: bool) -> tuple[pa.Table, dict[str, Any]]:
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
    sets: Counter[str] = Counter()  # each set of overrides (``lr=0.01``): the group those reruns form
    if overrides:
        for row in table.filter(rerun).select(overrides).to_pylist():
            given = [f"{k[len('meta.rerun.overrides.') :]}={v!r}" for k, v in row.items() if v is not None]
            sets.update([", ".join(given)] if given else [])
    excluded = {"reruns": count, "with_overrides": sum(sets.values()), "overrides": dict(sets.most_common())}
    return table.filter(pc.invert(rerun)), excluded


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


def _pick_version(rows: pa.Table) -> str:
    """The version of a commit a side uses: the clean one if it has runs, else the one run most recently."""
    newest_run = rows.group_by("version").aggregate([("run_id", "max")])
    latest = dict(zip(newest_run["version"].to_pylist(), newest_run["run_id_max"].to_pylist()))
    clean = [v for v in latest if "+" not in v]
    return clean[0] if clean else max(latest, key=lambda v: latest[v])


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

    from gitxp.query.ancestry import distance, newest, on_history

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
    every = history
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
        # a version "has runs" when a run of it finished with results (a tip whose only run crashed, or a smoke
        # run that reported nothing, is no side to compare)
        done = _with_results(rows.filter(pc.equal(rows["status"], "finished"))) if len(versions) > 1 else rows
        candidates = done if done.num_rows else rows
        key = tuple(sorted(pc.unique(candidates["commit"]).to_pylist()))
        if key not in heads_of:
            heads_of[key] = newest(store, list(key))[0]
        head = heads_of[key]
        same = 0
        if len(versions) == 1:
            version, chosen = versions[0], rows
        else:
            version = _pick_version(candidates.filter(pc.equal(candidates["commit"], head)))
            chosen = rows.filter(pc.equal(rows["version"], version))
            at_head = rows.filter(pc.equal(rows["commit"], head))
            same = len(pc.unique(at_head["version"])) - 1
        if head not in back_of:
            back_of[head] = distance(store, head, sha)
        back = back_of[head]
        choices[experiment] = Choice(
            [version], chosen.num_rows, head, len(versions) - 1, back=back, same_commit=same
        )
        parts.append(chosen)
    runs = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if excluded.get("reruns") and not all_versions:  # only the reruns of the versions used were left out
        used = {(e, v) for e, c in choices.items() for v in c.versions}
        pairs = zip(every["experiment"].to_pylist(), every["version"].to_pylist())
        excluded = _without_reruns(every.filter(pa.array([p in used for p in pairs])), reruns)[1]
    return Group(
        label, kind, runs, sha, ref=ref, tip=sha, choices=choices, excluded=excluded, off_history=off_history
    )


def _with_results(rows: pa.Table) -> pa.Table:
    """The runs of ``rows`` that reported any result (all of them when none did)."""
    import pyarrow.compute as pc

    masks = [pc.is_valid(rows[c]) for c in rows.column_names if c.startswith("results.")]
    found = rows.filter(functools.reduce(pc.or_, masks)) if masks and rows.num_rows else rows
    return found if found.num_rows else rows


def _resolve_one(
    store: Store, table: pa.Table, selector: str, *, all_versions: bool = False, reruns: bool = False
) -> Group:
    import pyarrow.compute as pc

    if not (text := selector.strip()):
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
        return Group(
            store.short_id(run_id), "run", rows, rows["commit"][0].as_py() if rows.num_rows else None
        )
    except RunNotFoundError as error:
        if "ambiguous" in str(error) and store.repo.resolve(text) is None:
            raise
    found = resolve_revision(store, text)
    if found is None:
        names = ["for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/tags"]
        hint = did_you_mean(text, store.repo.run(names, check=False).stdout.decode(errors="replace").split())
        raise UsageError(f"{text!r} is not a run id, version, branch, tag or commit{hint}")
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
    tables = [group.table for group in groups]
    recorded = {
        c for t in tables for c in t.column_names if c.startswith("results.") and t[c].null_count < len(t)
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
    store: Store, table: pa.Table, selectors: list[str], *, all_versions: bool = False, reruns: bool = False
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
    alone = [rid for g in groups if g.kind == "run" for rid in g.run_ids]  # a run is on its own side only
    return [g if g.kind == "run" or not alone else without_runs(g, alone) for g in groups]


def without_runs(group: Group, run_ids: list[str]) -> Group:
    """``group`` without the runs given as sides of their own (a run compared with its own version)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    given = pa.array(run_ids, pa.string())
    rest = group.table.filter(pc.invert(pc.is_in(group.table["run_id"], value_set=given)))
    if not rest.num_rows:
        raise UsageError(f"{group.label!r} has no runs besides {', '.join(run_ids)}: nothing to compare with")
    return replace(group, table=rest)
