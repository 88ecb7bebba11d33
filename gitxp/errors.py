"""Errors gitxp raises on purpose: each carries a one-line message and a CLI exit code."""

from __future__ import annotations

__all__ = [
    "GitxpError",
    "UsageError",
    "NotARepositoryError",
    "NoCommitError",
    "RunNotFoundError",
    "StoreError",
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


class StoreError(GitxpError):
    """The store could not be read or written (git failed, ref moved too often, corrupt data)."""

    exit_code = 1
