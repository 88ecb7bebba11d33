"""The commits behind shared runs: which ones a remote lacks, and where ``gitxp push --with-commits`` puts them.

A run is only usable by a teammate (``rerun``, ``compare --code``, the dashboard's diff) when their clone has its
commit. ``gitxp push`` shares the store's ref, not the code: a run made on a local branch or a commit never pushed
reaches the teammate without its code. :func:`unshared` finds those runs (their commits reachable from no ref of
the remote); ``gitxp push --with-commits`` pushes each such commit to ``refs/gitxp/commits/<sha>`` on the remote
(:data:`COMMITS_REFSPEC`), which ``gitxp pull`` fetches, so the teammate's ``rerun``/``compare`` find them. The
user's branches are never touched on either side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitxp.store import Store

__all__ = [
    "COMMITS_PREFIX",
    "COMMITS_REFSPEC",
    "Unshared",
    "remote_location",
    "unshared",
    "push_commits",
    "pull_hint",
]

COMMITS_PREFIX = "refs/gitxp/commits/"
COMMITS_REFSPEC = f"+{COMMITS_PREFIX}*:{COMMITS_PREFIX}*"


@dataclass(frozen=True)
class Unshared:
    """A commit the remote lacks and the runs recorded at it (``(run id, branch)``, oldest first)."""

    commit: str
    runs: list[tuple[str, str | None]]


def remote_location(store: Store, remote: str) -> str:
    """``remote`` as git understands it from the repository: a configured name, a URL, or an absolute path (a
    path is relative to where the user stands)."""
    names = store.repo.git("remote").decode().split()
    if remote not in names and "://" not in remote and Path(remote).exists():
        return str(Path(remote).resolve())
    return remote


def _remote_tips(store: Store, remote: str) -> list[str]:
    """The commits the remote's refs point at that this clone has (what it lacks cannot bound anything)."""
    proc = store.repo.run(
        ["ls-remote", remote_location(store, remote)], check=False, env={"GIT_TERMINAL_PROMPT": "0"}
    )
    shas = [line.split()[0].decode() for line in proc.stdout.splitlines() if line.strip()]
    return store.repo.existing(shas) if shas else []


def unshared(store: Store, remote: str) -> list[Unshared]:
    """The runs of the store whose commit no ref of ``remote`` reaches (commits this clone lacks too are left
    out: they are someone else's, and not ours to push)."""
    table = store.table(recover=False, show="all")
    if table.num_rows == 0 or "commit" not in table.column_names:
        return []
    by_commit: dict[str, list[tuple[float, str, str | None]]] = {}
    branches = table["branch"].to_pylist() if "branch" in table.column_names else [None] * table.num_rows
    for run_id, commit, branch, started in zip(
        table["run_id"].to_pylist(), table["commit"].to_pylist(), branches, table["started"].to_pylist()
    ):
        if commit:
            by_commit.setdefault(commit, []).append((started or 0.0, run_id, branch))
    commits = store.repo.existing(by_commit)
    if not commits:
        return []
    tips = _remote_tips(store, remote)
    stdin = "\n".join([*commits, *(f"^{tip}" for tip in tips)]) + "\n"
    reachable = set(store.repo.git("rev-list", "--stdin", input=stdin.encode()).decode().split())
    missing = [c for c in commits if c in reachable]
    return [
        Unshared(commit, [(run_id, branch) for _t, run_id, branch in sorted(by_commit[commit])])
        for commit in sorted(missing, key=lambda c: min(t for t, _r, _b in by_commit[c]))
    ]


def push_commits(store: Store, remote: str, missing: list[Unshared]) -> None:
    """Push each commit to ``refs/gitxp/commits/<sha>`` on ``remote`` (the ref's name is its sha: two clones'
    pushes never conflict), in one ``git push``, without hooks (gitxp's pre-push hook would push again)."""
    from gitxp.errors import GitxpError

    refspecs = [f"{item.commit}:{COMMITS_PREFIX}{item.commit}" for item in missing]
    proc = store.repo.run(
        ["push", "--no-verify", "--quiet", remote_location(store, remote), *refspecs],
        check=False,
        env={"GIT_TERMINAL_PROMPT": "0"},
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["git push failed"]
        raise GitxpError(f"gitxp push --with-commits {remote}: {reason[0]}")


def pull_hint(store: Store) -> str | None:
    """For a clone without any run (a fresh ``git clone`` fetches no ``refs/gitxp/*``) that has a remote: the
    hint that runs others pushed come with ``gitxp pull``."""
    if store.head() is not None or store.repo.worktree is None:
        return None
    remotes = store.repo.git("remote").decode().split()
    if not remotes:
        return None
    name = "origin" if "origin" in remotes else remotes[0]
    return (
        f"hint: this clone has no runs yet; runs recorded elsewhere and pushed to {name} are fetched with: "
        f"gitxp pull{'' if name == 'origin' else ' ' + name}\n"
    )
