"""Asking before running a command this clone did not record (a pulled run's: see gitxp.store.provenance).

``gitxp rerun``, ``gitxp bisect RUN`` and ``gitxp run --resume -e EXP`` run a command taken from a recorded run.
When that run was not recorded in this clone, its command came from whoever pushed it: it is shown exactly as it
will run and confirmed on a terminal; ``--yes`` (where the command has it) skips the question; with no terminal
to ask on, nothing runs.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

from gitxp.errors import UsageError

__all__ = ["shown_command", "confirm_foreign"]


def shown_command(argv: Sequence[str], params: Mapping[str, Any], *, shell: bool = False) -> str:
    """The command ``argv`` as it will run with ``params`` applied (``{lr}`` filled in, ``--lr`` replaced),
    secrets masked, quoted for a shell."""
    from gitxp.version.secrets import mask_argv
    from gitxp.wrap.overrides import rendered_command

    words = mask_argv(rendered_command(list(argv), params))
    return "sh -c " + shlex.quote(" ".join(words)) if shell else shlex.join(words)


def confirm_foreign(
    store: Any, run: Mapping[str, Any], command: str, *, yes: bool, how: str = "pass --yes"
) -> None:
    """Return when ``run`` was recorded in this clone or ``yes``; else show ``command`` (what will run) and ask on
    a terminal; without one, a usage error that shows it and says ``how`` to go ahead. The run's own
    ``meta.user``/``meta.host`` are shown as what it claims, never trusted."""
    from gitxp.store.provenance import recorded_here

    run_id = str(run["run_id"])
    if yes or recorded_here(store.root, run_id):
        return
    user, host = run.get("meta.user"), run.get("meta.host")
    where = f"was not recorded in this clone (pulled; it says: recorded by {user or '?'} on {host or '?'})"
    if not sys.stdin.isatty():
        raise UsageError(
            f"run {run_id} {where}; gitxp will not run its command without a yes:\n  {command}\n"
            f"review it, then {how}"
        )
    click.echo(f"run {run_id} {where}. It will run:\n  {command}", err=True)
    if not click.confirm("Run it?", default=False, err=True):
        raise UsageError("not confirmed: nothing was run")
