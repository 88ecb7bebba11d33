"""``gitxp run``: record an unmodified command as a run, or sweep it over a search space."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import click

from gitxp.cli.cluster_opts import executor_options
from gitxp.cli.sweep_report import mask_quote, missing_metric_error, print_plan, run_sweep, single_event
from gitxp.errors import UsageError

__all__ = ["COMMANDS"]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _preload() -> None:
    """Import pyarrow while the sweep's first runs start: recording needs it, and the import costs ~0.1 s."""
    try:
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        pass


def _space(
    params: tuple[str, ...],
    grids: tuple[str, ...],
    samples: tuple[str, ...],
    space_file: Path | None,
    n: int | None,
) -> Any:
    from gitxp.space import (
        Space,
        load_space_file,
        parse_assignment,
        parse_distribution,
        parse_grid,
        parse_value,
    )

    space = load_space_file(space_file) if space_file else Space()
    seen: dict[str, str] = {}
    for option, items in (("-p", params), ("--grid", grids), ("--sample", samples)):
        for item in items:
            key, value = parse_assignment(item, option)
            if key in seen:
                raise UsageError(f"{option} {item!r}: {key!r} is already given by {seen[key]}")
            seen[key] = option
            if option == "-p":
                space.fixed[key] = parse_value(value)
            elif option == "--grid":
                space.grid[key] = parse_grid(value)
            else:
                space.sample[key] = parse_distribution(value)
    if n is not None:
        if n < 1:
            raise UsageError("-n must be at least 1")
        space.n = n
    from gitxp.space import check_size

    check_size((space.n or 1) * space.grid_size, "this sweep")  # -n, or n of a --space file
    return space


def _objectives(texts: tuple[str, ...]) -> list[tuple[str, str]]:
    from gitxp.query.objective import parse

    objectives = [parse(text) for text in texts]
    names = [name for name, _ in objectives]
    if len(set(names)) != len(names):
        raise UsageError(f"--metric {names[0]!r} is given twice")
    return objectives


