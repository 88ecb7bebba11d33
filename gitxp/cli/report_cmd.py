"""``gitxp report``: a markdown summary of base vs head for a pull-request comment."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gitxp.cli.output import json_dumps, to_json_value

__all__ = ["COMMANDS"]


@click.command("report")
@click.option(
    "--base",
    required=True,
    metavar="REV",
    help="The base: a branch, tag or commit (taken at its merge-base with the head), or a version.",
)
@click.option(
    "--base-tip", is_flag=True, help="Compare with the base's tip instead of the merge-base with the head."
)
@click.option(
    "--all-versions", is_flag=True, help="Pool every version on each side's history (default: one version)."
)
@click.option("--reruns", is_flag=True, help="Count reruns of other runs as samples (default: left out).")
@click.option("--where", metavar="EXPR", help="Only runs matching this filter, as in gitxp ls.")
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
    base_tip: bool,
    all_versions: bool,
    reruns: bool,
    where: str | None,
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

    The head is its newest code version with runs (a branch: its tip's, or the nearest ancestor's); the base is
    the version at the merge-base of base and head (or its nearest ancestor with runs) — what the pull request
    changed, whatever the base branch did since; --base-tip takes the base's tip instead. Reruns of other runs are
    not samples (--reruns counts them). The report names the versions and runs each side stands on."""
    from gitxp.compare.report import build_report, render_markdown
    from gitxp.query import check_experiments, select
    from gitxp.store import Store

    store = Store.open()
    table = store.table()
    if experiment and table.num_rows:
        check_experiments(table, experiment)
    table = select(store, table, experiment=list(experiment) or None, status=status, where=where)
    report = build_report(
        store,
        table,
        base,
        head,
        metrics=list(metrics) or None,
        link_base=link_base,
        base_tip=base_tip,
        all_versions=all_versions,
        reruns=reruns,
    )
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
