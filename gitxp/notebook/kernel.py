"""The code a run made in a Jupyter kernel really ran: the executed cells, and modules edited after import.

In a kernel, HEAD plus the notebook *file* is not the code that ran: a cell edited and executed but not saved,
a cell since deleted, or a module of the repository edited on disk after the kernel imported it (the kernel keeps
the old code in memory). A run started in a kernel therefore records:

- the kernel's input history of this session, in order (IPython's ``In``: what W&B calls the session history),
  as a file ``.gitxp/executed/<notebook>.py`` added to the version's patch (one ``# %% In[N]`` block a cell), so
  ``gitxp rerun`` can execute exactly those cells again (:mod:`gitxp.notebook.rerun`);
- ``meta.notebook.path`` (the notebook's path in the repository, when the kernel knows it: Jupyter's server tells
  it as ``__session__``, VS Code as ``__vsc_ipynb_file__``), ``meta.notebook.cells`` (how many cells ran);
- ``meta.notebook.unsaved_cells``: executed cells whose source is in no code cell of the saved notebook. Then the
  version id hashes the executed cells too (a different id than the saved file's), so ``compare --code`` shows
  the code that ran; otherwise the history is kept but the id is the saved notebook's (re-running the same cells
  gives the same version);
- ``meta.notebook.stale_modules``: the repository's modules whose file changed on disk after the kernel imported
  it (hash at import, from an audit hook installed when gitxp is imported in a kernel, against the tree's file).
"""

from __future__ import annotations

import hashlib
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.git.repo import Repo
    from gitxp.version.capture import Version

__all__ = ["EXECUTED_DIR", "executed_text", "install", "record", "shell"]

EXECUTED_DIR = ".gitxp/executed"
_LOADED: dict[str, str] = {}  # source file -> sha256 of its content when the kernel executed (imported) it
_INSTALLED: list[bool] = []


def shell() -> Any:
    """The running IPython shell of a kernel (or IPython terminal), or None; IPython is never imported here."""
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        return get_ipython()
    except Exception:  # noqa: BLE001 - a broken IPython is no kernel
        return None


