"""The ``gitxp`` command line: one module per command group, one error boundary.

Commands parse options, make one library call and format its output; no logic lives here. A ``GitxpError``
becomes a one-line ``gitxp: error: ...`` on stderr and its exit code (2 for usage errors).
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any

import click

from gitxp import __version__
from gitxp.errors import GitxpError

__all__ = ["main", "cli"]


class _Group(click.Group):
    """Maps gitxp's own errors to a one-line message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GitxpError as error:
            click.echo(f"gitxp: error: {error}", err=True)
            ctx.exit(error.exit_code)
        except TypeError as error:
            if "gitxp" in str(error) or "param" in str(error):
                click.echo(f"gitxp: error: {error}", err=True)
                ctx.exit(2)
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitxp")
def cli() -> None:
    """Record, list and compare machine-learning runs, each tied to the exact git version of its code."""


def _register() -> None:
    from gitxp.cli import runs, sync

    for module in (runs, sync):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


_READ_ONLY = {"ls", "show", "export"}


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = argv if argv is not None else sys.argv[1:]
    if args and args[0] in _READ_ONLY and "pandas" not in sys.modules:
        # pyarrow imports pandas (~0.15 s) the first time it builds an array, merely to check whether the input
        # is a pandas object. These commands never handle pandas objects: make pandas look absent.
        sys.meta_path.insert(0, _WithoutPandas())
    cli.main(args=args, prog_name="gitxp")


class _WithoutPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(
                f"No module named {name!r} (not needed by this gitxp command)", name=name
            )
        return None
