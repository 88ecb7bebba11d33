"""``gitxp.optimize``'s progress bar: trials done/total, running, failed, pruned and the best value so far, on
stderr -- like ``gitxp run``'s sweep bar -- and nothing at all when stderr is not a terminal (a log file, CI, a
pipe), so that library output stays clean."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["trial_progress"]

Event = Callable[[str, Any, Any], None]


@contextmanager
def trial_progress(objectives: list[tuple[str, str]]) -> Iterator[Event | None]:
    """Within the block, the sweep's ``on_event`` callback that drives the bar (None when not a terminal)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    label = ":".join(objectives[0]) if len(objectives) == 1 else f"{len(objectives)} objectives"
    progress = Progress(
        TextColumn("[bold]trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("running {task.fields[running]}"),
        TextColumn("failed {task.fields[failed]}"),
        TextColumn("pruned {task.fields[pruned]}"),
        TextColumn(f"best {label} {{task.fields[best]}}"),
        TimeElapsedColumn(),
        console=console,
    )
    task = progress.add_task("trials", total=None, running=0, failed=0, pruned=0, best="-")
    counts = {"running": 0, "failed": 0, "pruned": 0}

    def on_event(event: str, run: Any, result: Any) -> None:
        if event == "begin":
            progress.update(task, total=result.total)
            return
        if event == "skip":
            progress.advance(task)
            return
        if event == "start":
            counts["running"] += 1
        elif event == "end":
            counts["running"] -= 1
            status = result.statuses.get(run.id)
            if status in ("failed", "crashed"):
                counts["failed"] += 1
            elif status == "pruned":
                counts["pruned"] += 1
            progress.advance(task)
        best = f"{result.best_value:.6g}" if result.best_value is not None else "-"
        progress.update(
            task, best=best, running=counts["running"], failed=counts["failed"], pruned=counts["pruned"]
        )

    with progress:
        yield on_event
