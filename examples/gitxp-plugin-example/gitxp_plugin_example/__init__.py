"""A minimal third-party gitxp plugin (see README.md)."""

from __future__ import annotations

import json
import os
from typing import Any

from gitxp import hookimpl


@hookimpl
def gitxp_collect_meta(run: Any) -> dict[str, Any]:
    return {"example.plugin": "loaded", "example.cpu_count": os.cpu_count()}


@hookimpl
def gitxp_run_end(run: Any, status: str) -> None:
    run.result(example_status_seen=status)


class JsonResultReader:
    """Results from ``results.json`` in the run's output dir."""

    def line(self, run: Any, text: str) -> None:
        pass

    def finish(self, run: Any) -> None:
        path = run.output_dir / "results.json"
        if path.exists():
            run.result(json.loads(path.read_text()))


class ReverseGrid:
    """The grid, last point first, skipping points the experiment already finished (its history, read from
    the store, is the same object the built-in strategies get: ``gitxp.search.history.History``)."""

    def __init__(self, space: Any, **_: Any) -> None:
        self.points = [{**space.fixed, **p} for p in reversed(space.grid_points())]
        self.total = len(self.points)

    def ask(self, history: Any) -> dict[str, Any] | None:
        done = [trial.params for trial in history.trials if trial.state == "complete"]
        while self.points:
            point = self.points.pop(0)
            if not any(all(params.get(k) == v for k, v in point.items()) for params in done):
                return point
        return None


@hookimpl
def gitxp_result_readers(register: Any) -> None:
    register("example_json", JsonResultReader)


@hookimpl
def gitxp_search_strategies(register: Any) -> None:
    register("reverse-grid", ReverseGrid)
