"""What ``ls --pareto`` and ``show --importance`` print: read-side views of an experiment's search."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from gitxp.errors import UsageError

__all__ = ["recorded_objectives", "pareto_table", "print_importance"]


def recorded_objectives(table: Any) -> list[tuple[str, str]]:
    """The objectives the runs were searched for: their most common recorded ``--metric`` (``acc:max,lat:min``)."""
    from gitxp.query.objective import parse

    if "meta.metric" not in table.column_names:
        return []
    counts = Counter(m for m in table["meta.metric"].to_pylist() if m)
    if not counts:
        return []
    return [parse(part) for part in counts.most_common(1)[0][0].split(",")]


def pareto_table(table: Any, objectives: list[tuple[str, str]] | None = None) -> Any:
    """The finished runs no other run beats on every objective, best on the first objective first."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from gitxp.query.objective import column, pareto_front

    objectives = objectives or recorded_objectives(table)
    if not objectives:
        raise UsageError(
            "--pareto: these runs record no --metric; run the sweep with --metric NAME:min|max ..."
        )
    if any(goal not in ("min", "max") for _, goal in objectives):
        raise UsageError("--pareto needs objectives with :min or :max")
    columns = [column(name, goal, table.column_names) for name, goal in objectives]
    if None in columns:
        missing = objectives[columns.index(None)][0]
        raise UsageError(f"--pareto: no run reports {missing!r}")
    finished = table.filter(pc.equal(table["status"], "finished"))
    rows = finished.select(["run_id", *columns]).to_pylist()
    points = [
        (r["run_id"], [float(r[c]) for c in columns])
        for r in rows
        if all(isinstance(r[c], (int, float)) for c in columns)
    ]
    front = pareto_front(points, [goal for _, goal in objectives])
    out = finished.filter(pc.is_in(finished["run_id"], value_set=pa.array(front, pa.string())))
    order = "ascending" if objectives[0][1] == "min" else "descending"
    return out.take(pc.sort_indices(out, sort_keys=[(columns[0], order)]))


def print_importance(store: Any, experiment: str, metric: str | None, evaluator: str) -> None:
    """A table of params by importance for the experiment's objective, with bars."""
    import pyarrow.compute as pc
    from rich.table import Table

    from gitxp.cli.output import print_view
    from gitxp.query.objective import parse
    from gitxp.search.importance import cached

    table = store.table()
    runs = table.filter(pc.equal(table["experiment"], experiment)) if table.num_rows else table
    objectives = [parse(metric)] if metric else recorded_objectives(runs)[:1]
    if not objectives:
        results = [c[len("results.") :] for c in runs.column_names if c.startswith("results.")]
        results = [c for c in results if runs[f"results.{c}"].null_count < runs.num_rows]
        said = f"their results: {', '.join(results[:8])}" if results else "they reported no results"
        example = f", e.g. --metric {results[0]}:max" if results else ""
        raise UsageError(
            f"--importance: give --metric NAME:min|max{example} (the runs of {experiment!r} were not searched "
            f"for an objective; {said})"
        )
    result = cached(
        store, experiment, objectives[0], evaluator
    )  # a bounded sample; cached by the store's state
    shares = result.values
    click.echo(result.describe(objectives[0][0]))
    view = Table(box=None, pad_edge=False)
    view.add_column("param", style="bold")
    view.add_column("importance", justify="right")
    view.add_column("")
    for name, share in shares.items():
        view.add_row(name, f"{share:.3f}", "█" * max(0, round(share * 30)))
    print_view(view)
