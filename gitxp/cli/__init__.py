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


class _OneLineUsageError(click.UsageError):
    """click's usage error (unknown option or command, bad value, missing argument) shown as gitxp's errors are:
    one line on stderr, exit 2 — not click's four-line usage block."""

    def __init__(self, error: click.UsageError, ctx: click.Context | None = None) -> None:
        text = " ".join(error.format_message().split()).removesuffix(".")
        if text[:2].istitle():
            text = text[0].lower() + text[1:]  # "Invalid value" -> "invalid value", as gitxp's messages read
        super().__init__(text, error.ctx or ctx)
        # exit code: click's class-level UsageError.exit_code (2), inherited; no click usage error overrides it
        self.where = error.ctx.command_path if error.ctx is not None else ""
        if not self.where and ctx is not None:  # raised by click's parser without its context
            self.where = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))

    def show(self, file: Any = None) -> None:
        click.echo(f"gitxp: error: {self.format_message()} (see '{self.where or 'gitxp'} --help')", err=True)


class _Group(click.Group):
    """Maps gitxp's own errors and click's usage errors to a one-line message and an exit code."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            _check_text(list(args[1] if len(args) > 1 else kwargs.get("args") or []))
            return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            raise error if isinstance(error, _OneLineUsageError) else _OneLineUsageError(error) from error

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        shown, warnings.showwarning = warnings.showwarning, _show_warning
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if isinstance(error, _OneLineUsageError):
                raise
            raise _OneLineUsageError(error, ctx) from error
        except GitxpError as error:
            click.echo(f"gitxp: error: {error}", err=True)
            ctx.exit(error.exit_code)
        except UnicodeEncodeError as error:  # an argument holding bytes that are not UTF-8 (surrogateescape)
            if "surrogates not allowed" not in str(error):
                raise
            bad = error.object[error.start : error.end]
            text = (
                bad.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                if isinstance(bad, str)
                else "?"
            )
            click.echo(f"gitxp: error: an argument holds bytes that are not UTF-8 text ({text})", err=True)
            ctx.exit(2)
        except OSError as error:
            message = storage_error(error)
            if message is None:
                raise
            click.echo(f"gitxp: error: {message}", err=True)
            ctx.exit(1)
        except TypeError as error:
            if "gitxp" in str(error) or "param" in str(error):
                click.echo(f"gitxp: error: {error}", err=True)
                ctx.exit(2)
            raise
        finally:
            warnings.showwarning = shown


def _check_text(args: list[str]) -> None:
    """Refuse, in one line, an argument of gitxp's own that holds bytes that are not UTF-8 (Python passes them as
    lone surrogates, which no run id, filter or remote name can hold). ``gitxp run`` keeps them: the command it
    runs may take any bytes (a file name), and gitxp records them repaired."""
    if args[:1] == ["run"]:
        return
    for arg in args:
        if arg == "--":
            return
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise click.UsageError(
                f"the argument {shown[:200]!r} holds bytes that are not UTF-8 text"
            ) from None


def storage_error(error: OSError) -> str | None:
    """One line for a file system that refuses gitxp's writes (full, over quota, read-only), else None."""
    import errno

    reason = {
        errno.ENOSPC: "no space left on device",
        errno.EDQUOT: "no space left (disk quota exceeded)",
        errno.EROFS: "read-only file system",
    }.get(error.errno or 0)
    if reason is None:
        return None
    where = f" writing {error.filename}" if error.filename else ""
    return (
        f"{reason}{where}; nothing already recorded was lost (staged runs stay in .git/gitxp/staging "
        "and are committed by the next gitxp command once there is room)"
    )


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, *args: Any, **kwargs: Any
) -> None:
    """gitxp's warnings as one clean line ``warning: ...`` on stderr (no source location: the user did not
    write click's code); other libraries' warnings keep their usual form."""
    import warnings

    from gitxp.errors import GitxpWarning

    text = str(message)
    if issubclass(category, GitxpWarning) or text.startswith("gitxp:"):
        line = " ".join(text.removeprefix("gitxp:").split())
        click.echo(f"warning: {line}", err=True)
    else:
        click.echo(warnings.formatwarning(message, category, filename, lineno).rstrip(), err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitxp")
def cli() -> None:
    """Record, list and compare machine-learning runs, each tied to the exact git version of its code."""


def _register() -> None:
    from gitxp.cli import (
        artifacts_cmd,
        bisect_cmd,
        cluster_cmd,
        compare_cmd,
        env_cmd,
        lifecycle_cmd,
        report_cmd,
        rerun_cmd,
        run_cmd,
        runs,
        show_cmd,
        sync,
        ui_cmd,
    )

    commands = (
        run_cmd,
        runs,
        show_cmd,
        compare_cmd,
        rerun_cmd,
        lifecycle_cmd,
        bisect_cmd,
        report_cmd,
        sync,
        artifacts_cmd,
        ui_cmd,
        cluster_cmd,
        env_cmd,
    )
    for module in commands:
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = argv if argv is not None else sys.argv[1:]
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _Unneeded("pandas", ("gitxp", "pyarrow")))
    if args[:1] and args[0] in _NO_NUMPY and "numpy" not in sys.modules:
        sys.meta_path.insert(0, _Unneeded("numpy", ("pyarrow",)))
    cli.main(args=args, prog_name="gitxp")


_NO_NUMPY = (
    "ls",
    "show",
    "export",
    "compare",
)  # commands that never hand pyarrow a numpy array, nor take one


class _Unneeded(importlib.abc.MetaPathFinder):
    """Reports ``module`` missing when the nearest Python frame importing it belongs to one of ``callers``.

    pyarrow imports pandas (~0.15 s) the first time it builds an array, merely to check whether its input is a
    pandas object, and numpy (50-150 ms) when it loads, only to convert arrays to and from numpy. gitxp's commands
    never hand pyarrow a pandas object, and the listing commands (``_NO_NUMPY``) never convert to numpy, so those
    imports are refused to gitxp's and pyarrow's own frames (pyarrow's check runs in C, so the nearest Python frame
    is the caller's); anyone else importing them (plugins, compare's bootstrap) gets them as usual."""

    def __init__(self, module: str, callers: tuple[str, ...]) -> None:
        self.module, self.callers = module, callers

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name != self.module:
            return None
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(
            ("importlib", "_frozen_importlib")
        ):
            frame = frame.f_back  # type: ignore[assignment]
        caller = frame.f_globals.get("__name__", "") if frame is not None else ""
        if any(caller == c or caller.startswith(c + ".") for c in self.callers):
            raise ModuleNotFoundError(
                f"No module named {name!r} (not needed by this gitxp command)", name=name
            )
        return None
