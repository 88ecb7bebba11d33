"""Where a store lives (``.git/gitxp/`` of the common dir), its writers' lock, and the ref's head."""

from __future__ import annotations

from typing import Any

from gitxp.git.repo import Repo
from gitxp.store.schema import LOCK_TIMEOUT, REF


class StoreBase:
    """Runs of one repository: staging directory, ref and read cache (the layers below ``Store``)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.detach_commits = False
        self.root = repo.common_dir / "gitxp"
        self.staging = self.root / "staging"
        self.cache_dir = self.root / "cache"

    def lock(self) -> Any:
        from filelock import FileLock

        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / "store.lock"), timeout=LOCK_TIMEOUT)

    def head(self) -> str | None:
        return self.repo.read_ref(REF)
