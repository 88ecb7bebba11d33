"""``gitxp ls``, ``gitxp show`` and ``gitxp export``: reading the store."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gitxp.cli.output import (
    FORMATS,
    emit_table,
    json_dumps,
    print_view,
    records,
    records_json,
    render_rich,
    to_json_value,
    write_csv,
)
from gitxp.errors import GitxpError, UsageError

__all__ = ["COMMANDS"]


def _check_limit(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    if value is not None and not 0 <= value < 2**63:
        raise click.BadParameter(f"{value} is not a number of runs from 0 to 2**63-1")
    return value


def filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The run filters shared by ``ls`` and ``export``."""
    options = [
        click.option("-e", "--experiment", multiple=True, help="Only runs of this experiment (repeatable)."),
        click.option(
            "--version", "version", metavar="REV", help="Only runs of this commit, branch, tag or version id."
        ),
        click.option("--status", metavar="S[,S]", help="running, finished, failed, interrupted, crashed."),
        click.option(
            "--where", metavar="EXPR", help="Filter, e.g. 'results.valid_acc > 0.9 and params.lr < 0.1'."
        ),
        click.option("--sort", metavar="[-]COL", multiple=True, help="Sort by column; '-' for descending."),
        click.option("--limit", type=int, callback=_check_limit, help="At most N runs."),
        click.option(
            "--columns", metavar="COLS", multiple=True, help="Comma-separated columns (globs allowed)."
        ),
        click.option("--since", metavar="REV", help="Only runs whose commit is REV or descends from it."),
        click.option(
            "--tag", "tags", metavar="NAME", multiple=True, help="Only runs tagged NAME (repeatable)."
        ),
        click.option("--note", metavar="TEXT", help="Only runs whose note contains TEXT (any case)."),
        click.option("--all", "show_all", is_flag=True, help="Also archived runs (gitxp archive)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _selected(
    experiment: tuple[str, ...],
    version: str | None,
    status: str | None,
    where: str | None,
    sort: tuple[str, ...],
    limit: int | None,
    columns: tuple[str, ...],
    since: str | None = None,
    tags: tuple[str, ...] = (),
    note: str | None = None,
    show_all: bool = False,
) -> Any:
    from gitxp.query import select
    from gitxp.store import Store

    store = Store.open()
    from gitxp.cli.cluster_cmd import collect_detached

    collect_detached(store)  # trials left to Slurm (--detach) whose jobs have ended
    table = store.table(show="archived" if show_all else "visible")
    if tags or note is not None:  # gitxp tag / gitxp note (gitxp.lifecycle)
        from gitxp.store.lifecycle import filter_table

        table = filter_table(table, tags, note)
    if experiment and table.num_rows:
        from gitxp.query import check_experiments

        check_experiments(table, experiment)
    if since:
        from gitxp.compare import since_filter

        table = since_filter(store, table, since)
    return select(
        store,
        table,
        experiment=list(experiment) or None,
        version=version,
        status=status,
        where=where,
        sort=list(sort) or None,
        limit=limit,
        columns=list(columns) or None,
    )


@click.command("ls")
@filter_options
@click.option(
    "--by", metavar="version|branch|COL", help="Group runs: counts and the summary metric per group."
)
@click.option(
    "--pareto", is_flag=True, help="Only the Pareto front of the runs' objectives (their --metric)."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def ls_command(fmt: str, columns: tuple[str, ...], by: str | None, pareto: bool, **filters: Any) -> None:
    """List runs (newest first), filtered and sorted."""
    if pareto:
        from gitxp.cli.search_views import pareto_table

        full = _selected(columns=(), **{**filters, "limit": None})
        table = pareto_table(full)
        if columns or filters.get("limit") is not None:
            from gitxp.query import select

            table = select(
                None,  # type: ignore[arg-type]  # no --version to resolve here
                table,
                limit=filters.get("limit"),
                columns=list(columns) or None,
                keep_order=True,
            )
        emit_table(
            table,
            fmt,
            columns_given=bool(columns),
            first=_objective_columns(table),
            title="Pareto front",
            all_rows=filters.get("limit") is not None,
            what="runs",
        )
        return
    table = _selected(columns=columns, **filters)
    if by:
        import pyarrow as pa

        from gitxp.compare import group_by
        from gitxp.query import resolve_column

        rows = group_by(table, resolve_column(by, table.column_names)) if table.num_rows else []
        grouped = pa.Table.from_pylist(rows) if rows else pa.table({by: pa.array([], pa.string())})
        emit_table(grouped, fmt, columns_given=True)
        return
    emit_table(
        table,
        fmt,
        columns_given=bool(columns),
        first=_objective_columns(table),
        all_rows=filters.get("limit") is not None,
        what="runs",
    )


def _objective_columns(table: Any) -> list[str]:
    """The result columns the listed runs were optimised for (their recorded ``--metric``s), most common first."""
    from collections import Counter

    from gitxp.objective import column, parse

    if "meta.metric" not in table.column_names:
        return []
    found = []
    for text, _ in Counter(m for m in table["meta.metric"].to_pylist() if m).most_common():
        name = column(*parse(text), table.column_names)
        if name and name not in found:
            found.append(name)
    return found


@click.command("export")
@filter_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="runs.parquet, runs.csv or runs.json ('-' for JSON on stdout).",
)
def export_command(output: Path, columns: tuple[str, ...], **filters: Any) -> None:
    """Write runs to a Parquet, CSV or JSON file that pandas, polars and DuckDB read directly."""
    table = _selected(columns=columns, **filters)
    suffix = output.suffix.lower()
    if str(output) != "-" and suffix in (".parquet", ".csv", ".json"):
        output.parent.mkdir(parents=True, exist_ok=True)
    if str(output) == "-":
        click.echo(records_json(table))
        return
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, output, compression="zstd")
    elif suffix == ".csv":
        with open(output, "w", newline="", encoding="utf-8") as handle:
            write_csv(table, handle)
    elif suffix == ".json":
        output.write_text(records_json(table) + "\n", encoding="utf-8")
    else:
        raise UsageError(
            f"-o {output}: unknown format {suffix or '(no extension)'}; use .parquet, .csv or .json"
        )
    click.echo(f"wrote {table.num_rows} runs to {output}", err=True)