def _sha(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _watched(path: str) -> bool:
    return path.endswith(".py") and "site-packages" not in path and not path.startswith(sys.base_prefix)


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "exec" or not args:
        return
    filename = getattr(args[0], "co_filename", None)
    if isinstance(filename, str) and _watched(filename) and os.path.isabs(filename):
        digest = _sha(filename)  # the module's code is being executed from this content: an import or reload
        if digest is not None:
            _LOADED[filename] = digest


def install() -> None:
    """In a kernel: hash every source module already imported, and every one imported (or reloaded) from now
    on, so that a run can tell which modules changed on disk since. Called once, when gitxp is imported."""
    if _INSTALLED or shell() is None:
        return
    _INSTALLED.append(True)
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and _watched(filename) and filename not in _LOADED:
            digest = _sha(filename)
            if digest is not None:
                _LOADED[filename] = digest
    sys.addaudithook(_on_audit)


def _notebook_path(ip: Any) -> Path | None:
    names = getattr(ip, "user_ns", {}) or {}
    for candidate in (
        names.get("__vsc_ipynb_file__"),
        names.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            path = Path(candidate)
            path = path if path.is_absolute() else Path.cwd() / path
            if path.is_file():
                return path.resolve()
    return None


def _holding(cells: list[str]) -> Path | None:
    """Without a path from the front-end (``jupyter nbconvert --execute``, papermill, nbclient): the one notebook
    of the kernel's directory whose code cells hold every executed cell."""
    from gitxp.version.ipynb import code_cells

    wanted = {cell.strip() for cell in cells if cell.strip()}
    found = []
    for path in sorted(Path.cwd().glob("*.ipynb"))[:100]:
        try:
            saved = code_cells(path.read_bytes())
        except OSError:
            continue
        if saved is not None and wanted <= {cell.strip() for cell in saved}:
            found.append(path.resolve())
    return found[0] if len(found) == 1 else None


def _history(ip: Any) -> list[str]:
    manager = getattr(ip, "history_manager", None)
    raw = getattr(manager, "input_hist_raw", None) or (getattr(ip, "user_ns", {}) or {}).get("In") or []
    return [str(cell) for cell in list(raw)[1:]]


def later_cells(count: int) -> list[str]:
    """The cells the kernel executed after its first ``count`` (a run that spans cells, at its end)."""
    ip = shell()
    return _history(ip)[count:] if ip is not None else []


def executed_text(cells: list[str]) -> str:
    """The executed cells as one file: a ``# %% In[N]`` block a cell (the percent format of jupytext)."""
    return "".join(
        f"# %% In[{n}]\n{src}{'' if src.endswith(chr(10)) else chr(10)}" for n, src in enumerate(cells, 1)
    )


def _new_file_patch(path: str, text: str) -> bytes:
    lines = text.splitlines(keepends=True)
    body = "".join("+" + line for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n{body}"
    ).encode()


def _relative(repo: Repo, path: str | Path) -> str | None:
    if repo.worktree is None:
        return None
    try:
        return Path(path).resolve().relative_to(repo.worktree.resolve()).as_posix()
    except ValueError:
        return None


_META: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(version made by record()) -> (version, its meta)


def meta_for(version: Any) -> dict[str, Any]:
    """The notebook meta of a version made by :func:`record` (every run of it records the same), else ``{}``."""
    found = _META.get(id(version))
    return dict(found[1]) if found is not None and found[0] is version else {}


def record(repo: Repo, version: Version) -> Version:
    """In a kernel: ``version`` with the executed cells added (in its id too when they hold code the saved
    notebook does not, or a module changed after import) and its meta kept for :func:`meta_for`; outside a
    kernel: ``version`` itself."""
    import dataclasses

    ip = shell()
    if ip is None or not hasattr(ip, "kernel") or version.commit is None or repo.worktree is None:
        return version
    from gitxp.version.ipynb import code_cells

    cells = _history(ip)
    meta: dict[str, Any] = {"notebook.cells": len(cells)}
    notebook = _notebook_path(ip) or _holding(cells)
    relative = _relative(repo, notebook) if notebook is not None else None
    saved: list[str] | None = None
    if notebook is not None:
        meta["notebook.path"] = relative or str(notebook)
        saved = code_cells(notebook.read_bytes())
    known = {cell.strip() for cell in saved or []}
    if saved is None:  # no saved notebook holds them
        meta["notebook.unsaved_cells"] = len([c for c in cells if c.strip()])
    elif unsaved := [cell for cell in cells if cell.strip() and cell.strip() not in known]:
        meta["notebook.unsaved_cells"] = len(unsaved)
    stale = {
        rel: digest
        for path, digest in _LOADED.items()
        if (rel := _relative(repo, path)) is not None and _sha(path) != digest
    }
    if stale:
        meta["notebook.stale_modules"] = sorted(stale)
        warnings.warn(
            f"gitxp: {', '.join(sorted(stale))} changed on disk after the kernel imported it: this run uses the "
            "code in memory, not the version's (restart the kernel, or importlib.reload the module)",
            stacklevel=4,
        )
    name = f"{EXECUTED_DIR}/{relative or 'session.ipynb'}.py"
    history = _new_file_patch(name, executed_text(cells))
    identity = version.identity if version.identity is not None else version.patch
    if "notebook.unsaved_cells" in meta:
        identity += history
    identity += "".join(
        f"# gitxp: stale module {rel} sha256={sha}\n" for rel, sha in sorted(stale.items())
    ).encode()
    made = dataclasses.replace(version, patch=version.patch + history, identity=identity)
    if len(_META) > 64:
        _META.clear()
    _META[id(made)] = (made, meta)
    return made
