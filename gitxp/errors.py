"""Errors gitxp raises on purpose: each carries a one-line message and a CLI exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "GitxpError",
    "UsageError",
    "NotARepositoryError",
    "NoCommitError",
    "RunNotFoundError",
    "StoreError",
    "GitxpWarning",
    "did_you_mean",
    "unknown_name",
]


class GitxpError(Exception):
    """Base class: the CLI prints ``str(error)`` on one line and exits with ``exit_code``."""

    exit_code = 2


class UsageError(GitxpError):
    """The user asked for something malformed (bad filter, bad spec, unknown column)."""


class NotARepositoryError(GitxpError):
    """The working directory is not inside a git repository."""


class NoCommitError(GitxpError):
    """The repository has no commit yet, so there is no version to record."""


class RunNotFoundError(GitxpError):
    """A run id prefix matched no run, or more than one."""


class GitxpWarning(UserWarning):
    """Something was recorded less completely than usual (e.g. a binary untracked file kept by hash only).

    The CLI shows it as one line ``warning: ...``; in Python it is an ordinary warning (filter it as usual)."""


class StoreError(GitxpError):
    """The store could not be read or written (git failed, ref moved too often, corrupt data)."""

    exit_code = 1


def did_you_mean(name: str, choices: Iterable[str], *, limit: int = 3) -> str:
    """`` (did you mean a, b?)`` for the choices closest to ``name``, or ``""`` when none is close."""
    pool = sorted({str(c) for c in choices})
    close = difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)
    if not close:  # a prefix or substring match still helps (``acc`` -> ``valid_acc``)
        close = [c for c in pool if name and name.lower() in c.lower()][:limit]
    return f" (did you mean {', '.join(close)}?)" if close else ""


def unknown_name(what: str, name: str, choices: Iterable[str], *, where: str = "") -> UsageError:
    """The one error for a name nobody recorded: ``unknown metric 'fitnes' (did you mean fitness?)``.

    Without a close match it lists what exists (up to ten), so the user never has to guess."""
    pool = sorted({str(c) for c in choices})
    hint = did_you_mean(name, pool)
    if not hint:
        shown = ", ".join(pool[:10]) + (f", ... ({len(pool)} in all)" if len(pool) > 10 else "")
        hint = f"; known: {shown}" if pool else f"; no {what} is recorded yet"
    return UsageError(f"{where}unknown {what} {name!r}{hint}")
