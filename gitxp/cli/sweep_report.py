"""What ``gitxp run`` prints about a sweep: the plan, the progress of each run, the final ranking."""

from __future__ import annotations

import time
from typing import Any

import click

from gitxp.cli.output import short_ids
from gitxp.errors import UsageError


def missing_metric_error(sweep: Any, result: Any) -> UsageError:
    """The error of a sweep whose runs never reported its metric: the names they did report, and how to."""
    from gitxp.errors import did_you_mean

    name = sweep.metric[0]
    names = result.missing_metric or []
    hint = did_you_mean(name, names) or (
        f" (its results: {', '.join(names)})" if names else " (it reported no results)"
    )
    return UsageError(f"--metric {name!r}: no finished run reported it{hint}")


def _missing_metric_warning(sweep: Any, run: Any, result: Any) -> str:
    from gitxp.search.sweep import UNINFORMED

    message = f"warning: run {run.id} finished without the result {sweep.metric[0]!r}"
    hint = missing_metric_error(sweep, result).args[0].split("reported it", 1)[1]
    then = (
        "the sweep goes on, but its runs cannot be ranked"
        if sweep.strategy in UNINFORMED
        else f"--strategy {sweep.strategy} cannot search blind: no new runs are proposed"
    )
    return f"{message}{hint}; {then}"


def mask_quote(arg: str) -> str:
    import shlex

    from gitxp.version.secrets import mask_argv

    return shlex.quote(mask_argv([arg])[0])


def print_plan(sweep: Any, shown: int = 5) -> None:
    """``--dry-run``: how many runs, the first param sets, the command; nothing is run or recorded."""
    import shlex

    total, points = sweep.plan(shown)
    count = "an open-ended number of" if total is None else str(total)
    click.echo(
        f"dry run: {count} run{'' if total == 1 else 's'} ({sweep.strategy}, -j {sweep.jobs}), "
        f"version {sweep.version.id}"
        + (
            f"; {sweep.planned_skips} already finished on this version (skipped with --resume)"
            if sweep.planned_skips
            else ""
        )
    )
    for number, point in enumerate(points, 1):
        click.echo(f"  #{number} " + (" ".join(f"{k}={v!r}" for k, v in point.items()) or "(no params)"))
    if total is not None and total > len(points):
        click.echo(f"  ... and {total - len(points)} more")
    if sweep.strategy not in ("grid", "random") and points:
        click.echo("  (informed proposals after the first depend on the results)")
    click.echo("command: " + shlex.join(sweep.command.argv))


def single_event(event: str, run: Any, result: Any) -> None:
    """What ``gitxp run`` of a single run says on stderr as it starts and ends (``on_event`` of the sweep)."""
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
        duration = time.time() - run.started
        click.echo(
            f"gitxp: run {run.id} {status} in {duration:.1f}s" + (f": {results}" if results else ""), err=True
        )
        if status == "finished" and not results:
            click.echo(
                "gitxp: no results recorded: print 'gitxp: name=value' lines, or read yours with --parse\n"
                "  REGEX (e.g. --parse 'valid_acc: (?P<valid_acc>[\\d.]+)')",
                err=True,
            )


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _progress_line(number: int, run: Any, status: str | None, metric: tuple[str, str] | None) -> str:
    """``#3 finished acc=0.91 lr=0.01 (2.1 s)``: the objective (or every result), then the params."""
    from gitxp.query.objective import lookup

    results = dict(run.results)
    if metric is not None and lookup(results, *metric) is not None:
        shown = {metric[0]: lookup(results, *metric)}
    else:
        shown = results
    parts = [f"#{number}", str(status)]
    parts += [f"{k}={_number(v)}" for k, v in shown.items()]
    parts += [f"{k}={_number(v)}" for k, v in run.params.items()]
    return " ".join(parts) + f" ({time.time() - run.started:.1f} s)"


