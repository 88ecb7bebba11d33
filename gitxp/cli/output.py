"""Rendering run tables for people (rich) and for programs (JSON, CSV, Parquet)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMATS",
    "emit_table",
    "to_json_value",
    "records",
    "json_dumps",
    "short_id",
    "shorten",
    "terminal_width",
]

FORMATS = ("table", "csv", "json")
SHORT_ID = 12
_GROUPS = ("params", "results", "meta")


def short_id(run_id: str) -> str:
    return run_id[:SHORT_ID]


def to_json_value(value: Any) -> Any:
    """A cell as JSON: timestamps as ISO 8601, NaN and infinities as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    return value


def records(table: pa.Table, *, nested: bool = True) -> list[dict[str, Any]]:
    """Rows as dicts; with ``nested``, ``params.lr`` becomes ``{"params": {"lr": ...}}``. Null cells are left out
    of the groups (a run has only the params it was given)."""
    out = []
    for row in table.to_pylist():
        item: dict[str, Any] = {}
        for name, value in row.items():
            group, _, key = name.partition(".")
            if nested and group in _GROUPS and key:
                if value is not None:
                    item.setdefault(group, {})[key] = to_json_value(value)
            else:
                item[name] = to_json_value(value)
        out.append(item)
    return out


def json_dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if column == "run_id":
        return short_id(value)
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if column == "duration" and isinstance(value, float):
        return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}m"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return json.dumps(to_json_value(value))
    return str(value)


def _status_style(status: str) -> str:
    return {
        "finished": "green",
        "failed": "red",
        "crashed": "red",
        "interrupted": "yellow",
        "running": "cyan",
    }.get(status, "")


