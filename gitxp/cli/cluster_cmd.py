"""``gitxp collect`` and ``gitxp cancel``: the trials a ``gitxp run --executor slurm --detach`` left to Slurm."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["COMMANDS", "collect_detached"]


def collect_detached(store: Any) -> dict[str, int] | None:
    """Record detached trials whose job ended (cheap when there are none: submitit is never imported)."""
    from gitxp.store import DETACHED

    for staged in store.staged_runs():
        try:
            record = staged.read_record()
        except Exception:
            continue
        if record and (record.get("meta") or {}).get(DETACHED):
            from gitxp.executors.slurm import collect

            return collect(store)
    return None


@click.command("collect")
def collect_command() -> None:
    """Record the trials of detached Slurm sweeps whose jobs have ended (gitxp run --executor slurm --detach)."""
    from gitxp.store import Store

    counts = collect_detached(Store.open()) or {"collected": 0, "running": 0, "queued": 0}
    click.echo(
        f"{counts['collected']} collected, {counts['running']} running, {counts['queued']} queued", err=True
    )


@click.command("cancel")
@click.argument("runs", nargs=-1)
def cancel_command(runs: tuple[str, ...]) -> None:
    """Cancel the queued/running trials of detached Slurm sweeps (all, or the RUNS given by id prefix)."""
    from gitxp.executors.slurm import cancel
    from gitxp.store import Store

    store = Store.open()
    collect_detached(store)
    count = cancel(store, list(runs) or None)
    click.echo(f"{count} trial{'' if count == 1 else 's'} cancelled", err=True)


COMMANDS = [collect_command, cancel_command]
