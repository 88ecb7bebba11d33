"""``gitxp ls`` and ``gitxp export``: reading the store (``gitxp show`` is in :mod:`gitxp.cli.show_cmd`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gitxp.cli.output import (
    FORMATS,
    emit_table,
    records_json,
    write_csv,
)
from gitxp.errors import UsageError

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
        click.option(
            "--status",
            metavar="S[,S]",
            help="running, finished, failed, interrupted, crashed, pruned, cancelled.",
        ),
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
    from gitxp.query import listing_table, select
    from gitxp.store import Store

    store = Store.open()
    from gitxp.cli.cluster_cmd import collect_detached

    collect_detached(store)  # trials left to Slurm (--detach) whose jobs have ended
    table = listing_table(store, archived=show_all, tags=tags, note=note, experiment=experiment, since=since)
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
    if table.num_rows == 0 and fmt == "table":  # a fresh clone: runs pushed by others come with gitxp pull
        from gitxp.store import Store
        from gitxp.store.commits import pull_hint

        click.echo(pull_hint(Store.open()) or "", err=True, nl=False)


def _objective_columns(table: Any) -> list[str]:
    """The result columns the listed runs were optimised for (their recorded ``--metric``s), most common first."""
    from collections import Counter

    from gitxp.query.objective import column, parse

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


COMMANDS = [ls_command, export_command]