def terminal_width() -> int | None:
    """The width tables must fit: the terminal's, or ``$COLUMNS`` when set; None for piped output (plain,
    never wrapped)."""
    import os
    import shutil
    import sys

    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def console(*, stderr: bool = False) -> Any:
    """A rich console; stdout at the width to fit (or wide enough that nothing folds when piped); stderr never
    wraps its lines (``print(..., soft_wrap=True)`` is used for messages)."""
    from rich.console import Console

    if stderr:  # progress display: the terminal's width
        return Console(stderr=True)
    return Console(soft_wrap=False, width=terminal_width() or 10_000)


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` at a word boundary, with an ellipsis: a line that never wraps mid-word."""
    if len(text) <= width:
        return text
    cut = text[: max(1, width - 1)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut + "…"


MAX_CELL = 24  # characters a cell may take in a fitted table before it is cut with an ellipsis


def _fit(names: list[str], cells: list[list[str]], width: int, keep: int) -> list[int]:
    """Indexes of the columns (in priority order) that fit ``width``; the first ``keep`` always stay."""
    chosen, used = [], 0
    for i, name in enumerate(names):
        header = _header(name, names)
        need = min(MAX_CELL, max([len(header)] + [len(row[i]) for row in cells])) + 3  # padding, separator
        if i >= keep and used + need > width:
            continue
        chosen.append(i)
        used += need
    return chosen


def _priority(names: list[str], cells: list[list[str]], sort_first: list[str]) -> list[str]:
    """Columns most worth a narrow terminal first: id, status, the ranked-by columns, then what tells the rows
    apart (params, results, experiment, version that vary), then what is the same in every row."""
    varies = {n for i, n in enumerate(names) if len({row[i] for row in cells}) > 1}
    rest = ("experiment", "version", "started", "duration")

    def rank(name: str) -> tuple[int, int]:
        if name == "run_id":
            return (0, 0)
        if name == "status":
            return (1, 0)
        if name in sort_first:
            return (2, sort_first.index(name))
        if name == "tags":  # gitxp tag: short, and what the user chose to tell runs apart
            return (2, len(sort_first))
        order = 3 if name.startswith("params.") else 4 if name.startswith("results.") else 5
        if name in ("started", "duration"):
            order = 7
        return (order if name in varies else order + 3, rest.index(name) if name in rest else len(rest))

    return sorted(names, key=rank)


def _header(name: str, names: list[str]) -> str:
    """``params.lr`` -> ``lr`` when no other shown column ends the same way."""
    group, _, key = name.partition(".")
    if group in _GROUPS and key and sum(1 for n in names if n.partition(".")[2] == key) == 1:
        return key
    return name


def render_rich(
    table: pa.Table, title: str | None = None, *, fit: bool = False, first: list[str] | None = None
) -> None:
    """Print a table. With ``fit`` and a known width (a terminal, or $COLUMNS), choose the columns that fit
    (id, status, ``first``, params, results, then the rest), cut long cells with an ellipsis and say how many
    columns were left out; cells never wrap. Piped output keeps every column, unwrapped."""
    import pyarrow.types as pat
    from rich import box
    from rich.table import Table

    width = terminal_width()
    names = table.column_names
    rows = table.to_pylist()
    cells = [[_cell(row[n], n) for n in names] for row in rows]
    hidden = 0
    if fit and width:
        order = _priority(names, cells, first or [])
        index = [names.index(n) for n in order]
        ordered = [[row[i] for i in index] for row in cells]
        keep = _fit(order, ordered, width, keep=2 if "status" in names else 1)
        hidden = len(names) - len(keep)
        names = [order[i] for i in keep]
        cells = [[row[i] for i in keep] for row in ordered]
    if title:  # a line of its own: a table title would wrap to the table's width
        click.echo(title)
    view = Table(
        header_style="bold",
        box=box.SIMPLE_HEAD if width else None,
        pad_edge=False,
        show_edge=False,
    )
    for name in names:
        kind = table.schema.field(name).type
        numeric = pat.is_integer(kind) or pat.is_floating(kind)
        view.add_column(
            _header(name, names) if fit and width else name,
            justify="right" if numeric else "left",
            no_wrap=True,
            overflow="ellipsis",
            max_width=MAX_CELL if fit and width else None,
        )
    for row in cells:
        if "status" in names:
            i = names.index("status")
            style = _status_style(row[i])
            row = [*row[:i], f"[{style}]{row[i]}[/]" if style else row[i], *row[i + 1 :]]
        view.add_row(*row)
    console().print(view)
    if hidden:
        plural = "s" if hidden > 1 else ""
        click.echo(f"({hidden} more column{plural} not shown: gitxp ls --columns or --format csv)", err=True)


def write_csv(table: pa.Table, handle: Any) -> None:
    writer = csv.writer(handle)
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(
            [
                "" if v is None else json.dumps(to_json_value(v)) if isinstance(v, list) else to_json_value(v)
                for v in row.values()
            ]
        )


def default_columns(table: pa.Table) -> list[str]:
    """Columns shown by ``ls`` in a terminal: identity, status, params and results (meta on request)."""
    base = ["run_id", "experiment", "version", "status", "started", "duration", "tags", "archived"]
    return [
        c
        for c in table.column_names
        if c in base or (c.startswith(("params.", "results.")) and table[c].null_count < table.num_rows)
    ]


def emit_table(
    table: pa.Table,
    fmt: str,
    *,
    columns_given: bool = False,
    title: str | None = None,
    first: list[str] | None = None,
    fit: bool | None = None,
) -> None:
    """Print a run table in ``fmt``: table (rich), csv, or json (a list of run objects)."""
    if fmt == "json":
        click.echo(json_dumps(records(table)))
    elif fmt == "csv":
        buffer = io.StringIO()
        write_csv(table, buffer)
        click.echo(buffer.getvalue(), nl=False)
    else:
        if not columns_given:
            table = table.select(default_columns(table))
        if table.num_rows == 0:
            click.echo("no runs", err=True)
            return
        render_rich(table, title, fit=not columns_given if fit is None else fit, first=first)
