"""``gitxp compare``: versions, branches, commits or runs side by side."""

from __future__ import annotations

from typing import Any

import click

from gitxp.cli.output import json_dumps, print_view, terminal_width, to_json_value

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
    fmt: str,
) -> None:
    """Compare runs, versions, commits, tags or branches: gitxp compare A B [C ...].

    Groups holding several experiments are compared experiment by experiment (one block each), never pooled;
    -e EXP compares one."""
    from gitxp.compare import (
        by_experiment,
        check_metric,
        code_diff,
        compare_groups,
        compare_runs,
        resolve_groups,
        since_filter,
    )
    from gitxp.query import check_experiments, select
    from gitxp.store import Store

    store = Store.open()
    table = store.table(show="archived" if archived else "visible")
    if experiment and table.num_rows:
        check_experiments(table, experiment)
    if since:
        table = since_filter(store, table, since)
    table = select(store, table, experiment=list(experiment) or None, status=status, where=where)
    from gitxp.errors import UsageError

    try:
        groups = resolve_groups(store, table, list(selectors))
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
        report = _per_experiment(by_experiment(groups), metric, compare_groups)
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
    if single:
        rows = report["rows"]
        _emit(
            render_rows(
                "runs",
                ["key", *[r[:12] for r in report["runs"]]],
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


def _per_experiment(blocks: list[tuple[str, list[Any]]], metric: str | None, compare: Any) -> dict[str, Any]:
    """One comparison per experiment; a single experiment gives the plain report (with its name)."""
    from gitxp.objective import column, parse

    reports = []
    for name, groups in blocks:
        if len(groups) < 2:
            only = ", ".join(f"{g.label} ({g.table.num_rows} runs)" for g in groups)
            reports.append({"experiment": name, "note": f"only in {only}: nothing to compare it with"})
            continue
        if metric and not any(column(*parse(metric), g.table.column_names) for g in groups):
            reports.append({"experiment": name, "note": f"no result {parse(metric)[0]!r} in this experiment"})
            continue
        reports.append({"experiment": name, **compare(groups, metric)})
    if len(reports) == 1 and "note" not in reports[0]:
        return reports[0]
    return {"kind": "experiments", "experiments": reports}


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
        rows = [
            [g["label"], g["runs"], g["best"], g["mean"], g["std"], g["median"], (g["best_run"] or "")[:12]]
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
                verdict = f": {diff['verdict']}"
                fits = len(text) + len(verdict) <= (terminal_width() or 10_000)
                text += verdict if fits or fmt == "markdown" else f"\n  {diff['verdict']}"
            click.echo(f"- {text}" if fmt == "markdown" else text)
        if fmt == "markdown":
            click.echo("")
    if report["params"]:
        labels = [g["label"] for g in report["groups"]]
        rows = [
            [p["name"], *[summarise_values(p["values"].get(label, [])) for label in labels]]
            for p in report["params"]
        ]
        _emit(render_rows("params that differ", ["param", *labels], rows, fmt))


COMMANDS = [compare_command]
