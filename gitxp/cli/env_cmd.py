"""``gitxp env``: the package environments runs were recorded in (``env show RUN``, ``env diff A B``)."""

from __future__ import annotations

from typing import Any

import click

from gitxp.cli.output import FORMATS, json_dumps, to_json_value
from gitxp.errors import UsageError

__all__ = ["COMMANDS", "print_env", "print_run_env"]


@click.group("env")
def env_group() -> None:
    """The package environment (installed distributions, python, platform, CUDA) each run recorded."""


def _row(store: Any, table: Any, text: str) -> dict[str, Any]:
    import pyarrow.compute as pc

    run_id = store.resolve_run(text, table)
    return dict(table.filter(pc.equal(table["run_id"], run_id)).to_pylist()[0])


def _env_of(store: Any, table: Any, text: str) -> tuple[str, dict[str, Any]]:
    """A run's environment; ``.`` is the current interpreter's."""
    from gitxp.store import envs

    if text in (".", "current"):
        return "current", envs.current(store)
    row = _row(store, table, text)
    env = envs.of_run(store, row)
    if env is None:
        digest = row.get("meta.environment")
        raise UsageError(
            f"run {row['run_id']} recorded no environment"
            + (
                f" (its environment {digest} is not in this store)"
                if digest
                else " (recorded before environments were)"
            )
        )
    return row["run_id"], env


def print_env(env: dict[str, Any], fmt: str, title: str) -> None:
    """An environment as ``name version`` lines (or JSON)."""
    if fmt == "json":
        click.echo(json_dumps(to_json_value(env)))
        return
    if fmt == "csv":
        click.echo("name,version")
        for name, version in (env.get("packages") or {}).items():
            click.echo(f"{name},{version}")
        return
    click.echo(title)
    for key, value in env.items():
        if key != "packages":
            click.echo(f"  {key:15} {value}")
    packages = env.get("packages") or {}
    click.echo(f"packages ({len(packages)}):")
    for name, version in packages.items():
        click.echo(f"  {name} {version}")


def print_run_env(store: Any, row: dict[str, Any], fmt: str) -> None:
    """``gitxp show RUN --env``: the environment of a run (a row of the wide table)."""
    from gitxp.store import envs

    env = envs.of_run(store, row)
    if env is None:
        raise UsageError(
            f"run {row['run_id']} recorded no environment (or its environment is not in this store)"
        )
    print_env(env, fmt, f"environment of {row['run_id']} ({row.get('meta.environment')})")


@env_group.command("show")
@click.argument("run")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def env_show(run: str, fmt: str) -> None:
    """Print the environment RUN was recorded in (``.``: this interpreter's)."""
    from gitxp.store import Store

    store = Store.open()
    table = store.table(show="archived")
    name, env = _env_of(store, table, run)
    print_env(env, fmt, f"environment of {name}")


@env_group.command("diff")
@click.argument("a")
@click.argument("b", default=".")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def env_diff(a: str, b: str, fmt: str) -> None:
    """Packages added, removed and changed from run A's environment to run B's (B defaults to ``.``, this
    interpreter). Exit 0 when they are the same, 1 when they differ (for scripts)."""
    from gitxp.store import Store, envs

    store = Store.open()
    table = store.table(show="archived")
    name_a, env_a = _env_of(store, table, a)
    name_b, env_b = _env_of(store, table, b)
    rows = envs.diff(env_a, env_b)
    if fmt == "json":
        click.echo(json_dumps({"a": name_a, "b": name_b, "same": not rows, "differences": rows}))
    elif fmt == "csv":
        click.echo("name,change,a,b")
        for row in rows:
            click.echo(f"{row['name']},{row['change']},{row['a'] or ''},{row['b'] or ''}")
    elif not rows:
        click.echo(f"same environment: {name_a} and {name_b}")
    else:
        click.echo(f"environment {name_a} -> {name_b}: {len(rows)} difference{'s' * (len(rows) != 1)}")
        for row in rows:
            click.echo(f"  {envs.format_change(row)}")
    raise SystemExit(1 if rows else 0)


COMMANDS = [env_group]
