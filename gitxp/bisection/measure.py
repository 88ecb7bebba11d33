"""Measuring one commit for ``gitxp bisect``: reuse the runs already stored for it, then run the rest.

A stored run counts for a commit when it measured exactly the same thing: finished, on that commit with no
uncommitted changes (its version is the bare commit), with the same params, the same command from the same
working directory (or the same entry point), and a value for the metric. Missing repeats run as ordinary gitxp
runs (experiment ``bisect-<id>``) in a temporary detached worktree of the commit (``gitxp.wrap.rerun``'s), ``-j`` at
a time; repeat ``i`` gets ``GITXP_SEED=i`` at every commit, so seeded noise is the same on both sides of a
comparison. The user's working tree, index, stash and branches are never touched.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gitxp.bisection.state import Spec, State
from gitxp.errors import UsageError
from gitxp.query import objective
from gitxp.store import Store
from gitxp.wrap.command import Command, Controller

__all__ = ["spec_from_run", "spec_from_command", "stored_values", "measure_commit"]


def spec_from_run(store: Store, run_prefix: str, overrides: dict[str, Any]) -> tuple[Spec, dict[str, Any]]:
    """The spec of a recorded run (its command or entry point, params and working directory, as ``gitxp rerun``
    plans it), and the run's row."""
    import pyarrow.compute as pc

    from gitxp.store.inputs import parse_lines
    from gitxp.wrap.rerun import plan_rerun

    table = store.table()
    run_id = store.resolve_run(run_prefix, table)
    row = table.filter(pc.equal(table["run_id"], run_id)).to_pylist()[0]
    plan = plan_rerun(store, row, overrides, here=True)
    spec = Spec(
        argv=list(plan.command.argv),
        shell=plan.command.shell,
        config=str(plan.command.config) if plan.command.config else None,
        parse=list(plan.command.parse),
        workdir=plan.workdir,
        params=plan.params,
        source_run=run_id,
        entrypoint=None if row.get("meta.command.template") else row.get("meta.entrypoint"),
        inputs=[item["path"] for item in parse_lines(row.get("meta.inputs"))],
    )
    return spec, row


def spec_from_command(store: Store, argv: list[str], params: dict[str, Any], shell: bool) -> Spec:
    """The spec of a command given after ``--``, run from the same sub-directory the user is in."""
    from gitxp.wrap.overrides import delivered_params

    workdir = "."
    if store.repo.worktree is not None:
        rel = os.path.relpath(os.getcwd(), store.repo.worktree)
        workdir = "." if rel.startswith("..") else Path(rel).as_posix()
    if params and not shell:
        missing = [k for k in params if k not in delivered_params(list(argv), params, None)]
        if missing:
            raise UsageError(
                f"--set {missing[0]}: the command never receives {missing[0]!r} (no {{{missing[0]}}}, no "
                f"--{missing[0]} flag)"
            )
    return Spec(argv=list(argv), shell=shell, workdir=workdir, params=dict(params))


def _same_params(row: dict[str, Any], params: dict[str, Any]) -> bool:
    recorded = {k[7:]: v for k, v in row.items() if k.startswith("params.") and v is not None}
    return recorded == params


def _same_command(row: dict[str, Any], spec: Spec) -> bool:
    if (row.get("meta.workdir") or ".") != spec.workdir:
        return False
    if spec.entrypoint and row.get("meta.entrypoint") == spec.entrypoint:
        return True
    from gitxp.version.secrets import mask_argv

    template = row.get("meta.command.template")
    return template is not None and list(template) == mask_argv(spec.argv)


def stored_values(store: Store, table: Any, state: State, sha: str) -> list[tuple[str, float]]:
    """(run id, value) of the stored runs that measured exactly ``state.spec`` on commit ``sha``."""
    import pyarrow.compute as pc

    if table.num_rows == 0 or "commit" not in table.column_names:
        return []
    rows = table.filter(pc.and_(pc.equal(table["commit"], sha), pc.equal(table["status"], "finished")))
    out = []
    for row in rows.to_pylist():
        if row.get("version") != sha[:7] or not _same_params(row, state.spec.params):
            continue
        if not _same_command(row, state.spec):
            continue
        results = {k[8:]: v for k, v in row.items() if k.startswith("results.") and v is not None}
        value = objective.lookup(results, state.metric, state.goal)
        if value is not None:
            out.append((row["run_id"], value))
    out.sort()
    return out


