"""``gitxp artifacts RUN`` (list a run's artifacts) and ``gitxp get RUN NAME [-o PATH]`` (restore a file or a
logged directory)."""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["COMMANDS"]


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


@click.command("artifacts")
@click.argument("run")
def artifacts_command(run: str) -> None:
    """List the files RUN recorded (name, size, sha256, where stored)."""
    from gitxp.store import Store
    from gitxp.store.artifacts import list_artifacts

    store = Store.open()
    run_id = store.resolve_run(run)
    entries = list_artifacts(store, run_id)
    if not entries:
        click.echo(f"run {run_id} has no artifacts")
        return
    width = max(len(e["name"]) for e in entries)
    for entry in entries:
        where = "ref" if entry.get("stored") == "ref" else entry.get("url", "")
        click.echo(f"{entry['name']:<{width}}  {_size(entry['size']):>9}  {entry['sha256'][:12]}  {where}")


@click.command("get")
@click.argument("run")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="where to write it (default: ./NAME's last part; a directory's files go under it)",
)
def get_command(run: str, name: str, output: Path | None) -> None:
    """Restore artifact NAME of RUN -- a file, or a logged directory (every file under it) -- verifying each
    file's sha256."""
    from gitxp.store import Store
    from gitxp.store.artifacts import list_artifacts, restore

    store = Store.open()
    run_id = store.resolve_run(run)
    base = Path(name.rstrip("/")).name or "artifacts"
    target = output if output is not None else Path(base)
    clean = name.replace(os.sep, "/").strip("/")
    single = not name.endswith("/") and any(e["name"] == clean for e in list_artifacts(store, run_id))
    if single and target.is_dir():
        target = target / base
    entries = restore(store, run_id, name, target)
    total = _size(sum(int(e["size"]) for e in entries))
    if single:
        click.echo(f"{target} ({total}, sha256 verified)")
    else:
        count = f"{len(entries)} file{'' if len(entries) == 1 else 's'}"
        click.echo(f"{target}/ ({count}, {total}, sha256 verified)")


COMMANDS = [artifacts_command, get_command]
