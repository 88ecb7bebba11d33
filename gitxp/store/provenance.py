"""Which runs were recorded in this clone: the only trust a run's own fields cannot forge.

A run's ``meta.user``/``meta.host`` are written by whoever recorded it, so a pulled run can claim anything. What
a sender cannot reach is this clone's ``.git/gitxp/recorded``: an append-only list of the ids of the runs this
clone committed from its own staging area (written under the store lock, just before the commit that adds them to
the ref; a crash in between leaves an id too many of a run that was genuinely staged here, never one too few of a
pulled one). ``gitxp pull`` never writes it, so everything pulled is foreign until a person says otherwise
(``gitxp rerun`` asks, or takes ``--yes``). A fresh ``git clone`` starts with an empty list: its runs were
recorded elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["RECORDED", "note_recorded", "recorded_here"]

RECORDED = "recorded"  # in the store's root (``.git/gitxp/``): one run id a line


def note_recorded(root: Path, run_ids: Iterable[str]) -> None:
    """Append ``run_ids`` (runs this clone is about to commit from its staging area) to the local list."""
    data = "".join(f"{run_id}\n" for run_id in run_ids).encode()
    if not data:
        return
    fd = os.open(root / RECORDED, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)  # one write of O_APPEND: whole lines, even beside another writer
    finally:
        os.close(fd)


def recorded_here(root: Path, run_id: str) -> bool:
    """Whether this clone recorded ``run_id``: it is still in the local staging area, or this clone committed it."""
    if not run_id or "/" in run_id or run_id.startswith("."):
        return False
    if (root / "staging" / run_id).is_dir():
        return True
    try:
        data = (root / RECORDED).read_bytes()
    except FileNotFoundError:
        return False
    return run_id.encode() in data.splitlines()