def _new_run(store: Store, state: State, tree: Path, repeat: int) -> Any:
    """A run of the spec at the worktree's commit (created in the calling thread; executed by :func:`_execute`)."""
    from gitxp.git.repo import Repo
    from gitxp.run import Run
    from gitxp.version.capture import capture

    run = Run(
        experiment=state.experiment,
        params=state.spec.params,
        metric=f"{state.metric}:{state.goal}",
        store=store,
        version=capture(Repo.discover(tree)),
        attach=False,
        meta={
            "bisect.id": state.id,
            "bisect.repeat": repeat,
            "workdir": state.spec.workdir,
            "entrypoint": state.spec.entrypoint,
            "bisect.source_run": state.spec.source_run,
        },
    )
    root = store.repo.worktree
    for path in state.spec.inputs:  # the data as it is now (linked into the worktree): its hash, again
        try:
            run.input(path if Path(path).is_absolute() or root is None else root / path)
        except UsageError:
            pass  # gone: the run says what it lacks
    return run


def _execute(run: Any, state: State, tree: Path, repeat: int, controller: Controller) -> Any:
    from gitxp.wrap.command import execute

    spec = state.spec
    cwd = tree / spec.workdir
    config = Path(spec.config) if spec.config else None
    if config is not None and not config.is_absolute():
        config = cwd / config
    command = Command(tuple(spec.argv), shell=spec.shell, config=config, cwd=cwd, parse=tuple(spec.parse))
    execute(run, command, controller=controller, tee=False, extra_env={"GITXP_SEED": str(repeat)})
    return run


def measure_commit(
    store: Store,
    state: State,
    sha: str,
    controller: Controller,
    say: Any,
) -> dict[str, Any]:
    """Values of the metric at ``sha``: stored ones first, then new runs up to ``state.repeat`` in all.

    Runs go ``state.jobs`` at a time; when every run of a first wave fails (and none is stored) the commit is
    given up at once (it does not run), as ``git bisect skip`` would."""
    from gitxp.wrap.command import check_command
    from gitxp.wrap.rerun import cleanup, temporary_tree

    reused = stored_values(store, store.table(), state, sha)[: state.repeat]
    values = [v for _, v in reused]
    runs = [r for r, _ in reused]
    new: list[str] = []
    failed = 0
    seen: set[str] = set()  # result names the new finished runs reported (for "did you mean")
    reason = None
    needed = state.repeat - len(values)
    if needed > 0 and not controller.interrupted.is_set():
        tree = temporary_tree(store, sha, b"", f"bisect-{sha[:7]}")
        try:
            from gitxp.wrap.rerun import link_declared_inputs

            # the declared inputs kept out of git, linked into the worktree (each new run hashes them again)
            link_declared_inputs(store, [f"- 0 {p}" for p in state.spec.inputs], tree)
            spec = state.spec
            try:
                check_command(Command(tuple(spec.argv), shell=spec.shell, cwd=tree / spec.workdir))
                if not (tree / spec.workdir).is_dir():
                    raise UsageError(f"no directory {spec.workdir} at this commit")
            except UsageError as error:
                reason = str(error)
                needed = 0
            repeat = len(values)
            with ThreadPoolExecutor(max_workers=state.jobs) as pool:
                while needed > 0 and not controller.interrupted.is_set():
                    wave = list(range(repeat, repeat + min(state.jobs, needed)))
                    wave_runs = [(_new_run(store, state, tree, i), i) for i in wave]
                    done = list(
                        pool.map(lambda item: _execute(item[0], state, tree, item[1], controller), wave_runs)
                    )
                    repeat += len(wave)
                    needed -= len(wave)
                    for run in done:
                        new.append(run.id)
                        if run.status == "finished":
                            seen.update(run.results)
                        value = objective.lookup(run.results, state.metric, state.goal)
                        if run.status == "finished" and value is not None:
                            values.append(value)
                            runs.append(run.id)
                        elif run.status != "interrupted":
                            failed += 1
                    if not values and failed == len(new) and new:
                        last = done[-1]
                        reason = (
                            f"{last.status}: " + str(last.meta().get("error.message") or "")
                            if last.status != "finished"
                            else f"finished without reporting {state.metric!r}"
                        )
                        break
        finally:
            cleanup(store, tree)
            store.flush()
    return {
        "sha": sha,
        "values": values,
        "runs": runs,
        "reused": len(reused),
        "new": new,
        "failed": failed,
        "seen": sorted(seen),
        "reason": reason,
        "interrupted": controller.interrupted.is_set(),
    }
