"""A notebook as code: its cell sources, without outputs, execution counts or volatile metadata.

A ``.ipynb`` file is JSON holding code *and* what running it produced (outputs, base64 images, execution counts,
widget state). For a run's version only the code counts: :func:`normalize` keeps each cell's type, tags and
source, in the ``# %%`` "percent" text form jupytext uses (nbstripout's normalisation, done by gitxp: no git
filter to install). :func:`readable` rewrites the notebook sections of a git patch into diffs of those cell
sources; the version id hashes that text (:mod:`gitxp.version.capture`), so executing a notebook again without
changing its code gives the same version, and ``show --diff``/``compare --code``/the dashboard show a notebook's
change as cell-source lines instead of JSON with base64 images. Only the standard library is used here.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.git.repo import Repo

__all__ = [
    "NOTE",
    "blob_reader",
    "cells",
    "code_cells",
    "is_notebook",
    "normalize",
    "readable",
    "readable_patch",
    "sections",
    "split_executed",
    "stat",
]

NOTE = "# gitxp: notebook shown as its cell sources (outputs, execution counts and metadata left out)"
_ZERO = re.compile(rb"^0+$")
_HEADER = re.compile(rb"^diff --git a/(.*) b/(.*)$")
_INDEX = re.compile(rb"^index ([0-9a-f]+)\.\.([0-9a-f]+)")


def is_notebook(path: str) -> bool:
    return path.lower().endswith(".ipynb")


def cells(data: bytes | str) -> list[dict[str, Any]] | None:
    """The cells of a notebook file (``cell_type``, ``source`` as one string, ``tags``), or None when ``data``
    is not a notebook in nbformat 4 (then its text is its identity)."""
    try:
        nb = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None
    out = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        tags = (cell.get("metadata") or {}).get("tags") or []
        out.append(
            {
                "cell_type": str(cell.get("cell_type", "code")),
                "source": str(source),
                "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
            }
        )
    return out


def code_cells(data: bytes | str) -> list[str] | None:
    """The sources of a notebook's code cells, in order (None: not a notebook)."""
    found = cells(data)
    return None if found is None else [c["source"] for c in found if c["cell_type"] == "code"]


def normalize(data: bytes | str) -> str:
    """A notebook's code as text: one ``# %%`` block per cell (``# %% [markdown]``, ``tags=[...]``) with its
    source. Not a notebook (not JSON, e.g. with conflict markers): its text unchanged."""
    found = cells(data)
    if found is None:
        return data.decode(errors="replace") if isinstance(data, bytes) else data
    blocks = []
    for cell in found:
        head = "# %%" + ("" if cell["cell_type"] == "code" else f" [{cell['cell_type']}]")
        if cell["tags"]:
            head += f" tags={json.dumps(cell['tags'])}"
        source = cell["source"]
        blocks.append(head + "\n" + source + ("" if not source or source.endswith("\n") else "\n"))
    return "\n".join(blocks)


def sections(patch: bytes) -> list[bytes]:
    """A patch cut before each ``diff --git`` line (the first part: any header before them)."""
    return re.split(rb"(?m)^(?=diff --git )", patch)


def _notebook_section(section: bytes, read_blob: Callable[[str], bytes | None]) -> bytes | None:
    """One ``diff --git`` section of a notebook as a cell-source diff; ``b""`` when only outputs/metadata
    changed; None when it cannot be rewritten (its blobs are not here): then it stays as it is."""
    lines = section.split(b"\n", 4)
    header = _HEADER.match(lines[0])
    if header is None:
        return None
    index = next((_INDEX.match(line) for line in lines[1:4] if _INDEX.match(line)), None)
    if index is None:
        return None
    contents: list[bytes | None] = []
    for sha in index.groups():
        if _ZERO.match(sha):
            contents.append(None)
            continue
        blob = read_blob(sha.decode())
        if blob is None:
            return None
        contents.append(blob)
    old, new = (normalize(c) if c is not None else None for c in contents)
    if old == new:
        return b""
    a, b = (p.decode(errors="surrogateescape") for p in header.groups())
    diff = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"a/{a}" if old is not None else "/dev/null",
        tofile=f"b/{b}" if new is not None else "/dev/null",
    )
    body = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff
    )
    return f"{lines[0].decode(errors='surrogateescape')}\n{NOTE}\n{body}".encode(errors="surrogateescape")


def readable(patch: bytes, read_blob: Callable[[str], bytes | None]) -> bytes:
    """``patch`` with each notebook's section turned into a diff of its cell sources (dropped when only its
    outputs, execution counts or metadata changed). ``read_blob(sha)`` reads a blob named on the section's
    ``index`` line (``git diff --full-index``), or None when it is not available."""
    if b".ipynb" not in patch:
        return patch
    out = []
    for section in sections(patch):
        header = _HEADER.match(section.split(b"\n", 1)[0])
        if header is not None and is_notebook(header.group(2).decode(errors="replace").strip('"')):
            rewritten = _notebook_section(section, read_blob)
            if rewritten is not None:
                out.append(rewritten)
                continue
        out.append(section)
    return b"".join(out)


def stat(patch: bytes) -> str:
    """A ``git diff --stat``-like summary of a (readable) patch: one ``path | +added -removed`` line a file."""
    rows = []
    current, added, removed = None, 0, 0
    for line in patch.decode(errors="replace").splitlines():
        if line.startswith("diff --git "):
            if current is not None:
                rows.append((current, added, removed))
            current, added, removed = line.split(" b/", 1)[-1], 0, 0
        elif line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    if current is not None:
        rows.append((current, added, removed))
    width = max((len(path) for path, _, _ in rows), default=0)
    lines = [f" {path.ljust(width)} | +{a} -{r}" for path, a, r in rows]
    total_a, total_r = sum(a for _, a, _ in rows), sum(r for _, _, r in rows)
    lines.append(f" {len(rows)} file{'s' if len(rows) != 1 else ''} changed, +{total_a} -{total_r}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- a run's stored patch


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
    rest: list[bytes] = []
    executed: list[bytes] = []
    for section in sections(patch):
        (executed if section.startswith(b"diff --git a/.gitxp/executed/") else rest).append(section)
    return b"".join(rest), b"".join(executed)


def readable_patch(repo: Repo, patch: bytes) -> bytes:
    """A run's stored patch as it is shown: notebooks as diffs of their cell sources (see :func:`readable`)."""
    return readable(patch, blob_reader(repo)) if b".ipynb" in patch else patch