class _RunCommand(click.Command):
    """Keeps the raw arguments (``ctx.meta["gitxp.argv"]``): a sweep records them so that --resume finds them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["gitxp.argv"] = list(args)
        return super().parse_args(ctx, args)


@click.command(
    "run",
    cls=_RunCommand,
    context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False},
)
@click.option(
    "-e",
    "--experiment",
    help="Experiment name (default: git config gitxp.experiment, else origin's repository name, else the directory's).",
)
@click.option(
    "-p", "--param", "params", multiple=True, metavar="K=V", help="A param (typed: int, float, bool, str)."
)
@click.option(
    "--grid",
    "grids",
    multiple=True,
    metavar="K=SPEC",
    help="Grid axis: 0.01:0.01:0.1, 1e-5:l5:0.1, 2,5,6 ...",
)
@click.option(
    "--sample",
    "samples",
    multiple=True,
    metavar="K=DIST",
    help="uniform(a,b), loguniform(a,b), normal(m,s), randint(a,b), categorical(...).",
)
@click.option(
    "--space",
    "space_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Search space file (YAML/JSON, or HyperTrainer's hpsearch block).",
)
@click.option(
    "-n",
    "n",
    type=click.IntRange(min=1, max=10**12),
    help="Runs to draw (random/tpe), or draws per grid point (grid).",
)
@click.option(
    "--strategy",
    default="grid",
    show_default=True,
    help="grid, random, tpe, cmaes, gp, qmc, nsga2 (Optuna's samplers), or a plugin's.",
)
@click.option("-j", "--jobs", type=int, help="Runs at once (default: 1 locally, every worker slot on Dask).")
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="Where runs execute: local, dask, slurm, or a plugin's (see 'Scaling out').",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME:min|max|last",
    help="The value that summarises a run and that sweeps optimise (repeat it for several objectives).",
)
@click.option(
    "--prune",
    type=click.Choice(["median", "hyperband", "asha"]),
    help="Stop trials whose curve of the --metric is worse than their peers' (Optuna's pruners).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file rendered with the params; its copy replaces {config}.",
)
@click.option("--seed", type=int, help="Seed of the sweep's sampling (reproducible sweeps).")
@click.option(
    "--warm-start/--no-warm-start",
    "warm_start",
    default=None,
    help="Informed search (tpe, gp): seed it with the runs of every earlier version of the experiment "
    "(--warm-start), or of none (--no-warm-start). Default: versions whose commit is an ancestor of this one.",
)
@click.option("--shell", is_flag=True, help="Run the command through the shell.")
@click.option(
    "--allow-unused",
    is_flag=True,
    help="Accept params the command does not visibly receive (it reads $GITXP_PARAMS).",
)
@click.option("--fail-fast", is_flag=True, help="Stop the sweep at the first failed run.")
@click.option(
    "--no-argv-params",
    is_flag=True,
    help="Do not record the command's --name VALUE flags as params (recorded by default).",
)
@click.option(
    "--tee/--no-tee", default=None, help="Show the command's output (default: yes for one run, no in sweeps)."
)
@click.option("--no-git", is_flag=True, help="Record without a version (no commit needed).")
@click.option(
    "--input",
    "input_paths",
    multiple=True,
    metavar="PATH",
    help="A data file or directory the command reads: its size and sha256 are recorded (repeatable).",
)
@click.option(
    "--parse",
    "parse_patterns",
    multiple=True,
    metavar="REGEX",
    help="Read output lines matching REGEX: named groups are metrics, (?P<step>...) the step.",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the planned runs (count, first param sets); run nothing."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the sweep: skip points already finished on this version, re-run failed/crashed/interrupted "
    "ones. Without COMMAND, -e EXP resumes that experiment's latest sweep.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Refuse a sweep of more runs than this before building it.",
)
@executor_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run_command(
    experiment: str | None,
    params: tuple[str, ...],
    grids: tuple[str, ...],
    samples: tuple[str, ...],
    space_file: Path | None,
    n: int | None,
    strategy: str,
    jobs: int | None,
    executor: str,
    metrics: tuple[str, ...],
    prune: str | None,
    config: Path | None,
    seed: int | None,
    warm_start: bool | None,
    shell: bool,
    allow_unused: bool,
    fail_fast: bool,
    no_argv_params: bool,
    tee: bool | None,
    no_git: bool,
    input_paths: tuple[str, ...],
    parse_patterns: tuple[str, ...],
    dry_run: bool,
    resume: bool,
    max_runs: int,
    command: tuple[str, ...],
    cluster: Any = None,
) -> None:
    """Run COMMAND as a recorded run (or a sweep of runs): gitxp run [OPTIONS] -- COMMAND [ARGS]...

    Params reach the command through {name} in its arguments, --name VALUE flags already in it, a rendered
    --config file, or $GITXP_PARAMS. Results come from 'gitxp: name=value' lines, 'fitness: X' lines,
    metric_<name>.log files in $GITXP_OUTPUT_DIR, or the gitxp API inside the command.
    """
    from gitxp.store.values import clean_text
    from gitxp.wrap.command import Command, check_command
    from gitxp.wrap.overrides import delivered_params

    if experiment is not None:  # a non-UTF-8 byte (a lone surrogate) is repaired as the runs record it
        experiment = clean_text(experiment)
    if resume and not command:
        _resume_experiment(experiment, dry_run)
        return
    if jobs is not None and jobs < 1:
        raise UsageError("-j must be at least 1")
    import gitxp.space.grid as space_module  # where check_size reads it

    space_module.MAX_RUNS, saved = max_runs, space_module.MAX_RUNS
    try:
        space = _space(params, grids, samples, space_file, n)
    finally:
        space_module.MAX_RUNS = saved
    space.max_runs = max_runs  # its grid is built later, by the strategy
    objectives = _objectives(metrics)
    if not objectives and (space.is_sweep or strategy != "grid") and not shell:
        from gitxp.query.objective import from_script

        found = from_script(command, None)
        if found is not None:  # what the script itself names: its decorator's metric, Studio's fitness
            objectives = [found[0]]
            click.echo(
                f"gitxp: objective {':'.join(found[0])} ({found[1]}; --metric NAME:min|max for another)",
                err=True,
            )
    from gitxp.wrap.readers import compile_parse

    for pattern in parse_patterns:
        compile_parse(pattern)
    cmd = Command(tuple(command), shell=shell, config=config, parse=parse_patterns)
    check_command(cmd)
    names = space.names
    if not allow_unused:
        delivered = delivered_params(list(command), dict.fromkeys(names), config)
        missing = [k for k in names if k not in delivered]
        if missing:
            raise UsageError(
                f"param {missing[0]!r} never reaches the command (no {{{missing[0]}}}, no --{missing[0]} flag"
                + (", no config key" if config else "")
                + "); fix the name, or pass --allow-unused if the command "
                "reads $GITXP_PARAMS or uses the gitxp API"
            )
    is_sweep = space.is_sweep
    if is_sweep:
        threading.Thread(target=_preload, daemon=True).start()
    from gitxp.search.sweep import Sweep
    from gitxp.store import Store
    from gitxp.version.capture import Version, capture
    from gitxp.wrap.command import Controller

    store = Store.open(create=no_git)
    version = Version(None) if no_git else capture(store.repo)
    store.detach_commits = not is_sweep
    run_meta: dict[str, Any] = {}
    if input_paths:
        from gitxp.store import inputs

        lines: list[str] = []
        for path in input_paths:  # hashed once for all the runs of a sweep
            item = inputs.describe(path, repo_root=store.repo.worktree, store_root=store.root)
            lines = inputs.merge(lines, item)
        run_meta["inputs"] = lines
    sweep = Sweep(
        store=store,
        version=version,
        command=cmd,
        space=space,
        experiment=experiment,
        strategy=strategy,
        n=space.n,
        jobs=jobs or 1,
        executor=executor,
        executor_options=cluster,
        objectives=objectives,
        prune=prune,
        seed=seed,
        fail_fast=fail_fast,
        tee=(not is_sweep) if tee is None else tee,
        resume=resume,
        invocation=click.get_current_context().meta.get("gitxp.argv"),
        argv_params=not no_argv_params,
        run_meta=run_meta,
        warm_start="ancestors" if warm_start is None else warm_start,
    )
    if dry_run:
        print_plan(sweep)
        return
    controller = Controller()
    controller.install()
    try:
        if is_sweep:
            result = run_sweep(sweep, controller)
        else:
            result = sweep.run(controller, on_event=single_event)
    finally:
        controller.restore()
    detached = [r for r in result.runs if result.statuses.get(r.id) == "queued"]
    if detached:
        click.echo(
            f"gitxp: {len(detached)} trial{'' if len(detached) == 1 else 's'} submitted to Slurm and left there "
            f"(job {detached[0].meta().get('slurm.job_id')}...); 'gitxp collect' records them as they end, "
            "'gitxp ls' shows them queued/running",
            err=True,
        )
        if all(result.statuses.get(r.id) == "queued" for r in result.runs):
            return
    if result.error:
        from gitxp.errors import GitxpError

        error = GitxpError(result.error)
        error.exit_code = EXIT_FAILED
        raise error
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if result.blind:
        raise missing_metric_error(sweep, result)
    if result.failed or any(s not in ("finished", "pruned") for s in result.statuses.values()):
        sys.exit(EXIT_FAILED)


def _resume_experiment(experiment: str | None, dry_run: bool) -> None:
    """``gitxp run --resume -e EXP``: run the latest sweep of EXP again, with --resume."""
    if not experiment:
        raise UsageError("--resume without a command needs -e EXP (the experiment whose sweep to continue)")
    from gitxp.search.resume import last_invocation
    from gitxp.store import Store
    from gitxp.version.secrets import unmask

    store = Store.open()
    argv, run_id = last_invocation(store, experiment)
    import pyarrow.compute as pc

    from gitxp.cli.trust import confirm_foreign

    table = store.table(show="archived")
    row = table.filter(pc.equal(table["run_id"], run_id)).slice(0, 1).to_pylist()
    confirm_foreign(  # a sweep pulled from elsewhere: its command line is shown and confirmed first
        store,
        row[0] if row else {"run_id": run_id},
        "gitxp run " + " ".join(mask_quote(a) for a in argv),
        yes=dry_run,
        how="run that command yourself",
    )
    args = unmask(argv, run_id)
    if "--resume" not in args[: args.index("--") if "--" in args else len(args)]:
        args = ["--resume"] + args
    if dry_run and "--dry-run" not in args:
        args = ["--dry-run"] + args
    click.echo("gitxp: resuming: gitxp run " + " ".join(mask_quote(a) for a in args), err=True)
    ctx = run_command.make_context("run", args, parent=click.get_current_context().parent)
    with ctx:
        run_command.invoke(ctx)


COMMANDS = [run_command]
