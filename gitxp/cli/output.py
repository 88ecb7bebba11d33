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

__all__ = ["FORMATS", "emit_table", "to_json_value", "records", "json_dumps", "short_id"]

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


def console(*, stderr: bool = False) -> Any:
    """A rich console; when output is not a terminal, wide enough that tables are never folded."""
    import sys

    from rich.console import Console

    if stderr:  # progress display: the terminal's width
        return Console(stderr=True)
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 10_000)


def render_rich(table: pa.Table, title: str | None = None) -> None:
    import pyarrow.types as pat
    from rich.table import Table

    view = Table(title=title, header_style="bold", show_lines=False)
    names = table.column_names
    for name in names:
        kind = table.schema.field(name).type
        numeric = pat.is_integer(kind) or pat.is_floating(kind)
        view.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in table.to_pylist():
        cells = [_cell(row[n], n) for n in names]
        if "status" in names:
            i = names.index("status")
            style = _status_style(cells[i])
            cells[i] = f"[{style}]{cells[i]}[/]" if style else cells[i]
        view.add_row(*cells)
    console().print(view)


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
    base = ["run_id", "experiment", "version", "status", "started", "duration"]
    return [c for c in table.column_names if c in base or c.startswith(("params.", "results."))]


def emit_table(table: pa.Table, fmt: str, *, columns_given: bool = False, title: str | None = None) -> None:
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
        render_rich(table, title)
