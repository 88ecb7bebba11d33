"""``gitxp bisect``: find the first commit that made a metric worse, with error bars.

The first-parent history from a good to a bad revision is searched as ``git bisect`` does (log2 steps, see
:mod:`gitxp.bisection.search`). At each commit tested, the runs already stored for that exact version and params
are reused and the rest run in a temporary worktree (:mod:`gitxp.bisection.measure`); the commit is bad when the
95% bootstrap CI of the difference of means against the good end (the statistics of ``gitxp compare``) lies past
the threshold in the worse direction. Commits that do not run are skipped. The state is saved after every commit
(:mod:`gitxp.bisection.state`), so an interrupted bisect resumes where it stopped.

>>> import gitxp
>>> out = gitxp.bisect("v1.0", "HEAD", "acc:max", command=["python", "train.py"])   # doctest: +SKIP
>>> out["first_bad"]["sha"]                                                         # doctest: +SKIP
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from gitxp.bisection.search import expected_steps, judge, next_step
from gitxp.bisection.state import Spec, State, load_current
from gitxp.errors import UsageError, unknown_name
from gitxp.query import objective
from gitxp.store import Store

__all__ = ["bisect", "resume", "prepare", "plan", "drive", "State", "Spec"]


def _metric(text: str) -> tuple[str, str]:
    """``acc:max`` -> (acc, max); a bare name takes the direction its name implies, else it must be given."""
    if ":" in text:
        name, goal = objective.parse(text)
    else:
        name, goal = text.strip().removeprefix("results."), objective.guess_goal(text.strip()) or ""
    if goal not in ("min", "max"):
        raise UsageError(f"--metric {text!r}: say which way is worse: {text.split(':')[0]}:max or :min")
    return name, goal


def _commit(store: Store, rev: str, option: str) -> str:
    sha = store.repo.resolve(rev) if rev.strip() else None
    if sha is None:
        raise UsageError(f"{option} {rev!r} is not a commit of this repository")
    return sha


def _history(store: Store, good: str, bad: str) -> list[str]:
    """The good end, then the first-parent commits after it up to the bad end."""
    good_sha, bad_sha = _commit(store, good, "--good"), _commit(store, bad, "--bad")
    if good_sha == bad_sha:
        raise UsageError(f"--good {good} and --bad {bad} are the same commit: nothing to search")
    if store.repo.run(["merge-base", "--is-ancestor", good_sha, bad_sha], check=False).returncode != 0:
        raise UsageError(f"--good {good} is not an ancestor of --bad {bad}: bisect walks from good to bad")
    listing = store.repo.git("rev-list", "--first-parent", "--reverse", f"{good_sha}..{bad_sha}").decode()
    commits = listing.split()
    first_parent = store.repo.git("rev-parse", f"{commits[0]}^1").decode().strip() if commits else ""
    if first_parent != good_sha:
        raise UsageError(
            f"--good {good} is not on the first-parent history of --bad {bad} (a merged branch?)"
        )
    return [good_sha, *commits]


def prepare(
    store: Store,
    good: str,
    bad: str,
    metric: str,
    *,
    command: Sequence[str] | None = None,
    run: str | None = None,
    params: dict[str, Any] | None = None,
    repeat: int = 3,
    threshold: float = 0.0,
    jobs: int = 1,
    shell: bool = False,
) -> State:
    """Check everything and build a new bisect's state (nothing runs, nothing is saved)."""
    from gitxp.bisection.measure import spec_from_command, spec_from_run
    from gitxp.store.ids import new_run_id

    if (command is None) == (run is None):
        raise UsageError("give either a recorded RUN or a command after -- (not both)")
    if repeat < 2:
        raise UsageError("--repeat must be at least 2: a confidence interval needs two values per commit")
    if jobs < 1:
        raise UsageError("-j must be at least 1")
    if threshold < 0:
        raise UsageError("--threshold is a size of worsening: give it as a positive number")
    name, goal = _metric(metric)
    commits = _history(store, good, bad)
    if run is not None:
        spec, row = spec_from_run(store, run, dict(params or {}))
        objective.check_known(name, goal, [k for k, v in row.items() if v is not None])
        if "+d." in str(row.get("version")):
            import warnings

            from gitxp.errors import GitxpWarning

            warnings.warn(
                f"gitxp: run {spec.source_run} had uncommitted changes; bisect measures each commit's committed "
                "code (the run's command and params, not its patch)",
                GitxpWarning,
                stacklevel=2,
            )
    else:
        if not command:
            raise UsageError("no command given: gitxp bisect ... -- COMMAND [ARGS]...")
        spec = spec_from_command(store, list(command), dict(params or {}), shell)
    return State(
        new_run_id()[:12], commits[0], commits[-1], commits, name, goal, repeat, threshold, jobs, spec
    )


