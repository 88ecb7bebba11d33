"""``gitxp run``: record an unmodified command as a run, or sweep it over a search space."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from gitxp.cli.cluster_opts import executor_options
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

    check_size((n or 1) * space.grid_size, "this sweep")
    return space


def _objectives(texts: tuple[str, ...]) -> list[tuple[str, str]]:
    from gitxp.objective import parse

    objectives = [parse(text) for text in texts]
    names = [name for name, _ in objectives]
    if len(set(names)) != len(names):
        raise UsageError(f"--metric {names[0]!r} is given twice")
    return objectives


def _missing_metric_error(sweep: Any, result: Any) -> UsageError:
    from gitxp.errors import did_you_mean

    name = sweep.metric[0]
    names = result.missing_metric or []
    hint = did_you_mean(name, names) or (
        f" (its results: {', '.join(names)})" if names else " (it reported no results)"
    )
    return UsageError(f"--metric {name!r}: no finished run reported it{hint}")


def _missing_metric_warning(sweep: Any, run: Any, result: Any) -> str:
    from gitxp.sweep import UNINFORMED

    message = f"warning: run {run.id} finished without the result {sweep.metric[0]!r}"
    hint = _missing_metric_error(sweep, result).args[0].split("reported it", 1)[1]
    then = (
        "the sweep goes on, but its runs cannot be ranked"
        if sweep.strategy in UNINFORMED
        else f"--strategy {sweep.strategy} cannot search blind: no new runs are proposed"
    )
    return f"{message}{hint}; {then}"


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
@click.option("-e", "--experiment", help="Experiment name (default: the repository's directory name).")
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
@click.option("--shell", is_flag=True, help="Run the command through the shell.")
@click.option(
    "--allow-unused",
    is_flag=True,
    help="Accept params the command does not visibly receive (it reads $GITXP_PARAMS).",
)
@click.option("--fail-fast", is_flag=True, help="Stop the sweep at the first failed run.")
@click.option(
    "--tee/--no-tee", default=None, help="Show the command's output (default: yes for one run, no in sweeps)."
)
@click.option("--no-git", is_flag=True, help="Record without a version (no commit needed).")
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
    shell: bool,
    allow_unused: bool,
    fail_fast: bool,
    tee: bool | None,
    no_git: bool,
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
    from gitxp.builtin.overrides import delivered_params
    from gitxp.wrapper import Command, check_command

    if resume and not command:
        _resume_experiment(experiment, dry_run)
        return
    if jobs is not None and jobs < 1:
        raise UsageError("-j must be at least 1")
    import gitxp.space as space_module

    space_module.MAX_RUNS, saved = max_runs, space_module.MAX_RUNS
    try:
        space = _space(params, grids, samples, space_file, n)
    finally:
        space_module.MAX_RUNS = saved
    objectives = _objectives(metrics)
    from gitxp.builtin.readers import compile_parse

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
    from gitxp.store import Store
    from gitxp.sweep import Sweep
    from gitxp.versioning import Version, capture
    from gitxp.wrapper import Controller

    store = Store.open(create=no_git)
    version = Version(None) if no_git else capture(store.repo)
    store.detach_commits = not is_sweep
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
    )
    if dry_run:
        _print_plan(sweep)
        return
    controller = Controller()
    controller.install()
    try:
        if is_sweep:
            result = _run_sweep(sweep, controller)
        else:
            result = sweep.run(controller, on_event=_single_event)
    finally:
        controller.restore()
    detached = [r for r in result.runs if result.statuses.get(r.id) == "queued"]
    if detached:
        click.echo(
            f"gitxp: {len(detached)} trial{'' if len(detached) == 1 else 's'} submitted to Slurm and left there "
            f"(job {detached[0]._record['meta'].get('slurm.job_id')}...); 'gitxp collect' records them as they end, "
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
        raise _missing_metric_error(sweep, result)
    if result.failed or any(s not in ("finished", "pruned") for s in result.statuses.values()):
        sys.exit(EXIT_FAILED)


def _resume_experiment(experiment: str | None, dry_run: bool) -> None:
    """``gitxp run --resume -e EXP``: run the latest sweep of EXP again, with --resume."""
    if not experiment:
        raise UsageError("--resume without a command needs -e EXP (the experiment whose sweep to continue)")
    from gitxp.resume import last_invocation
    from gitxp.secrets import unmask
    from gitxp.store import Store

    argv, run_id = last_invocation(Store.open(), experiment)
    args = unmask(argv, run_id)
    if "--resume" not in args[: args.index("--") if "--" in args else len(args)]:
        args = ["--resume"] + args
    if dry_run and "--dry-run" not in args:
        args = ["--dry-run"] + args
    click.echo("gitxp: resuming: gitxp run " + " ".join(mask_quote(a) for a in args), err=True)
    ctx = run_command.make_context("run", args, parent=click.get_current_context().parent)
    with ctx:
        run_command.invoke(ctx)


def mask_quote(arg: str) -> str:
    import shlex

    from gitxp.secrets import mask_argv

    return shlex.quote(mask_argv([arg])[0])


def _print_plan(sweep: Any, shown: int = 5) -> None:
    """``--dry-run``: how many runs, the first param sets, the command; nothing is run or recorded."""
    import shlex

    total, points = sweep.plan(shown)
    count = "an open-ended number of" if total is None else str(total)
    click.echo(
        f"dry run: {count} run{'' if total == 1 else 's'} ({sweep.strategy}, -j {sweep.jobs}), "
        f"version {sweep.version.id}"
    )
    for number, point in enumerate(points, 1):
        click.echo(f"  #{number} " + (" ".join(f"{k}={v!r}" for k, v in point.items()) or "(no params)"))
    if total is not None and total > len(points):
        click.echo(f"  ... and {total - len(points)} more")
    if sweep.strategy not in ("grid", "random") and points:
        click.echo("  (informed proposals after the first depend on the results)")
    click.echo("command: " + shlex.join(sweep.command.argv))


def _single_event(event: str, run: Any, result: Any) -> None:
    if event == "skip":
        click.echo("gitxp: this run already finished on this version (--resume): nothing to run", err=True)
        return
    if event in ("begin", "metric-missing"):  # a single run's missing metric is the final error
        return
    if event == "start":
        click.echo(f"gitxp: run {run.id} ({run.experiment}, version {run.version.id})", err=True)
    else:
        status = result.statuses.get(run.id)
        results = " ".join(
            f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in run.results.items()
        )
        duration = time.time() - run._started
        click.echo(
            f"gitxp: run {run.id} {status} in {duration:.1f}s" + (f": {results}" if results else ""), err=True
        )


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _progress_line(number: int, run: Any, status: str | None, metric: tuple[str, str] | None) -> str:
    """``#3 finished acc=0.91 lr=0.01 (2.1 s)``: the objective (or every result), then the params."""
    from gitxp.objective import lookup

    results = dict(run.results)
    if metric is not None and lookup(results, *metric) is not None:
        shown = {metric[0]: lookup(results, *metric)}
    else:
        shown = results
    parts = [f"#{number}", str(status)]
    parts += [f"{k}={_number(v)}" for k, v in shown.items()]
    parts += [f"{k}={_number(v)}" for k, v in run.params.items()]
    return " ".join(parts) + f" ({time.time() - run._started:.1f} s)"