def run_sweep(sweep: Any, controller: Any) -> Any:
    """Run a sweep of several runs with a progress bar (a line per run when not a terminal); its result."""
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
                + f"), version {sweep.version.id}"
                + (f"; {result.warm}" if result.warm else ""),
                err=True,
            )
            if sweep.strategy == "grid" and (sweep.n or 1) > 1 and sweep.command is not None:
                click.echo(
                    f"gitxp: {sweep.n} repeats of each point, each with its own seed: $GITXP_SEED is the repeat "
                    f"index (0..{sweep.n - 1}), recorded as meta.seed",
                    err=True,
                )
            for note in result.notes:
                if note != result.warm:
                    click.echo(f"gitxp: {note}", err=True)
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
        if event == "note":
            progress.console.print(
                f"gitxp: {result.notes[-1]}", soft_wrap=True, markup=False, highlight=False
            )
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
        queued, running = live.get("queued", 0), live.get("running", 0)
        progress.update(task, queued=queued, running=running, failed=counts["failed"], best=best)

    with progress:
        result = sweep.run(controller, on_event=on_event)
    _summarise(result, sweep, emit_table)
    return result


def _note_identical_repeats(result: Any) -> None:
    """Repeats of every point that all gave the same results: the command most likely ignores $GITXP_SEED, and
    N copies of one sample are not N samples (a report's CI would stand on nothing)."""
    import json

    by_point: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for run in result.runs:
        if result.statuses.get(run.id) == "finished" and run.results:
            key = json.dumps(dict(run.params), sort_keys=True, default=str)
            by_point.setdefault(key, set()).add(json.dumps(dict(run.results), sort_keys=True, default=str))
            counts[key] = counts.get(key, 0) + 1
    repeated = [k for k, n in counts.items() if n > 1]
    if repeated and all(len(by_point[k]) == 1 for k in repeated):
        click.echo(
            "gitxp: note: every repeat of a point gave the same results: the command seems to ignore "
            "$GITXP_SEED\n  (seed its randomness with it, or drop -n)",
            err=True,
        )


def _ranking(
    metric: tuple[str, str] | None, columns: list[str], rows: list[dict[str, Any]]
) -> tuple[str, str] | None:
    """(column, min|max) to rank a sweep's runs by: its objective; else its one numeric result when the name
    says which way is better (``fitness``: higher, as in Studio); else None (launch order, never "top")."""
    from gitxp.query.objective import column, guess_goal

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

    rows = [dict(r.record, status=result.statuses.get(r.id, r.status)) for r in result.runs]
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

        from gitxp.query.objective import column

        front = pa.array([r.id for r in result.front], pa.string())
        table = table.filter(pc.is_in(table["run_id"], value_set=front))
        first = [c for c in (column(name, goal, table.column_names) for name, goal in sweep.objectives) if c]
        goals = ", ".join(":".join(o) for o in sweep.objectives)
        title = f"Pareto front: {table.num_rows} runs no other run beats on every objective ({goals})"
    emit_table(
        table.select(columns).slice(0, 10), "table", columns_given=True, title=title, first=first, fit=True
    )
    finished = sum(1 for s in result.statuses.values() if s == "finished")
    cancelled = sum(1 for s in result.statuses.values() if s == "cancelled")
    click.echo(
        f"{finished} finished, {result.failed} failed, "
        f"{sum(1 for s in result.statuses.values() if s == 'interrupted')} interrupted"
        + (f", {cancelled} cancelled" if cancelled else "")
        + (f", {result.skipped} already finished (skipped)" if result.skipped else "")
        + (f", {result.pruned} pruned (saving about {result.saved:.0%} of the steps)" if sweep.prune else ""),
        err=True,
    )
    if sweep.strategy == "grid" and (sweep.n or 1) > 1 and sweep.command is not None:
        _note_identical_repeats(result)
    failures = [r for r in result.runs if result.statuses.get(r.id) == "failed"]
    shown = dict(zip([r.id for r in failures[:3]], short_ids([r.id for r in failures[:3]], sweep.store)))
    for run in failures[:3]:  # say why, without making the user dig
        meta = run.record["meta"]
        tail = [line for line in meta.get("error.traceback") or [] if line.strip()][-1:]
        click.echo(
            f"failed: run {run.id} {dict(run.params)}: {meta.get('error.message')}"
            + (f": {tail[0].strip()}" if tail else "")
            + f" (gitxp show {shown[run.id]} --log)",
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