def _metric_summary(metrics: Any) -> list[dict[str, Any]]:
    import pyarrow.compute as pc

    out = []
    for name in sorted(set(metrics["name"].to_pylist())):
        part = metrics.filter(pc.equal(metrics["name"], name))
        values = part["value"]
        out.append(
            {
                "name": name,
                "points": part.num_rows,
                "first_step": pc.min(part["step"]).as_py(),
                "last_step": pc.max(part["step"]).as_py(),
                "last": values[-1].as_py(),
                "min": pc.min(values).as_py(),
                "max": pc.max(values).as_py(),
            }
        )
    return out


def _diffstat(patch: bytes) -> list[str]:
    files, current, added, removed = [], None, 0, 0
    for line in patch.decode(errors="replace").splitlines():
        if line.startswith("diff --git "):
            if current:
                files.append(f"{current} | +{added} -{removed}")
            current, added, removed = line.split(" b/", 1)[-1], 0, 0
        elif line.startswith("# gitxp: not embedded"):
            files.append(line[2:])
        elif line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    if current:
        files.append(f"{current} | +{added} -{removed}")
    return files


def _print_section(title: str, values: dict[str, Any]) -> None:
    if not values:
        return
    import json

    from rich.table import Table

    view = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    view.add_column(style="bold")
    view.add_column(overflow="fold")
    for key, value in values.items():
        if isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, str):
            text = value
        else:
            text = json.dumps(to_json_value(value), ensure_ascii=False)
        view.add_row(key, text)
    print_view(view)


