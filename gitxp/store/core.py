"""``Store``: the run store of one repository (the layers: base, staging area, ref writer, read cache, packs)."""

from __future__ import annotations

import os
from pathlib import Path

from gitxp.git.repo import Repo
from gitxp.store.packs import Packs


class Store(Packs):
    """Runs of one repository: staging directory, ref and read cache."""

    # -------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = False) -> Store:
        """The store of the git repository containing ``path`` (default: the current directory).

        Outside any repository, the store is a private bare repository in ``./.gitxp``: used if it exists,
        created when ``create`` (runs recorded with ``git=False`` / ``--no-git``), an error otherwise.
        """
        from gitxp.errors import NotARepositoryError

        try:
            return cls(Repo.discover(path))
        except NotARepositoryError:
            fallback = Path(path or os.getcwd()) / ".gitxp"
            if not create and not (fallback / "HEAD").exists():
                raise
            return cls(Repo.init_bare(fallback))

    # -------------------------------------------------------------- questions

    def has_runs_of(self, experiment: str) -> bool:
        """Whether any run was recorded in ``experiment``: live, committed, archived or removed."""
        import pyarrow.compute as pc

        table = self.table(recover=False, show="all")
        return bool(table.num_rows) and bool(pc.any(pc.equal(table["experiment"], experiment)).as_py())
