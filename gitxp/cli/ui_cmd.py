"""``gitxp ui``: serve the dashboard for a repo's runs, or ``--export`` it as one self-contained HTML file."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gitxp.errors import GitxpError, UsageError

__all__ = ["COMMANDS"]


@click.command("ui")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0 picks a free port"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (no authentication!)")
@click.option("--open/--no-open", "open_browser", default=True, help="open a browser tab")
@click.option(
    "-C", "path", type=click.Path(file_okay=False, path_type=Path), default=None, help="serve this repo"
)
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write a self-contained HTML report instead of serving",
)
@click.option("-e", "--experiment", "experiment", default=None, help="experiment of the --export report")
@click.option("--metric", default=None, help="objective of the report (NAME:min|max)")
@click.option("--all", "show_all", is_flag=True, help="also list archived runs (gitxp archive)")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="also answer requests for this Host name (a reverse proxy's; loopback and --host always are)",
)
def ui_command(
    port: int,
    host: str,
    open_browser: bool,
    path: Path | None,
    export: Path | None,
    experiment: str | None,
    metric: str | None,
    show_all: bool,
    allow_hosts: tuple[str, ...],
) -> None:
    """Start the local web dashboard (runs, curves, sweeps, comparisons); Ctrl-C stops it."""
    from gitxp.store import Store

    store = Store.open(path)
    if export is not None:
        from gitxp.ui.report import write_report

        if experiment is None:
            raise UsageError("--export needs -e EXP (the experiment to report)")
        count = write_report(store, export, experiment, metric)
        click.echo(f"wrote {export} ({count} runs of {experiment})")
        return
    if experiment is not None:
        raise UsageError("-e is only used with --export")
    try:
        import uvicorn

        from gitxp.ui.server import allowed_hosts, create_app
    except ImportError as error:
        from gitxp.ui import INSTALL_HINT

        raise GitxpError(f"{INSTALL_HINT} ({error})") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: serving on {host}: the dashboard has no authentication; anyone who can reach "
            "this address can read your runs",
            err=True,
        )
    config = uvicorn.Config(
        create_app(store, "archived" if show_all else "visible", allowed_hosts(host, allow_hosts)),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)

    def announce() -> None:
        import threading
        import time

        def wait() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.05)
            if not server.started:
                return
            sock = server.servers[0].sockets[0].getsockname()
            shown = f"[{sock[0]}]" if ":" in sock[0] else sock[0]
            url = f"http://{shown}:{sock[1]}/"
            click.echo(
                f"gitxp ui: serving {store.repo.worktree or store.repo.git_dir} at {url} (Ctrl-C stops)"
            )
            sys.stdout.flush()
            if open_browser:
                import webbrowser

                webbrowser.open(url)

        threading.Thread(target=wait, daemon=True).start()

    announce()
    try:
        server.run()  # uvicorn shuts down cleanly on Ctrl-C, then re-raises it
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise GitxpError(f"could not serve on {host}:{port} (is the port in use?)")
    click.echo("gitxp ui: stopped")


COMMANDS = [ui_command]
