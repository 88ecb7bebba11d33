"""``gitxp compare``: versions, branches, commits or runs side by side."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from gitxp.cli.output import json_dumps, print_view, short_ids, terminal_width, to_json_value

__all__ = ["COMMANDS", "render_rows"]

COMPARE_FORMATS = ("table", "json", "csv", "markdown")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _signed(value: float) -> str:
    return f"{value:+.4g}"


def render_rows(
    title: str, headers: list[str], rows: list[list[Any]], fmt: str, highlight: list[bool] | None = None
) -> str | None:
    """One table in ``fmt`` (markdown/csv returned as text; table printed with rich)."""
    if fmt == "markdown":
        lines = [f"**{title}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        for i, row in enumerate(rows):
            cells = [_fmt(c).replace("|", "\\\\|") for c in row]
            if highlight and highlight[i]:
                cells = [cells[0]] + [f"**{c}**" if c else c for c in cells[1:]]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        writer.writerows([[_fmt(c) for c in row] for row in rows])
        return buffer.getvalue()
    from rich import box
    from rich.table import Table

    view = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, show_edge=False)
    for header in headers:
        view.add_column(header, overflow="fold")
    for i, row in enumerate(rows):
        style = "yellow" if highlight and highlight[i] else None
        view.add_row(*[_fmt(c) for c in row], style=style)
    print_view(view)
    return None


def summarise_values(values: list[str], few: int = 4) -> str:
    """A cell for many distinct values: listed when few, else ``12 values in 0.0001…0.1`` (numbers) or the
    first few and a count."""
    if len(values) <= few:
        return ", ".join(values)
    numbers = []
    for value in values:
        try:
            numbers.append(float(value))
        except ValueError:
            break
    else:
        return f"{len(values)} values in {min(numbers):g}…{max(numbers):g}"
    return ", ".join(values[: few - 1]) + f", … ({len(values)} values)"


def summarise_counts(counts: list[tuple[str, int]], many: int = 8) -> str:
    """A cell for a group's values of one param, each with its run count (``0.1 (8 runs), 0.01 (1 run)``), most
    runs first; only a long list of values that each one run has (a sweep) is summarised as a range."""
    if not counts:
        return "(not recorded)"
    if len(counts) > many and all(n == 1 for _, n in counts):
        return summarise_values(sorted(v for v, _ in counts)) + " (1 run each)"
    return ", ".join(f"{value} ({n} run{'' if n == 1 else 's'})" for value, n in counts)


def _emit_notes(notes: list[str], fmt: str) -> None:
    """How each side was chosen, before the tables (wrapped to the terminal)."""
    width = terminal_width()
    for line in notes:
        if fmt == "markdown":
            click.echo(f"- {line}")
        else:
            click.echo("\n".join(textwrap.wrap(line, width, subsequent_indent="  ")) if width else line)
    click.echo("")


def _emit(text: str | None) -> None:
    if text is not None:
        click.echo(text)


@click.command("compare")
@click.argument("selectors", nargs=-1, required=True)
@click.option(
    "--metric", metavar="NAME[:min|max]", help="The value to compare (default: the runs' summary metric)."
)
@click.option("--code", is_flag=True, help="Add the code difference (commit diff plus uncommitted patches).")
@click.option("--full", is_flag=True, help="With --code: the full diff instead of a diffstat.")
@click.option("--all", "show_all", is_flag=True, help="Runs: also show keys whose values are the same.")
@click.option("--since", metavar="REV", help="Only runs whose commit is REV or descends from it.")
@click.option("-e", "--experiment", multiple=True, help="Only runs of this experiment (repeatable).")
@click.option("--status", metavar="S[,S]", help="Only runs with this status (e.g. finished).")
@click.option("--where", metavar="EXPR", help="Only runs matching this filter, as in gitxp ls.")
@click.option("--archived", is_flag=True, help="Also archived runs (gitxp archive).")
@click.option(
    "--all-versions",
    is_flag=True,
    help="A branch, tag or commit pools every version on its history (default: its newest version with runs).",
)
@click.option("--reruns", is_flag=True, help="Count reruns of other runs as samples (default: left out).")
@click.option("--format", "fmt", type=click.Choice(COMPARE_FORMATS), default="table", show_default=True)
def compare_command(
    selectors: tuple[str, ...],
    metric: str | None,
    code: bool,
    full: bool,
    show_all: bool,
    since: str | None,
    experiment: tuple[str, ...],
    status: str | None,
    where: str | None,
    archived: bool,
    all_versions: bool,
    reruns: bool,
    fmt: str,
) -> None:
    """Compare runs, versions, commits, tags or branches: gitxp compare A B [C ...].

    A branch, tag or HEAD is the newest code version on its history that has runs (its tip's, or the nearest
    ancestor's), never every version it ever had: --all-versions pools them. A branch that exists only as
    origin/NAME is found as git checkout finds it. Reruns of other runs are left out (--reruns counts them).
    Groups holding several experiments are compared experiment by experiment (one block each), never pooled;
    -e EXP compares one."""
    from gitxp.compare import (
        check_metric,
        code_diff,
        compare_by_experiment,
        compare_runs,
        resolve_groups,
    )
    from gitxp.query import listing_table, select
    from gitxp.store import Store

    store = Store.open()
    table = listing_table(
        store, archived=archived, experiment=experiment, since=since, show_archived="--archived"
    )
    table = select(store, table, experiment=list(experiment) or None, status=status, where=where)
    from gitxp.errors import UsageError

    try:
        groups = resolve_groups(store, table, list(selectors), all_versions=all_versions, reruns=reruns)
    except UsageError:
        from gitxp.store.lifecycle import load_view, why_hidden

        state = load_view(store.repo, store.head(), store.cache_dir)
        for text in selectors:  # an archived or removed run: say so, and how to see it
            reason = why_hidden(state, text, "--archived")
            if reason:
                raise UsageError(reason) from None
        raise
    single = all(g.kind == "run" for g in groups)
    if metric and not single:
        check_metric(groups, metric)
    if single:
        report = compare_runs(groups, show_all=show_all)
    else:
        report = compare_by_experiment(groups, metric)
    from gitxp.store.world import world_differences

    report.update(world_differences(store, groups))
    if code:
        report["code"] = [
            {"a": groups[0].label, "b": g.label, "diff": code_diff(store, groups[0], g, full=full)}
            for g in groups[1:]
        ]
    if fmt == "json":
        click.echo(json_dumps(to_json_value(report)))
        return
    notes = [line for g in groups for line in g.notes()]
    if notes and fmt in ("table", "markdown"):
        _emit_notes(notes, fmt)
    if single:
        rows = report["rows"]
        _emit(
            render_rows(
                "runs",
                ["key", *short_ids(list(report["runs"]))],
                [[r["key"], *r["values"]] for r in rows],
                fmt,
                [r["differs"] for r in rows],
            )
        )
    elif report["kind"] == "experiments" and fmt == "csv":
        _csv(report["experiments"])
    elif report["kind"] == "experiments":
        for block in report["experiments"]:
            _emit(_experiment_heading(block, fmt))
            if "note" not in block:
                _render_groups(block, fmt)
    else:
        _render_groups(report, fmt)
    _render_world(report, fmt)
    for item in report.get("code", []):
        header = f"code: {item['a']} -> {item['b']}"
        if fmt == "markdown":
            click.echo(f"**{header}**\n\n```diff\n{item['diff'].rstrip()}\n```\n")
        elif fmt == "table":
            click.echo(f"\n{header}\n{item['diff'].rstrip() or '(same code)'}")


# ---------------------------------------------------------------------------------------------- the world of the
# sides: package environments and declared inputs (issue 22; kept apart from the results' comparison above)


def _render_world(report: dict[str, Any], fmt: str) -> None:
    """The environment and input blocks of ``world_differences`` (table and markdown; csv has none)."""
    from gitxp.store.envs import format_change

    if fmt not in ("table", "markdown"):
        return
    bullet = "- " if fmt == "markdown" else "  "
    for item in report.get("environment", []):
        rows = item["packages"]
        head = f"environment: {item['a']} -> {item['b']}" + (
            f" ({len(rows)} package{'s' * (len(rows) != 1)} differ)" if rows else ""
        )
        click.echo(f"\n**{head}**\n" if fmt == "markdown" else f"\n{head}")
        for row in rows:
            click.echo(bullet + format_change(row))
        for note in item["notes"]:
            click.echo(f"{bullet}({note})")
    for item in report.get("inputs", []):
        head = f"inputs that differ: {item['a']} -> {item['b']}"
        click.echo(f"\n**{head}**\n" if fmt == "markdown" else f"\n{head}")
        for row in item["inputs"]:
            a = ", ".join(h[:19] for h in row["a"]) or "(not declared)"
            b = ", ".join(h[:19] for h in row["b"]) or "(not declared)"
            click.echo(f"{bullet}{row['path']}: {a} -> {b}")


def _experiment_heading(block: dict[str, Any], fmt: str) -> str | None:
    text = f"experiment {block['experiment']}" + (f": {block['note']}" if "note" in block else "")
    if fmt == "markdown":
        return f"### {text}\n"
    if fmt == "csv":
        return None
    return f"\n== {text}"


def _csv(reports: list[dict[str, Any]]) -> None:
    rows = [
        [r.get("experiment"), m["name"], g["label"], g["runs"], g["best"], g["mean"], g["std"], g["median"]]
        + [g["best_run"]]
        for r in reports
        if "note" not in r
        for m in r["metrics"]
        for g in m["groups"]
    ]
    headers = ["experiment", "metric", "group", "runs", "best", "mean", "std", "median", "best_run"]
    _emit(render_rows("", headers, rows, "csv"))


def _render_groups(report: dict[str, Any], fmt: str) -> None:
    if fmt == "csv":
        _csv([report])
        return
    if not report["metrics"]:
        click.echo(
            "no numeric results to compare (runs: "
            + ", ".join(f"{g['label']}={g['runs']}" for g in report["groups"])
            + ")"
        )
    for metric in report["metrics"]:
        ids = [g["best_run"] for g in metric["groups"] if g["best_run"]]
        best = dict(zip(ids, short_ids(ids)))
        rows = [
            [
                g["label"],
                g["runs"],
                g["best"],
                g["mean"],
                g["std"],
                g["median"],
                best.get(g["best_run"] or "", ""),
            ]
            for g in metric["groups"]
        ]
        _emit(
            render_rows(
                f"{metric['name']} ({metric['goal']})",
                ["group", "runs", "best", "mean", "std", "median", "best run"],
                rows,
                fmt,
            )
        )
        for diff in metric["differences"]:
            ci = diff["ci95"]
            text = f"{diff['b']} - {diff['a']}: mean {_signed(diff['mean_diff'])}"
            text += (
                f", 95% CI [{_signed(ci[0])}, {_signed(ci[1])}]" if ci else " (too few runs for an interval)"
            )
            if diff["verdict"]:
                verdict = f": {diff['verdict']} ({diff['on']})"
                width = terminal_width()
                if fmt == "markdown" or not width or len(text) + len(verdict) <= width:
                    text += verdict
                else:  # the verdict and what it stands on on their own lines, at the terminal's width
                    rest = f"{diff['verdict']} ({diff['on']})"
                    text += "\n" + "\n".join(
                        textwrap.wrap(rest, width, initial_indent="  ", subsequent_indent="  ")
                    )
            click.echo(f"- {text}" if fmt == "markdown" else text)
        for g in metric["groups"]:  # no verdict at all: say why
            if not g["runs"]:
                text = f"{g['label']}: no run reports {metric['name']}: no verdict"
                click.echo(f"- {text}" if fmt == "markdown" else text)
        if fmt == "markdown":
            click.echo("")
    if report["params"]:
        labels = [g["label"] for g in report["groups"]]
        rows = [
            [p["name"], *[summarise_counts(p["counts"].get(label, [])) for label in labels]]
            for p in report["params"]
        ]
        _emit(render_rows("params that differ", ["param", *labels], rows, fmt))


COMMANDS = [compare_command]
