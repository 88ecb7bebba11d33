"""The persisted state of a bisect: what it measures, the commits it walks, and each commit measured so far.

One JSON file per bisect under ``.git/gitxp/bisect/<id>.json`` (the repository's common git dir, so every
worktree sees it), rewritten atomically after every measured commit; ``.git/gitxp/bisect/current`` names the
latest one. ``gitxp bisect --resume`` reads it back after Ctrl-C, a kill or a crash: commits already measured are
not measured again, and the finished runs of a commit interrupted half-way are reused from the store.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError

__all__ = ["Spec", "State", "state_dir", "load_current"]


@dataclass
class Spec:
    """What is measured at every commit: a command (argv, or a shell line), run from ``workdir`` (relative to the
    repository's root) with ``params``; ``source_run`` when it comes from a recorded run."""

    argv: list[str]
    shell: bool = False
    config: str | None = None
    parse: list[str] = field(default_factory=list)
    workdir: str = "."
    params: dict[str, Any] = field(default_factory=dict)
    source_run: str | None = None
    entrypoint: str | None = None
    inputs: list[str] = field(default_factory=list)  # declared input paths, hashed again at every new run


@dataclass
class State:
    id: str
    good: str
    bad: str
    commits: list[str]  # index 0 is the good end, the last one the bad end
    metric: str
    goal: str
    repeat: int
    threshold: float
    jobs: int
    spec: Spec
    measured: dict[str, dict[str, Any]] = field(default_factory=dict)  # str(index) -> measurement
    done: bool = False
    outcome: dict[str, Any] | None = None

    @property
    def experiment(self) -> str:
        return f"bisect-{self.id}"

    def verdicts(self) -> dict[int, str]:
        return {int(k): v["verdict"] for k, v in self.measured.items()}

    def save(self, root: Path) -> Path:
        folder = state_dir(root)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.id}.json"
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".state-")
        with os.fdopen(handle, "w") as out:
            json.dump(asdict(self), out, indent=1, sort_keys=True)
        os.replace(tmp, path)
        (folder / "current").write_text(self.id + "\n")
        return path

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        data = dict(data)
        data["spec"] = Spec(**data["spec"])
        return cls(**data)


def state_dir(root: Path) -> Path:
    """Where bisect states live (``root`` is the store's folder, ``.git/gitxp``)."""
    return root / "bisect"


def load_current(root: Path) -> State:
    """The latest bisect of this repository (what ``--resume`` continues), or a usage error."""
    folder = state_dir(root)
    try:
        bisect_id = (folder / "current").read_text().strip()
        data = json.loads((folder / f"{bisect_id}.json").read_text())
    except (OSError, ValueError):
        raise UsageError(
            "no bisect to resume in this repository (start one with gitxp bisect --good ...)"
        ) from None
    return State.from_json(data)
