"""Recycled staging directories: a loop of short runs reuses the directories (and files) of the runs it just
committed instead of creating and deleting a directory and its files per run.

Why: creating an inode can cost far more than writing the data. On ext4 without a journal (many VM and container
root file systems, these benchmark machines among them) the kernel will not reuse an inode freed in the last 60
seconds (5 minutes while its block is dirty), and checks every such inode it passes while looking for a free one:
after a few thousand short runs, each ``mkdir`` or new file cost 0.3-0.6 ms of kernel time instead of 0.03 ms
(``perf``: ``find_inode_bit`` -> ``recently_deleted``), and recording slowed to 250-450 runs/s. Recycled, a short
run creates and frees no inode at all: its directory comes from the pool, its first record is written over the
previous one, and later records swap places with a spare file (``RENAME_EXCHANGE``, see ``staging``).

The pool is ``staging/.free/`` (readers skip names starting with "."). After committing a run (the store lock
held), the writer moves its directory there when it holds nothing but records (``put``); others are deleted as
before. A new run takes one (``take``): it locks the directory *before* renaming it to ``staging/<its id>``, so
a reader never sees it unlocked with the old run's record; then it writes its own record over the old one. A
directory whose record names another run is a recycled one whose new run died before writing (readers drop it:
``is_leftover``). The pool is listed once per process, then known from the process's own puts and takes (no listing per run);
at most ``POOL_MAX`` directories wait there (what a process leaves is reused by the next), ``gitxp gc``
empties it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gitxp.store import liveness

__all__ = ["POOL", "POOL_MAX", "put", "take", "is_leftover", "empty"]

POOL = ".free"
POOL_MAX = 512  # about 6 MB of small files at most
RECYCLABLE = frozenset({"record.json"})  # plus the record's spare: ".record.json.<pid>.spare"

_FREE: dict[str, list[str]] = {}  # staging folder -> names in its pool (as this process knows them)


def _free(staging: Path) -> list[str]:
    """The pool's names: listed once per process (what earlier processes left is reused, not deleted), then
    kept up to date by this process's own puts and takes; other processes' changes show as failed takes."""
    key = str(staging)
    if key not in _FREE:
        try:
            _FREE[key] = [n for n in os.listdir(staging / POOL) if not n.startswith(".")]
        except OSError:
            _FREE[key] = []
    return _FREE[key]


def _recyclable(names: set[str] | list[str]) -> bool:
    """Only records in it, and at most two processes' spares (each process writes its own: a directory that
    went through more is deleted rather than kept growing)."""
    spares = [n for n in names if n.startswith(".record.json.") and n.endswith(".spare")]
    return len(spares) <= 2 and all(n in RECYCLABLE for n in names if n not in spares)


def put(staging: Path, path: Path, names: set[str] | None = None) -> bool:
    """Move the committed run directory ``path`` into the pool (the caller holds the store lock); False when it
    cannot be recycled (other files in it, the pool is full): then the caller deletes it."""
    free = _free(staging)
    if len(free) >= POOL_MAX:
        return False
    try:
        if not _recyclable(names if names is not None else os.listdir(path)):
            return False
        os.rename(path, staging / POOL / path.name)
    except FileNotFoundError:
        try:
            (staging / POOL).mkdir(exist_ok=True)
            os.rename(path, staging / POOL / path.name)
        except OSError:
            return False
    except OSError:
        return False
    free.append(path.name)
    return True


def take(staging: Path, run_id: str) -> liveness.Held | None:
    """A directory from the pool, locked and renamed to ``staging/<run_id>``; None when none is at hand."""
    free = _free(staging)
    while free:
        name = free.pop()
        source = staging / POOL / name
        try:
            held = liveness.hold_existing(source)
        except OSError:
            continue  # gone (gitxp gc), or taken by another process
        if held is None:
            free.clear()
            return None
        try:
            os.rename(source, staging / run_id)
        except OSError:
            held.close()
            continue
        held.folder = staging / run_id
        return held
    return None


def is_leftover(run_id: str, record: dict[str, object]) -> bool:
    """True when the record in ``staging/<run_id>`` belongs to another run: a recycled directory whose new run
    died before it wrote its first record (the old run is on the ref already)."""
    return record.get("run_id") != run_id


def empty(staging: Path) -> int:
    """Delete the pool (``gitxp gc``); returns how many directories it held."""
    folder = staging / POOL
    try:
        names = os.listdir(folder)
    except OSError:
        return 0
    removed = 0
    for name in names:
        try:
            held = liveness.hold_existing(folder / name)  # a run taking it right now keeps it
        except OSError:
            continue
        shutil.rmtree(folder / name, ignore_errors=True)
        if held is not None:
            held.close()
        removed += 1
    _FREE.pop(str(staging), None)
    return removed
