"""The input data of a run: ``run.input(path)`` declares a file or directory it reads (by hash), and
``run.log_input(path)`` also keeps a copy of it (an artifact ``gitxp rerun`` restores). A part of
:class:`gitxp.run.Run`, as :mod:`gitxp.run.curves` is."""

from __future__ import annotations

import os
from typing import Any


class RunInputs:
    """``Run.input`` and ``Run.log_input`` (mixed into :class:`gitxp.run.Run`)."""

    store: Any
    _record: dict[str, Any]

    def _update(self, group: str, values: Any) -> None:  # Run's
        raise NotImplementedError

    def input(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Declare a data file or directory the run reads: its path, size and content hash are recorded
        (``meta.inputs``, see :mod:`gitxp.store.inputs`), so that ``show`` and ``compare`` list it and ``rerun
        --verify`` and ``bisect`` notice when it changed. Nothing is copied (``log_input`` also keeps a copy)."""
        from gitxp.store import inputs

        item = inputs.describe_for(self.store, path)
        self._update("meta", {"inputs": inputs.merge(self._record["meta"].get("inputs"), item)})
        return item

    def log_input(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Record a file the run read (data, a config outside git) and keep a copy of it, so that ``gitxp
        rerun`` restores it; it is also declared as an input (:meth:`input`)."""
        from gitxp.store.artifacts import log_input

        self.input(path)
        return log_input(self, path)  # type: ignore[arg-type]