def plan(store: Store, state: State) -> dict[str, Any]:
    """What a bisect will do (``--dry-run``): the range, the measurement, the expected cost, reusable runs."""
    from gitxp.bisection.measure import stored_values

    table = store.table()
    stored = {sha[:7]: len(stored_values(store, table, state, sha)) for sha in state.commits}
    n = len(state.commits) - 1
    steps = expected_steps(n)
    return {
        "good": state.good,
        "bad": state.bad,
        "commits": n,
        "metric": f"{state.metric}:{state.goal}",
        "repeat": state.repeat,
        "jobs": state.jobs,
        "threshold": state.threshold,
        "command": state.spec.argv,
        "workdir": state.spec.workdir,
        "params": state.spec.params,
        "source_run": state.spec.source_run,
        "expected_tested": steps,
        "max_new_runs": (steps + 1) * state.repeat,
        "stored_runs": {k: v for k, v in stored.items() if v},
        "experiment": state.experiment,
    }


def _subject(store: Store, sha: str) -> str:
    return store.repo.git("show", "-s", "--format=%s", sha).decode(errors="replace").strip()


def _describe(store: Store, sha: str) -> dict[str, Any]:
    fields = store.repo.git("show", "-s", "--format=%H%x00%s%x00%an <%ae>%x00%aI", sha).decode(
        errors="replace"
    )
    full, subject, author, date = fields.strip().split("\0")
    stat = store.repo.git("diff", "--stat", "--no-color", "--no-ext-diff", f"{sha}^1", sha).decode(
        errors="replace"
    )
    return {"sha": full, "subject": subject, "author": author, "date": date, "diffstat": stat.rstrip()}


def _mean_ci(values: list[float]) -> tuple[float, float] | None:
    from gitxp.compare import bootstrap_ci

    return bootstrap_ci([0.0, 0.0], values)  # mean(values) - 0: the interval of the mean itself


def outcome(store: Store, state: State, step: Any) -> dict[str, Any]:
    """The result of a finished (or stopped) bisect, as a JSON-able dict."""
    tested = []
    for key in sorted(state.measured, key=int):
        m = state.measured[key]
        values = m["values"]
        tested.append(
            {
                "index": int(key),
                "sha": m["sha"],
                "subject": _subject(store, m["sha"]),
                "verdict": "good end" if key == "0" else m["verdict"],
                "runs": len(values),
                "reused": m["reused"],
                "new_runs": len(m["new"]),
                "mean": statistics.fmean(values) if values else None,
                "ci95": _mean_ci(values),
                "diff": m.get("diff") if key != "0" else None,
                "diff_ci95": m.get("ci") if key != "0" else None,
                "reason": m.get("reason"),
            }
        )
    result: dict[str, Any] = {
        "id": state.id,
        "experiment": state.experiment,
        "good": state.good,
        "bad": state.bad,
        "metric": f"{state.metric}:{state.goal}",
        "threshold": state.threshold,
        "repeat": state.repeat,
        "commits": len(state.commits) - 1,
        "result": step.kind,
        "first_bad": _describe(store, state.commits[step.at]) if step.kind == "found" else None,
        "candidates": [state.commits[i] for i in step.among],
        "tested": tested,
        "tested_commits": len(tested),
        "new_runs": sum(len(m["new"]) for m in state.measured.values()),
        "reused_runs": sum(m["reused"] for m in state.measured.values()),
    }
    result.update(other_causes(store, state, step))
    return result


def other_causes(store: Store, state: State, step: Any) -> dict[str, Any]:
    """Besides the code: declared inputs and packages that differ between the runs measured at the good end and
    at the first bad commit (or the bad end): ``{"other_causes": {"inputs": [...], "environment": [...]}}``, or
    nothing when the runs on both sides read the same data in the same environment."""
    import types

    import pyarrow as pa
    import pyarrow.compute as pc

    from gitxp.store.world import world_differences

    at = step.at if step.kind == "found" else len(state.commits) - 1
    good, bad = state.measured.get("0"), state.measured.get(str(at))
    if not good or not bad or not good["runs"] or not bad["runs"]:
        return {}
    table = store.table(show="archived")
    sides = [
        types.SimpleNamespace(
            label=m["sha"][:7],
            table=table.filter(pc.is_in(table["run_id"], pa.array(m["runs"], pa.string()))),
        )
        for m in (good, bad)
    ]
    found = world_differences(store, sides)
    return {"other_causes": found} if found else {}


