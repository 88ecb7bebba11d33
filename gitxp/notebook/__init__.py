"""Notebooks: a ``.ipynb`` file's code is its cell sources (:mod:`gitxp.notebook.source`); a run made in a
Jupyter kernel records the cells that ran and what changed behind the kernel's back (:mod:`gitxp.notebook.kernel`);
``gitxp rerun`` of such a run executes those cells again (:mod:`gitxp.notebook.rerun`).

Nothing here imports IPython, nbformat or nbclient at import time: the kernel side asks IPython only when it is
already loaded, and ``rerun`` imports nbclient (the ``notebook`` extra) only when it executes a notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitxp.notebook.source import NOTE, code_cells, is_notebook, normalize, readable, stat

if TYPE_CHECKING:
    from gitxp.repo import Repo

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


def blob_reader(repo: Repo) -> Callable[[str], bytes | None]:
    """``read(sha)``: a blob of ``repo``, or None when it does not have it."""

    def read(sha: str) -> bytes | None:
        proc = repo.run(["cat-file", "blob", sha], check=False)
        return proc.stdout if proc.returncode == 0 else None

    return read


def split_executed(patch: bytes) -> tuple[bytes, bytes]:
    """``(the rest, the executed cells)`` of a patch: a kernel's run adds its executed cells as a file under
    ``.gitxp/executed/`` (:mod:`gitxp.notebook.kernel`), which is not an uncommitted change of the tree."""
    if b".gitxp/executed/" not in patch:
        return patch, b""
    from gitxp.notebook.source import sections

    rest: list[bytes] = []
    executed: list[bytes] = []
    for section in sections(patch):
        (executed if section.startswith(b"diff --git a/.gitxp/executed/") else rest).append(section)
    return b"".join(rest), b"".join(executed)


def readable_patch(repo: Repo, patch: bytes) -> bytes:
    """A run's stored patch as it is shown: notebooks as diffs of their cell sources (see :func:`readable`)."""
    return readable(patch, blob_reader(repo)) if b".ipynb" in patch else patch


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
