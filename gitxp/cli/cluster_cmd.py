"""``gitxp collect`` (and the Slurm side of ``gitxp cancel``): the trials ``gitxp run --executor slurm --detach``
left to Slurm."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["COMMANDS", "collect_detached", "cancel_detached", "select_detached"]


def collect_detached(store: Any) -> dict[str, int] | None:
    """Record detached trials whose job ended (cheap when there are none: submitit is never imported)."""
    from gitxp.store import DETACHED

    if any((record.get("meta") or {}).get(DETACHED) for _staged, record in store.staged_records()):
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


def select_detached(
    store: Any, targets: tuple[str, ...], experiments: tuple[str, ...]
) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """``gitxp cancel`` for trials left to Slurm: the ids of those named by id prefix (at least
    ``gitxp.store.ids.MIN_PREFIX`` characters) or experiment, and the targets/experiments left for the local runs (an
    experiment with local running runs stays). Nothing is cancelled here: the caller asks first."""
    from gitxp.executors.slurm import detached as staged_detached

    detached = [record for _staged, record in staged_detached(store)]
    if not detached:
        return [], targets, experiments
    from gitxp.lifecycle.cancel import live_runs
    from gitxp.store.ids import check_prefix

    local = {record.get("experiment") for _s, record in live_runs(store)}
    names = {r.get("experiment") for r in detached}
    chosen: list[str] = []

    def take(name: str, by_id: bool) -> bool:
        if by_id and name not in names:
            check_prefix(name)
        found = [
            r["run_id"]
            for r in detached
            if r.get("experiment") == name or (by_id and name and r["run_id"].startswith(name.lower()))
        ]
        chosen.extend(i for i in found if i not in chosen)
        return bool(found) and name not in local

    rest_targets = tuple(t for t in targets if not take(t, True))
    rest_experiments = tuple(e for e in experiments if not take(e, False))
    return chosen, rest_targets, rest_experiments


def cancel_detached(store: Any, chosen: list[str]) -> None:
    """Cancel the Slurm trials ``chosen`` (full ids, from :func:`select_detached`) and say so."""
    from gitxp.executors.slurm import cancel

    cancel(store, chosen)
    from gitxp.cli.output import short_ids

    for shown in short_ids(list(chosen), store):
        click.echo(f"{shown}  cancelled (Slurm job)")


COMMANDS = [collect_command]