def _run_sweep(sweep: Any, controller: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gitxp.cli.output import console, emit_table, shorten, terminal_width

    counts = {"running": 0, "failed": 0}
    err = console(stderr=True)
    progress = Progress(
        TextColumn("[bold]sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("queued {task.fields[queued]}"),
        TextColumn("running {task.fields[running]}"),
        TextColumn("failed {task.fields[failed]}"),
        TextColumn("best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    task = progress.add_task("sweep", total=None, queued=0, running=0, failed=0, best="-")

    def on_event(event: str, run: Any, result: Any) -> None:
        if event == "begin":  # the strategy knows how many runs it will propose (None: open-ended)
            click.echo(
                f"gitxp: sweep of {result.total if result.total is not None else 'open-ended'} runs "
                f"({sweep.strategy}, "
                + (f"-j {sweep.jobs}" if sweep.executor == "local" else f"--executor {sweep.executor}")
                + f"), version {sweep.version.id}",
                err=True,
            )
            if result.resume_found is not None:
                click.echo(
                    f"gitxp: resuming: {result.resume_found} finished run"
                    f"{'' if result.resume_found == 1 else 's'} of this version found; matching points are skipped",
                    err=True,
                )
            progress.update(task, total=result.total)
            return
        if event == "skip":
            progress.advance(task)
            return
        if event == "metric-missing":
            text = _missing_metric_warning(sweep, run, result)
            err.print(text, style="bold yellow", soft_wrap=True, markup=False, highlight=False)
            return
        if event == "start":
            counts["running"] += 1
        else:
            counts["running"] -= 1
            if result.statuses.get(run.id) in ("failed", "crashed"):
                counts["failed"] += 1
            progress.advance(task)
            line = _progress_line(result.runs.index(run) + 1, run, result.statuses.get(run.id), sweep.metric)
            width = None if err.is_terminal else terminal_width()
            err.print(shorten(line, width) if width else line, soft_wrap=True, markup=False, highlight=False)
        best = f"{result.best_value:.6g}" if result.best_value is not None else "-"
        live = sweep.live.counts() if sweep.live is not None else {"running": counts["running"]}
        progress.update(
            task,
            queued=live.get("queued", 0),
            running=live.get("running", 0),
            failed=counts["failed"],
            best=best,
        )

    with progress:
        result = sweep.run(controller, on_event=on_event)
    _summarise(result, sweep, emit_table)
    return result


def _ranking(
    metric: tuple[str, str] | None, columns: list[str], rows: list[dict[str, Any]]
) -> tuple[str, str] | None:
    """(column, min|max) to rank a sweep's runs by: its objective; else its one numeric result when the name
    says which way is better (``fitness``: higher, as in Studio); else None (launch order, never "top")."""
    from gitxp.objective import column, guess_goal

    if metric is not None:
        found = column(*metric, columns)
        goal = metric[1] if metric[1] != "last" else guess_goal(metric[0])
        return (found, goal) if found is not None and goal else None
    numeric = sorted(
        {
            name
            for row in rows
            for name, value in row["results"].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
    )
    if len(numeric) != 1:
        return None
    goal = guess_goal(numeric[0])
    return (f"results.{numeric[0]}", goal) if goal else None


def _summarise(result: Any, sweep: Any, emit_table: Any) -> None:
    from gitxp.store import concat_tables, record_table

    rows = [dict(r._record, status=result.statuses.get(r.id, r.status)) for r in result.runs]
    if not rows:
        if result.skipped:
            click.echo(
                f"gitxp: all {result.skipped} points already finished on this version: nothing to run",
                err=True,
            )
        return
    table = concat_tables([record_table(r) for r in rows])
    ranking = _ranking(sweep.metric, table.column_names, rows)
    title = "runs (in launch order; --metric NAME:min|max ranks them)"
    if ranking is not None:
        from gitxp.query import select

        found, goal = ranking
        table = select(sweep.store, table, sort=f"{'' if goal == 'min' else '-'}{found}")
        title = f"top runs by {found[len('results.') :]} ({goal})"
    columns = ["run_id", "status"] + [c for c in table.column_names if c.startswith(("params.", "results."))]
    first = [ranking[0]] if ranking else []
    if len(sweep.objectives) > 1:
        import pyarrow as pa
        import pyarrow.compute as pc

        from gitxp.objective import column

        front = pa.array([r.id for r in result.front], pa.string())
        table = table.filter(pc.is_in(table["run_id"], value_set=front))
        first = [c for c in (column(*o, table.column_names) for o in sweep.objectives) if c]
        goals = ", ".join(":".join(o) for o in sweep.objectives)
        title = f"Pareto front: {table.num_rows} runs no other run beats on every objective ({goals})"
    emit_table(
        table.select(columns).slice(0, 10), "table", columns_given=True, title=title, first=first, fit=True
    )
    finished = sum(1 for s in result.statuses.values() if s == "finished")
    click.echo(
        f"{finished} finished, {result.failed} failed, "
        f"{sum(1 for s in result.statuses.values() if s == 'interrupted')} interrupted"
        + (f", {result.skipped} already finished (skipped)" if result.skipped else "")
        + (f", {result.pruned} pruned (saving about {result.saved:.0%} of the steps)" if sweep.prune else ""),
        err=True,
    )
    failures = [r for r in result.runs if result.statuses.get(r.id) == "failed"]
    for run in failures[:3]:  # say why, without making the user dig
        meta = run._record["meta"]
        tail = [line for line in meta.get("error.traceback") or [] if line.strip()][-1:]
        click.echo(
            f"failed: run {run.id} {dict(run.params)}: {meta.get('error.message')}"
            + (f": {tail[0].strip()}" if tail else "")
            + f" (gitxp show {run.id[:12]} --log)",
            err=True,
        )
    if len(failures) > 3:
        click.echo(f"... and {len(failures) - 3} more failed runs (gitxp ls --status failed)", err=True)
    if result.best is not None:
        best = result.best
        params = " ".join(f"{k}={v}" for k, v in best.params.items())
        click.echo(f"best: run {best.id} {sweep.metric[0]}={result.best_value:.6g} with {params}")
    elif result.best_earlier is not None:
        run_id, earlier = result.best_earlier
        params = " ".join(f"{k}={v}" for k, v in earlier.items())
        click.echo(f"best: run {run_id} (earlier) {sweep.metric[0]}={result.best_value:.6g} with {params}")


COMMANDS = [run_command]
