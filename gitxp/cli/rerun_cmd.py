"""``gitxp rerun``: run a past run again from its exact code, with overrides, or verify that it reproduces."""

from __future__ import annotations

import sys
from typing import Any

import click

from gitxp.cli.output import FORMATS, json_dumps, print_view, to_json_value
from gitxp.errors import UsageError

__all__ = ["COMMANDS"]


@click.command("rerun")
@click.argument("run")
@click.option("--set", "sets", multiple=True, metavar="K=V", help="Override a param (typed like -p).")
@click.option("--dry-run", is_flag=True, help="Print what would run, run nothing.")
@click.option("--here", is_flag=True, help="Run in the current working tree instead of the run's exact code.")
@click.option("--keep", is_flag=True, help="Keep the temporary worktree (its path is printed).")
@click.option(
    "--verify", is_flag=True, help="Rerun without overrides and check the results match; exit 1 if not."
)
@click.option("--rtol", type=float, default=1e-6, show_default=True, help="Relative tolerance of --verify.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance of --verify.")
@click.option("--yes", is_flag=True, help="Run a command recorded by someone else without asking.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue a crashed/failed/interrupted run: its output dir as $GITXP_RESUME_DIR, its curves kept.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def rerun_command(
    run: str,
    sets: tuple[str, ...],
    dry_run: bool,
    here: bool,
    keep: bool,
    verify: bool,
    rtol: float,
    atol: float,
    yes: bool,
    resume: bool,
    fmt: str,
) -> None:
    """Run RUN again: its commit plus its uncommitted patch, in a temporary worktree, same command, same params."""
    import pyarrow.compute as pc

    from gitxp.git.repo import Repo
    from gitxp.run import Run
    from gitxp.space import parse_assignment, parse_value
    from gitxp.store import Store
    from gitxp.version.capture import Version, capture
    from gitxp.wrap.command import Command, Controller, check_command, execute
    from gitxp.wrap.rerun import (
        check_overrides_delivered,
        cleanup,
        compare_results,
        env_for,
        plan_rerun,
        prepare_tree,
        run_dir,
        world_warnings,
    )

    if verify and sets:
        raise UsageError("--verify reruns without overrides: drop --set")
    if resume and (sets or verify):
        raise UsageError(f"--resume continues the same run: drop {'--set' if sets else '--verify'}")
    overrides = {}
    for item in sets:
        key, value = parse_assignment(item, "--set")
        overrides[key] = parse_value(value)
    store = Store.open()
    table = store.table(show="archived")  # an archived run can be re-run by its id
    run_id = store.resolve_run(run, table)
    original = table.filter(pc.equal(table["run_id"], run_id)).to_pylist()[0]
    if resume:
        from gitxp.search.resume import check_resumable

        check_resumable(original)
    plan = plan_rerun(store, original, overrides, here=here)
    warnings = world_warnings(store, original)
    for line in warnings:
        click.echo(f"gitxp: warning: {line}", err=True)
    if dry_run:
        _print_plan({**plan.describe(), "differences": warnings}, fmt)
        return
    _confirm_foreign(store, original, plan, yes)
    tree = prepare_tree(store, plan)
    status = "failed"
    controller = Controller()
    controller.install()
    try:
        cwd = run_dir(tree, plan)
        config = plan.command.config
        if config is not None and not config.is_absolute():
            config = cwd / config
        command = Command(
            plan.command.argv, shell=plan.command.shell, config=config, cwd=cwd, parse=plan.command.parse
        )
        check_command(command)
        if overrides and original.get("meta.command.template"):
            check_overrides_delivered(original, command.argv, overrides, config)
        version = (
            capture(Repo.discover(tree))
            if tree is not None
            else (Version(None) if not original.get("commit") else capture(store.repo))
        )
        if plan.missing_files:
            click.echo(
                f"gitxp: warning: not restored (recorded by hash only): {', '.join(plan.missing_files)}",
                err=True,
            )
        new = Run(
            experiment=original["experiment"],
            params=plan.params,
            metric=original.get("meta.metric"),
            store=store,
            version=version,
            attach=False,
            meta={
                "rerun_of": run_id,
                "rerun.overrides": overrides or None,
                "workdir": plan.workdir,
                "resumed_from": run_id if resume else None,
            },
        )
        extra_env = env_for(plan)
        if resume:
            from gitxp.search.resume import carry_curves, resume_dir

            extra_env["GITXP_RESUME_DIR"] = resume_dir(store, original)
            last = carry_curves(store, run_id, new)
            if last is not None:
                extra_env["GITXP_RESUME_STEP"] = str(last)
        click.echo(
            f"gitxp: {'resuming' if resume else 'rerun of'} {run_id} as {new.id} (version {version.id}"
            + (f", in {tree}" if tree is not None and keep else "")
            + ")",
            err=True,
        )
        status = execute(new, command, controller=controller, tee=True, extra_env=extra_env)
    finally:
        controller.restore()
        if tree is not None and not keep:
            cleanup(store, tree)
        elif tree is not None:
            from gitxp.wrap.rerun import keep as keep_tree

            keep_tree(tree)
            click.echo(
                f"gitxp: worktree kept at {tree} (remove with: git worktree remove --force {tree})", err=True
            )
    store.flush()
    results = {f"results.{k}": v for k, v in new.results.items()}
    click.echo(
        f"gitxp: run {new.id} {status}"
        + (": " + " ".join(f"{k[8:]}={v}" for k, v in results.items()) if results else ""),
        err=True,
    )
    if controller.interrupted.is_set():
        sys.exit(130)
    if verify:
        rows = compare_results(original, results, rtol, atol)
        ok = status == "finished" and all(r["match"] for r in rows) and bool(rows)
        _print_verify(rows, ok, fmt, run_id, new.id, warnings)
        sys.exit(0 if ok else 1)
    if status != "finished":
        sys.exit(1)


