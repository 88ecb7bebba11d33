"""Git porcelain a user watches, through GitPython: fetching and pushing the store with a progress bar, and errors
that say what went wrong (authentication, an unreachable or missing remote) instead of git's last line.

This is the one module that imports GitPython (``git``), and only ``gitxp push``/``gitxp pull`` import it: the
hot paths (recording runs, ``gitxp ls``) stay on plain git plumbing through :mod:`gitxp.git.repo`, which is faster to
start and needs no extra process state (see docs/design.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import git

from gitxp.errors import UsageError

__all__ = ["fetch_ref", "push_ref", "describe_failure", "PushRejected"]


class PushRejected(UsageError):
    """The remote's ref moved since it was fetched (another clone pushed first): fetch, merge and push again."""


_AUTH = re.compile(
    r"authentication failed|permission denied|could not read (username|password)|terminal prompts disabled|"
    r"invalid username or password|(?:error|http|status)\W{0,3}40[13]\b|access denied|publickey",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"does not appear to be a git repository|could not resolve host|repository .* not found|not found|"
    r"connection refused|connection timed out|no such file or directory|could not read from remote",
    re.IGNORECASE,
)


def describe_failure(action: str, remote: str, stderr: str) -> UsageError:
    """One line for a failed fetch/push: what kind of failure, what to do, and git's own words."""
    lines = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("stderr:"):  # GitPython's framing of git's own output
            line = line[len("stderr:") :].strip()
        line = line.strip("'").strip()
        if line and not line.startswith(("cmdline:", "Cmd(")):
            lines.append(line)
    last = lines[-1] if lines else "git gave no reason"
    # the remote's path or URL may hold any word ("run-403"): it is not git's reason
    said = stderr.replace(remote, "<remote>")
    if _AUTH.search(said):
        return UsageError(
            f"gitxp {action} {remote}: authentication failed (check your credentials, SSH key or token "
            f"for this remote): {last}"
        )
    if _UNREACHABLE.search(said):
        return UsageError(
            f"gitxp {action} {remote}: {remote!r} is not a reachable git repository (a remote name of "
            f"'git remote -v', a path or a URL): {last}"
        )
    return UsageError(f"gitxp {action} {remote} failed: {last}")


_STAGES = {
    getattr(git.RemoteProgress, name): name.lower().replace("_", " ")
    for name in (
        "COUNTING",
        "COMPRESSING",
        "WRITING",
        "RECEIVING",
        "RESOLVING",
        "FINDING_SOURCES",
        "CHECKING_OUT",
    )
}


class _Progress(git.RemoteProgress):
    """GitPython's progress callbacks into a rich progress bar on stderr (none when stderr is not a terminal)."""

    def __init__(self, title: str, console: Any = None) -> None:
        super().__init__()
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        err = console if console is not None else Console(stderr=True)
        self.bar = Progress(
            TextColumn(f"[bold]{title}"),
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=False),
            console=err,
            disable=not err.is_terminal,
            transient=True,
        )
        self.tasks: dict[int, Any] = {}

    def update(self, op_code: int, cur_count: Any, max_count: Any = None, message: str = "") -> None:
        stage = op_code & self.OP_MASK
        try:
            if stage not in self.tasks:
                self.tasks[stage] = self.bar.add_task(_STAGES.get(stage, "working"), total=None)
            total = float(max_count) if max_count else None
            self.bar.update(self.tasks[stage], completed=float(cur_count or 0), total=total)
        except Exception:  # a progress bar must never break the transfer it shows
            pass

    def __enter__(self) -> _Progress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _remote(path: Path, remote: str) -> git.Remote:
    repo = git.Repo(path)
    if remote not in repo.remotes and "://" not in remote and Path(remote).exists():
        remote = str(Path(remote).resolve())  # a path is relative to where the user stands, not to the repo
    return git.Remote(repo, remote)  # a configured name, or a path/URL that git resolves itself


def fetch_ref(path: Path, remote: str, refspec: str, action: str = "pull", *, console: Any = None) -> bool:
    """Fetch ``refspec`` from ``remote`` into the repository at ``path``; False when the remote has no such ref.
    ``action`` names the gitxp command in errors (``push`` fetches first); the progress bar goes to ``console``
    (a rich console on stderr; none shown when it is not a terminal)."""
    try:
        with _Progress(f"{action} {remote}", console) as progress:
            _remote(path, remote).fetch(refspec, progress=progress)
    except git.GitCommandError as error:
        stderr = str(error.stderr or "")
        if "couldn't find remote ref" in stderr:
            return False
        raise describe_failure(action, remote, stderr) from None
    return True


def _raced(info: Any) -> bool:
    """Whether a refused ref lost a race with another push (worth fetching, merging and pushing again): not a
    fast-forward any more, or the remote's ref locked or moved while it was being updated."""
    if info.flags & git.PushInfo.REJECTED and not info.flags & git.PushInfo.REMOTE_REJECTED:
        return True
    summary = str(info.summary or "").lower()
    return any(
        s in summary
        for s in ("failed to update ref", "cannot lock ref", "incorrect old value", "fetch first")
    )


def push_ref(path: Path, remote: str, refspec: str, *, console: Any = None) -> None:
    """Push ``refspec`` to ``remote`` (no hooks: gitxp's own pre-push hook would push again); progress as in
    :func:`fetch_ref`."""
    try:
        with _Progress(f"push {remote}", console) as progress:
            infos = _remote(path, remote).push(refspec, progress=progress, no_verify=True)
    except git.GitCommandError as error:
        stderr = str(error.stderr or "")
        if "fetch first" in stderr or "non-fast-forward" in stderr or "stale info" in stderr:
            raise PushRejected(f"gitxp push {remote}: the remote's runs moved meanwhile") from None
        raise describe_failure("push", remote, stderr) from None
    failed = [
        i
        for i in infos
        if i.flags & (git.PushInfo.ERROR | git.PushInfo.REJECTED | git.PushInfo.REMOTE_REJECTED)
    ]
    stale = [i for i in failed if _raced(i)]
    if stale and len(stale) == len(failed):
        raise PushRejected(
            f"gitxp push {remote}: the remote's runs moved meanwhile ({stale[0].summary.strip()})"
        )
    if infos.error is not None or not infos or failed:
        summary = (
            failed[0].summary.strip() if failed else str(getattr(infos.error, "stderr", "") or infos.error)
        )
        raise describe_failure("push", remote, summary or "the remote refused the push")
