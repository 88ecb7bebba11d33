"""``gitxp show``: one run (params, results, meta, its diff, log, curves, environment), or an experiment's importance."""

from __future__ import annotations

import sys
from typing import Any

import click

from gitxp.cli.output import (
    FORMATS,
    emit_table,
    json_dumps,
    print_view,
    records,
    render_rich,
    to_json_value,
)
from gitxp.errors import GitxpError, UsageError

__all__ = ["COMMANDS"]


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
@click.option("--env", "show_env", is_flag=True, help="Print the run's package environment.")
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
    show_env: bool,
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
    if show_env:
        from gitxp.cli.env_cmd import print_run_env

        print_run_env(store, {c: row[c][0].as_py() for c in row.column_names}, fmt)
        return
    if show_diff or show_log:
        data = store.run_file(run_id, "diff.patch" if show_diff else "stdout.log")
        if data is None:
            click.echo(
                "(run has no uncommitted changes)" if show_diff else "(no output was captured)", err=True
            )
            return
        if show_diff:  # notebooks as their cell sources, without outputs; a kernel's executed cells named
            from gitxp.notebook import shown_diff

            data = shown_diff(store.repo, data, lambda line: click.echo(line, err=True))
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    metrics = store.metrics(run_id)
    if show_metrics:
        if fmt == "table" and not metrics.num_rows:
            click.echo(f"run {store.short_id(run_id)} has no per-step metrics")
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
            render_rich(pivot, f"metrics of {store.short_id(run_id)}", fit=True, first=["step", *names])
        else:
            emit_table(metrics, fmt)
        return
    item = records(row)[0]
    patch = store.run_file(run_id, "diff.patch")
    item["metrics"] = _metric_summary(metrics) if metrics.num_rows else []
    if patch:  # notebooks as cell sources; a kernel's executed cells are not a change of the tree
        from gitxp.version.ipynb import readable_patch, split_executed

        patch = split_executed(readable_patch(store.repo, patch))[0]
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
    inputs = meta.pop("inputs", None)
    _print_section("meta", meta)
    if inputs:
        from gitxp.store.inputs import parse_lines

        _print_section("inputs", {i["path"]: f"{i['hash']} ({i['size']} bytes)" for i in parse_lines(inputs)})
    for summary in item["metrics"]:
        summary_line = {k: v for k, v in summary.items() if k != "name"}
        _print_section(f"metric {summary['name']}", summary_line)
    if item["diffstat"]:
        click.echo("\nuncommitted changes (gitxp show --diff):")
        for line in item["diffstat"]:
            click.echo(f"  {line}")
    from gitxp.notebook import show_notes

    click.echo("".join(show_notes(meta)), nl=False)
    if tb:
        click.echo("\ntraceback (tail):")
        click.echo("\n".join(tb))


COMMANDS = [show_command]
