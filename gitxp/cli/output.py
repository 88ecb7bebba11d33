"""Rendering run tables for people (rich) and for programs (JSON, CSV, Parquet)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from gitxp.cli.fast_text import json_dumps, records, records_json, to_json_value, write_csv
from gitxp.cli.plain import plain_table

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMATS",
    "emit_table",
    "to_json_value",
    "records",
    "json_dumps",
    "records_json",
    "write_csv",
    "short_id",
    "short_ids",
    "shorten",
    "terminal_width",
    "max_rows",
]

FORMATS = ("table", "csv", "json")
_GROUPS = ("params", "results", "meta")


def short_ids(ids: list[str], store: Any = None) -> list[str]:
    """Run ids as gitxp prints them: the shortest prefixes (8 characters or more) unique among every run of
    ``store`` (default: the current directory's), so ``gitxp show <printed id>`` finds the run. Ids stay whole
    where there is no store."""
    if not ids:
        return []
    if store is None:
        from gitxp.errors import GitxpError
        from gitxp.store import Store

        try:
            store = Store.open()
        except GitxpError:
            return list(ids)
    return list(store.short_ids(ids))


def short_id(run_id: str, store: Any = None) -> str:
    """One run id as printed (see ``short_ids``)."""
    return short_ids([run_id], store)[0]


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
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


def in_kernel_child() -> bool:
    """Whether this process was started by a Jupyter kernel (``!gitxp run`` in a cell): the kernel runs it on a
    pseudo-terminal with ``FORCE_COLOR`` set, but the output lands in a notebook cell, where every redraw of a
    progress bar would stay as escape codes (a kernel's children inherit ``JPY_PARENT_PID`` from its launcher)."""
    return "JPY_PARENT_PID" in os.environ


def console(*, stderr: bool = False) -> Any:
    """A rich console; stdout at the width to fit (or wide enough that nothing folds when piped); stderr never
    wraps its lines (``print(..., soft_wrap=True)`` is used for messages)."""
    from rich.console import Console

    if stderr:  # progress display: the terminal's width (FORCE_COLOR forces it), never into a notebook cell
        return Console(stderr=True, force_terminal=False if in_kernel_child() else None)
    return Console(soft_wrap=False, width=terminal_width() or 10_000)


def write_out(text: str) -> None:
    """``text`` (JSON or CSV data) on stdout exactly: ``click.echo`` strips what looks like colour codes from piped
    text, which would alter a value holding an escape sequence; one encoded write, too."""
    stream = sys.stdout
    binary = getattr(stream, "buffer", None)
    if binary is None:
        stream.write(text)
        return
    stream.flush()
    binary.write(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
    binary.flush()


def print_view(view: Any) -> None:
    """Print a rich renderable on stdout; piped, without the spaces rich pads each line with to the table's width
    (a file or a diff of ``gitxp show`` output has no trailing blanks)."""
    out = console()
    if out.is_terminal:
        out.print(view)
        return
    with out.capture() as captured:
        out.print(view)
    click.echo("\n".join(line.rstrip() for line in captured.get().rstrip("\n").split("\n")))


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` at a word boundary, with an ellipsis: a line that never wraps mid-word."""
    if len(text) <= width:
        return text
    cut = text[: max(1, width - 1)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut + "…"


ID_ROOM = 12  # characters the id column counts as taking at least, when choosing the columns that fit
MAX_CELL = 24  # characters a cell may take in a fitted table before it is cut with an ellipsis


def _fit(names: list[str], cells: list[list[str]], width: int, keep: int) -> list[int]:
    """Indexes of the columns (in priority order) that fit ``width``; the first ``keep`` always stay."""
    chosen, used = [], 0
    for i, name in enumerate(names):
        header = _header(name, names)
        need = min(MAX_CELL, max([len(header)] + [len(row[i]) for row in cells])) + 3  # padding, separator
        if name == "run_id":  # ids as printed vary in length (8 to 26) with timing: the choice of columns not
            need = max(need, ID_ROOM + 3)
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
    width = terminal_width()
    names = table.column_names
    rows = table.to_pylist()
    if "run_id" in names:  # ids as printed: unique prefixes in the store
        ids = [row["run_id"] for row in rows if isinstance(row["run_id"], str)]
        shown = dict(zip(ids, short_ids(ids)))
        for row in rows:
            row["run_id"] = shown.get(row["run_id"], row["run_id"])
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
    numeric = [_is_numeric(table.schema.field(name).type) for name in names]
    headers = [_header(name, names) if fit and width else name for name in names]
    plain = plain_table(
        headers,
        cells,
        numeric,
        boxed=bool(width),
        max_width=MAX_CELL if fit and width else None,
        screen=width or 10_000,
    )
    if plain is not None:
        click.echo(plain, nl=False)
    else:
        _rich_table(
            headers, cells, numeric, names, boxed=bool(width), max_width=MAX_CELL if fit and width else None
        )
    if hidden:
        plural = "s" if hidden > 1 else ""
        click.echo(f"({hidden} more column{plural} not shown: gitxp ls --columns or --format csv)", err=True)


def _is_numeric(kind: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_integer(kind) or pat.is_floating(kind))


def _rich_table(
    headers: list[str],
    cells: list[list[str]],
    numeric: list[bool],
    names: list[str],
    *,
    boxed: bool,
    max_width: int | None,
) -> None:
    from rich import box
    from rich.table import Table

    view = Table(
        header_style="bold",
        box=box.SIMPLE_HEAD if boxed else None,
        pad_edge=False,
        show_edge=False,
    )
    for header, right in zip(headers, numeric):
        view.add_column(
            header,
            justify="right" if right else "left",
            no_wrap=True,
            overflow="ellipsis",
            max_width=max_width,
        )
    for row in cells:
        if "status" in names:
            i = names.index("status")
            style = _status_style(row[i])
            row = [*row[:i], f"[{style}]{row[i]}[/]" if style else row[i], *row[i + 1 :]]
        view.add_row(*row)
    print_view(view)


def default_columns(table: pa.Table) -> list[str]:
    """Columns shown by ``ls`` in a terminal: identity, status, params and results (meta on request)."""
    base = ["run_id", "experiment", "version", "status", "started", "duration", "tags", "archived"]
    return [
        c
        for c in table.column_names
        if c in base or (c.startswith(("params.", "results.")) and table[c].null_count < table.num_rows)
    ]


PIPED_ROWS = (
    100  # rows of a table whose output goes to a pipe or file (no height known): use csv/json for all
)


def max_rows() -> int:
    """How many rows a table shows: what fits the terminal's height ($LINES when set) below its header and above
    the prompt, at least 10; ``PIPED_ROWS`` when the height is unknown (piped output)."""
    import os
    import shutil
    import sys

    lines = os.environ.get("LINES", "")
    height = int(lines) if lines.isdigit() and int(lines) > 0 else None
    if height is None and sys.stdout.isatty():
        height = shutil.get_terminal_size().lines
    return max(10, height - 5) if height else PIPED_ROWS


def emit_table(
    table: pa.Table,
    fmt: str,
    *,
    columns_given: bool = False,
    title: str | None = None,
    first: list[str] | None = None,
    fit: bool | None = None,
    all_rows: bool = False,
    what: str = "rows",
) -> None:
    """Print a run table in ``fmt``: table (rich), csv, or json (a list of run objects).

    A table shows as many rows as fit (see ``max_rows``; all of them with ``all_rows``, e.g. after ``--limit``)
    and says on stderr how many ``what`` it left out and how to see them; csv and json hold every row."""
    if fmt == "json":
        write_out(records_json(table) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        write_csv(table, buffer)
        write_out(buffer.getvalue())
    else:
        if not columns_given:
            table = table.select(default_columns(table))
        if table.num_rows == 0:
            click.echo("no runs", err=True)
            return
        total, shown = table.num_rows, table.num_rows if all_rows else min(table.num_rows, max_rows())
        render_rich(table.slice(0, shown), title, fit=not columns_given if fit is None else fit, first=first)
        if shown < total:
            click.echo(
                f"({total - shown:,} more {what} not shown: --limit N shows N, --format csv or json shows all)",
                err=True,
            )