@click.command("show")
@click.argument("run", required=False)
@click.option("--diff", "show_diff", is_flag=True, help="Print the stored patch of uncommitted changes.")
@click.option("--metrics", "show_metrics", is_flag=True, help="Print the run's curves.")
@click.option("--log", "show_log", is_flag=True, help="Print the run's captured output.")
@click.option("-e", "--experiment", help="With --importance: the experiment (default: the run's).")
@click.option("--importance", is_flag=True, help="Which params matter most for the experiment's objective.")
@click.option(
    "--metric", metavar="NAME:min|max", help="With --importance: the objective (default: recorded)."
)
@click.option(
    "--evaluator", type=click.Choice(["fanova", "mdi", "ped-anova"]), default="fanova", show_default=True
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def show_command(
    run: str | None,
    show_diff: bool,
    show_metrics: bool,
    show_log: bool,
    experiment: str | None,
    importance: bool,
    metric: str | None,
    evaluator: str,
    fmt: str,
) -> None:
    """Show one run (id or unique prefix): version, params, results, meta, curves; or, with -e EXP
    --importance, which params matter most for the experiment's objective."""
    import pyarrow.compute as pc

    from gitxp.store import Store

    store = Store.open()
    table = store.table(show="archived")  # an archived run can still be shown by its id
    if importance:
        from gitxp.cli.search_views import print_importance
        from gitxp.query import check_experiments

        if experiment is None and run is None:
            raise UsageError("--importance needs -e EXP (or a run of the experiment)")
        if experiment is None:
            row = table.filter(pc.equal(table["run_id"], store.resolve_run(str(run), table)))
            experiment = row["experiment"][0].as_py()
        check_experiments(table, [str(experiment)])
        print_importance(store, str(experiment), metric, evaluator)
        return
    if run is None:
        raise UsageError("show needs a RUN (an id or a unique prefix; see 'gitxp ls')")
    try:
        run_id = store.resolve_run(run, table)
    except GitxpError:  # a removed run (gitxp rm): say so
        from gitxp.store.lifecycle import load_view, why_hidden

        reason = why_hidden(load_view(store.repo, store.head(), store.cache_dir), run)
        if reason is None:
            raise
        raise UsageError(reason) from None
    row = table.filter(pc.equal(table["run_id"], run_id))
    row = row.select([c for c in row.column_names if row[c][0].is_valid])
    if show_diff or show_log:
        data = store.run_file(run_id, "diff.patch" if show_diff else "stdout.log")
        if data is None:
            click.echo(
                "(run has no uncommitted changes)" if show_diff else "(no output was captured)", err=True
            )
            return
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    metrics = store.metrics(run_id)
    if show_metrics:
        if fmt == "table" and not metrics.num_rows:
            click.echo(f"run {run_id[:12]} has no per-step metrics")
            return
        if fmt == "table":
            import pyarrow as pa

            wide: dict[int, dict[str, float]] = {}
            for step, name, value in zip(
                metrics["step"].to_pylist(), metrics["name"].to_pylist(), metrics["value"].to_pylist()
            ):
                wide.setdefault(step, {})[name] = value
            names = sorted(set(metrics["name"].to_pylist()))
            steps = sorted(wide)
            pivot = pa.table({"step": steps, **{n: [wide[s].get(n) for s in steps] for n in names}})
            render_rich(pivot, f"metrics of {run_id[:12]}", fit=True, first=["step", *names])
        else:
            emit_table(metrics, fmt)
        return
    item = records(row)[0]
    patch = store.run_file(run_id, "diff.patch")
    item["metrics"] = _metric_summary(metrics) if metrics.num_rows else []
    item["diffstat"] = _diffstat(patch) if patch else []
    if fmt == "json":
        click.echo(json_dumps(item))
        return
    if fmt == "csv":
        emit_table(row, "csv")
        return
    from gitxp.store import BASE_COLUMNS

    header = {k: item[k] for k in BASE_COLUMNS if item.get(k) is not None}
    if isinstance(header.get("duration"), float):
        header["duration"] = f"{header['duration']:.3f}s"
    for key in ("tags", "note", "archived"):  # gitxp tag / note / archive
        if item.get(key) is not None:
            header[key] = item[key]
    _print_section("run", header)
    for group in ("params", "results"):
        _print_section(group, item.get(group, {}))
    meta = dict(item.get("meta", {}))
    tb = meta.pop("error.traceback", None)
    _print_section("meta", meta)
    for summary in item["metrics"]:
        summary_line = {k: v for k, v in summary.items() if k != "name"}
        _print_section(f"metric {summary['name']}", summary_line)
    if item["diffstat"]:
        click.echo("\nuncommitted changes (gitxp show --diff):")
        for line in item["diffstat"]:
            click.echo(f"  {line}")
    if tb:
        click.echo("\ntraceback (tail):")
        click.echo("\n".join(tb))


COMMANDS = [ls_command, show_command, export_command]