def _confirm_foreign(store: Any, original: dict[str, Any], plan: Any, yes: bool) -> None:
    """A run this clone did not record (a pulled run) is shown with the exact command that will run, and
    confirmed (gitxp.cli.trust)."""
    from gitxp.cli.trust import confirm_foreign, shown_command
    from gitxp.version.secrets import mask_params

    if original.get("meta.command.template"):
        command = shown_command(plan.command.argv, plan.params, shell=plan.command.shell)
    elif original.get("meta.entrypoint"):
        command = f"{original['meta.entrypoint']}() with params {mask_params(plan.params)} (python -c ...)"
    else:  # e.g. a notebook's executed cells, run again as a script
        command = shown_command(plan.command.argv, {}) + f"  with params {mask_params(plan.params)}"
    if plan.command.config is not None:
        command += f"\n  with config {plan.command.config} (params applied)"
    confirm_foreign(store, original, command, yes=yes)


def _print_plan(plan: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json_dumps(to_json_value(plan)))
        return
    for key, value in plan.items():
        if value not in (None, [], {}):
            click.echo(f"{key:12} {value}")


def _print_verify(
    rows: list[dict[str, Any]], ok: bool, fmt: str, original: str, new: str, warnings: list[str]
) -> None:
    if fmt == "json":
        report = {"original": original, "rerun": new, "match": ok, "results": to_json_value(rows)}
        click.echo(json_dumps({**report, "differences": warnings}))
        return
    from rich.table import Table

    view = Table(title=f"verify {original} -> {new}")
    for name in ("result", "original", "rerun", "match"):
        view.add_column(name)
    for row in rows:
        view.add_row(
            row["result"],
            str(row["original"]),
            str(row["rerun"]),
            "[green]yes[/]" if row["match"] else "[red]NO[/]",
        )
    print_view(view)
    click.echo("reproduced" if ok else "NOT reproduced" + ("" if rows else " (no results to compare)"))
    if warnings:  # said before the run too; repeated beside the verdict it qualifies
        click.echo(f"note: {len(warnings)} difference(s) from the original run's world:")
        for line in warnings:
            click.echo(f"  {line}")


COMMANDS = [rerun_command]