def drive(
    store: Store, state: State, controller: Any, say: Callable[[str], None] = lambda text: None
) -> dict[str, Any]:
    """Run the search to its end (or until ``controller`` is interrupted), saving the state after each commit."""
    from gitxp.bisection.measure import measure_commit

    state.save(store.root)
    n = len(state.commits) - 1
    while True:
        step = next_step(n, state.verdicts())
        if step.kind != "test":
            break
        assert step.at is not None
        sha = state.commits[step.at]
        where = "good end" if step.at == 0 else "bad end" if step.at == n else f"{step.at}/{n}"
        say(f"bisect: testing {sha[:7]} ({where}) {_subject(store, sha)[:50]}")
        m = measure_commit(store, state, sha, controller, say)
        if m.pop("interrupted"):
            state.save(store.root)
            return {**outcome(store, state, step), "result": "interrupted"}
        seen = m.pop("seen")
        good = state.measured.get("0", {}).get("values", m["values"] if step.at == 0 else [])
        verdict, diff, ci = judge(good, m["values"], state.goal, state.threshold)
        if step.at == 0 and verdict == "skip":
            if seen and not m["values"]:
                raise unknown_name("metric", state.metric, seen, where="--metric: ")
            raise UsageError(
                f"the good end {sha[:7]} could not be measured ({len(m['values'])} values of {state.repeat}): "
                f"{m['reason'] or 'its runs failed'}"
            )
        m.update(verdict=verdict, diff=diff, ci=list(ci) if ci else None)
        state.measured[str(step.at)] = m
        state.save(store.root)
        say(_progress(state, m, step.at == 0))
    state.done = True
    state.outcome = outcome(store, state, step)
    state.save(store.root)
    return state.outcome


def _progress(state: State, m: dict[str, Any], is_good: bool) -> str:
    values = m["values"]
    runs = f"{len(values)} values ({m['reused']} stored, {len(m['new'])} new runs)"
    if m["verdict"] == "skip":
        return f"bisect: {m['sha'][:7]} skipped: {m['reason'] or 'fewer than 2 values'}; {runs}"
    mean = statistics.fmean(values)
    if is_good:
        return f"bisect: {m['sha'][:7]} {state.metric}={mean:.6g}: good end; {runs}"
    lo, hi = m["ci"]
    return (
        f"bisect: {m['sha'][:7]} {state.metric}={mean:.6g}, diff {m['diff']:+.4g} "
        f"[{lo:+.4g}, {hi:+.4g}]: {m['verdict']}; {runs}"
    )


def bisect(
    good: str,
    bad: str,
    metric: str,
    *,
    command: Sequence[str] | None = None,
    run: str | None = None,
    params: dict[str, Any] | None = None,
    repeat: int = 3,
    threshold: float = 0.0,
    jobs: int = 1,
    shell: bool = False,
    path: str | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> dict[str, Any]:
    """Find the first commit between ``good`` and ``bad`` where ``metric`` (``NAME:max`` or ``NAME:min``) got
    worse beyond noise; measure either ``command`` or the recorded ``run``. Returns the outcome: ``result``
    (``found``, ``ambiguous``, ``no-regression``, ``interrupted``), ``first_bad`` (sha, subject, author,
    diffstat), ``tested`` (each commit's mean with its CI and the difference from the good end), run counts."""
    from gitxp.wrap.command import Controller

    store = Store.open(path)
    state = prepare(
        store, good, bad, metric, command=command, run=run, params=params, repeat=repeat,
        threshold=threshold, jobs=jobs, shell=shell,
    )  # fmt: skip
    return drive(store, state, Controller(), say)


def resume(path: str | None = None, say: Callable[[str], None] = lambda text: None) -> dict[str, Any]:
    """Continue this repository's latest bisect (``gitxp bisect --resume``)."""
    from gitxp.wrap.command import Controller

    store = Store.open(path)
    state = load_current(store.root)
    if state.done and state.outcome is not None:
        return state.outcome
    return drive(store, state, Controller(), say)
