"""``gitxp report``: a markdown summary of base vs head for a pull-request comment."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gitxp.cli.output import json_dumps, to_json_value

__all__ = ["COMMANDS"]


@click.command("report")
@click.option("--base", required=True, metavar="REV", help="The base side: a branch, commit, tag or version.")
@click.option("--head", default="HEAD", show_default=True, metavar="REV", help="The side under review.")
@click.option(
    "--metric", "metrics", multiple=True, metavar="NAME[:min|max]", help="Metric to report (repeatable)."
)
@click.option("-e", "--experiment", multiple=True, help="Only runs of this experiment (repeatable).")
@click.option(
    "--status", metavar="S[,S]", default="finished", show_default=True, help="Only runs with this status."
)
@click.option(
    "--link-base", metavar="URL", help="Link versions to URL/commit/SHA (e.g. https://github.com/o/r)."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option(
    "--fail-on-worse", is_flag=True, help="Exit 1 when a metric is significantly worse on the head."
)
@click.option(
    "--format", "fmt", type=click.Choice(("markdown", "json")), default="markdown", show_default=True
)
def report_command(
    base: str,
    head: str,
    metrics: tuple[str, ...],
    experiment: tuple[str, ...],
    status: str,
    link_base: str | None,
    output: Path | None,
    fail_on_worse: bool,
    fmt: str,
) -> None:
    """Markdown for a pull request: base vs head per metric, with the CI of the difference and a verdict.

    Sides are selected as in gitxp compare (a branch means the runs recorded on it)."""
    from gitxp.query import check_experiments, select
    from gitxp.report import build_report, render_markdown
    from gitxp.store import Store

    store = Store.open()
    table = store.table()
    if experiment and table.num_rows:
        check_experiments(table, experiment)
    table = select(store, table, experiment=list(experiment) or None, status=status)
    report = build_report(store, table, base, head, metrics=list(metrics) or None, link_base=link_base)
    text = json_dumps(to_json_value(report)) + "\n" if fmt == "json" else render_markdown(report)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"gitxp: report written to {output}", err=True)
    else:
        click.echo(text, nl=False)
    worse = any(r["mark"] == "worse" for b in report["experiments"] for r in b.get("rows", []))
    if fail_on_worse and worse:
        sys.exit(1)


COMMANDS = [report_command]
