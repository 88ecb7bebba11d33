"""Notebooks: a ``.ipynb`` file's code is its cell sources (:mod:`gitxp.version.ipynb`); a run made in a
Jupyter kernel records the cells that ran and what changed behind the kernel's back (:mod:`gitxp.notebook.kernel`);
``gitxp rerun`` of such a run executes those cells again (:mod:`gitxp.notebook.rerun`).

Nothing here imports IPython, nbformat or nbclient at import time: the kernel side asks IPython only when it is
already loaded, and ``rerun`` imports nbclient (the ``notebook`` extra) only when it executes a notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitxp.version.ipynb import (
    NOTE,
    blob_reader,
    code_cells,
    is_notebook,
    normalize,
    readable,
    readable_patch,
    split_executed,
    stat,
)

if TYPE_CHECKING:
    from gitxp.git.repo import Repo

__all__ = [
    "NOTE",
    "blob_reader",
    "code_cells",
    "is_notebook",
    "normalize",
    "readable",
    "readable_patch",
    "show_notes",
    "shown_diff",
    "split_executed",
    "stat",
]


def show_notes(meta: dict[str, Any]) -> list[str]:
    """What ``gitxp show`` says of a run made in a Jupyter kernel whose code was not all on disk."""
    out = []
    where = meta.get("notebook.path") or "no saved notebook"
    if meta.get("notebook.unsaved_cells"):
        out.append(
            f"\nnote: {meta['notebook.unsaved_cells']} executed cell(s) differ from the saved notebook ({where}): "
            "the version holds the cells that ran (.gitxp/executed/ in gitxp show --diff)\n"
        )
    if meta.get("notebook.stale_modules"):
        out.append(
            f"\nnote: changed on disk after the kernel imported them: {', '.join(meta['notebook.stale_modules'])} "
            "(the run used the code in memory, which no version holds)\n"
        )
    return out


def shown_diff(repo: Repo, patch: bytes, say: Callable[[str], None]) -> bytes:
    """``gitxp show --diff``: the patch with notebooks as cell sources; ``say`` tells when only notebook outputs
    differ from the commit, and where a kernel's executed cells are."""
    data = readable_patch(repo, patch)
    rest, executed = split_executed(data)
    if not rest.strip():
        changed = split_executed(patch)[
            0
        ].strip()  # a notebook whose outputs alone changed, or nothing at all
        say(
            "(only notebook outputs differ from the commit: the same code)"
            if changed
            else "(run has no uncommitted changes)"
        )
    if executed:
        say("(the cells the kernel executed, in order, are the .gitxp/executed/ file)")
    return data
