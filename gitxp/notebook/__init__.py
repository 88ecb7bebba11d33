"""Notebooks: a ``.ipynb`` file's code is its cell sources (:mod:`gitxp.notebook.source`); a run made in a
Jupyter kernel records the cells that ran and what changed behind the kernel's back (:mod:`gitxp.notebook.kernel`);
``gitxp rerun`` of such a run executes those cells again (:mod:`gitxp.notebook.rerun`).

Nothing here imports IPython, nbformat or nbclient at import time: the kernel side asks IPython only when it is
already loaded, and ``rerun`` imports nbclient (the ``notebook`` extra) only when it executes a notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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

    rest, executed = [], []
    for section in sections(patch):
        (executed if section.startswith(b"diff --git a/.gitxp/executed/") else rest).append(section)
    return b"".join(rest), b"".join(executed)


def readable_patch(repo: Repo, patch: bytes) -> bytes:
    """A run's stored patch as it is shown: notebooks as diffs of their cell sources (see :func:`readable`)."""
    return readable(patch, blob_reader(repo)) if b".ipynb" in patch else patch
