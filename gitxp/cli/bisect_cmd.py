"""``gitxp bisect``: the first commit that made a metric worse, measured with error bars."""

from __future__ import annotations

import sys
from typing import Any

import click

from gitxp.cli.output import json_dumps, to_json_value
from gitxp.errors import UsageError

__all__ = ["COMMANDS"]

EXIT_NOT_FOUND = 1
EXIT_INTERRUPTED = 130


class _BisectCommand(click.Command):
    """Keeps the raw arguments: ``-- CMD`` (a command) and ``RUN`` (a run id) look alike once parsed."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["gitxp.dashes"] = "--" in args
        return super().parse_args(ctx, args)


@click.command("bisect", cls=_BisectCommand, context_settings={"allow_interspersed_args": False})
@click.option("--good", metavar="REV", help="A revision where the metric was fine.")
@click.option("--bad", metavar="REV", help="A later revision where it is worse.")
@click.option("--metric", metavar="NAME:max|min", help="The result to watch, and which way is better.")
@click.option("--repeat", type=int, default=3, show_default=True, help="Runs per commit (stored ones count).")
@click.option(
    "--threshold",
    type=float,
    default=0.0,
    show_default=True,
    help="Bad when the CI of the worsening lies beyond this much (0: any significant worsening).",
)
@click.option("-j", "--jobs", type=int, default=1, show_default=True, help="Runs at once.")
@click.option("--set", "sets", multiple=True, metavar="K=V", help="A param (typed like -p); overrides RUN's.")
@click.option("--shell", is_flag=True, help="Run the command through the shell.")
@click.option("--resume", is_flag=True, help="Continue the latest bisect after an interruption.")
@click.option("--dry-run", is_flag=True, help="Print the plan, run nothing.")
@click.option(
    "--yes", is_flag=True, help="Run the command of a RUN recorded elsewhere (pulled) without asking."
)
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True)
@click.argument("target", nargs=-1, type=click.UNPROCESSED)
def bisect_command(
    good: str | None,
    bad: str | None,
    metric: str | None,
    repeat: int,
    threshold: float,
    jobs: int,
    sets: tuple[str, ...],
    shell: bool,
    resume: bool,
    dry_run: bool,
    yes: bool,
    fmt: str,
    target: tuple[str, ...],
) -> None:
    """Find the first commit between --good and --bad where a metric got worse beyond noise.

    gitxp bisect --good REV --bad REV --metric NAME:max|min (RUN | -- COMMAND [ARGS]...)

    Each commit tested is measured --repeat times (stored runs of the same version and params count), in a
    temporary worktree; it is bad when the 95% bootstrap CI of its difference from the good end lies past
    --threshold. Commits that do not run are skipped. Exit 0 when the commit is found, 1 when not (no
    regression, or skipped commits in the way), 130 when interrupted (continue with --resume)."""
    from gitxp.bisection import drive, plan, prepare
    from gitxp.bisection.state import load_current
    from gitxp.store import Store
    from gitxp.wrap.command import Controller

    store = Store.open()
    if resume:
        if good or bad or metric or target or sets:
            raise UsageError("--resume continues the latest bisect as it was started: give no other options")
        state = load_current(store.root)
        if state.done and state.outcome is not None:
            _print(state.outcome, fmt)
            sys.exit(0 if state.outcome["result"] == "found" else EXIT_NOT_FOUND)
        click.echo(f"gitxp: resuming bisect {state.id} ({len(state.measured)} commits measured)", err=True)
    else:
        for option, value in (("--good", good), ("--bad", bad), ("--metric", metric)):
            if not value:
                raise UsageError(f"missing {option} (or --resume to continue the latest bisect)")
        params = _params(sets)
        run, command = _target(list(target))
        assert good and bad and metric
        state = prepare(
            store, good, bad, metric, command=command, run=run, params=params, repeat=repeat,
            threshold=threshold, jobs=jobs, shell=shell,
        )  # fmt: skip
        if dry_run:
            _print_plan(plan(store, state), fmt)
            return
        if state.spec.source_run is not None:  # a pulled RUN's command: shown and confirmed (gitxp.cli.trust)
            _confirm_source(store, state.spec, yes)
    controller = Controller()
    controller.install()
    try:
        result = drive(store, state, controller, lambda text: click.echo(text, err=True))
    finally:
        controller.restore()
    if result["result"] == "interrupted":
        click.echo(f"gitxp: bisect {state.id} interrupted; continue with: gitxp bisect --resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    _print(result, fmt)
    sys.exit(0 if result["result"] == "found" else EXIT_NOT_FOUND)


def _confirm_source(store: Any, spec: Any, yes: bool) -> None:
    import pyarrow.compute as pc

    from gitxp.cli.trust import confirm_foreign, shown_command

    table = store.table(show="archived")
    row = table.filter(pc.equal(table["run_id"], spec.source_run)).slice(0, 1).to_pylist()
    if spec.entrypoint:
        command = f"{spec.entrypoint}() at every commit tested"
    else:
        command = shown_command(spec.argv, spec.params, shell=spec.shell) + "  (at every commit tested)"
    confirm_foreign(store, row[0] if row else {"run_id": spec.source_run}, command, yes=yes)


def _params(sets: tuple[str, ...]) -> dict[str, Any]:
    from gitxp.space import parse_assignment, parse_value

    params = {}
    for item in sets:
        key, value = parse_assignment(item, "--set")
        params[key] = parse_value(value)
    return params


def _target(args: list[str]) -> tuple[str | None, list[str] | None]:
    """RUN, or the command after ``--`` (click drops the ``--`` itself; a run id is one word)."""
    after_dashes = click.get_current_context().meta.get("gitxp.dashes", False)
    if not args:
        raise UsageError("give a recorded RUN to measure, or a command after --")
    if len(args) == 1 and not after_dashes:
        return args[0], None
    return None, args


def _print_plan(info: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json_dumps(to_json_value(info)))
        return
    import shlex

    click.echo(
        f"bisect plan: {info['commits']} commits after the good end {info['good'][:7]} up to the bad end "
        f"{info['bad'][:7]} (first-parent history)"
    )
    click.echo(
        f"measure:     {info['metric']}, {info['repeat']} runs per commit (-j {info['jobs']}); bad when the 95% "
        f"CI of the difference from the good end lies beyond {info['threshold']:g} the wrong way"
    )
    click.echo(f"command:     {shlex.join(info['command'])} (in {info['workdir']})")
    if info["params"]:
        click.echo(f"params:      {', '.join(f'{k}={v!r}' for k, v in info['params'].items())}")
    click.echo(
        f"expect:      about {info['expected_tested']} commits tested (good end included, +1 if the bad end "
        f"must be confirmed), at most {info['max_new_runs']} new runs, as experiment {info['experiment']}"
    )
    stored = ", ".join(f"{k}: {v}" for k, v in info["stored_runs"].items()) or "none"
    click.echo(f"stored runs: {stored}")


def _print(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json_dumps(to_json_value(result)))
        return
    from rich import box
    from rich.table import Table

    from gitxp.cli.output import print_view

    view = Table(
        title=f"bisect {result['id']}: {result['metric']}", title_justify="left", box=box.SIMPLE_HEAD,
        show_edge=False,
    )  # fmt: skip
    for header in (
        "commit",
        "subject",
        "runs",
        "mean",
        "95% CI",
        "diff vs good",
        "95% CI of diff",
        "verdict",
    ):
        view.add_column(header, overflow="fold")
    for row in result["tested"]:
        ci, dci = row["ci95"], row["diff_ci95"]
        view.add_row(
            row["sha"][:7],
            row["subject"][:40],
            f"{row['runs']} ({row['reused']} stored)",
            f"{row['mean']:.6g}" if row["mean"] is not None else "",
            f"[{ci[0]:.4g}, {ci[1]:.4g}]" if ci else "",
            f"{row['diff']:+.4g}" if row["diff"] is not None else "",
            f"[{dci[0]:+.4g}, {dci[1]:+.4g}]" if dci else "",
            row["verdict"] + (f": {row['reason'][:40]}" if row["reason"] else ""),
            style="red" if row["verdict"] == "bad" else None,
        )
    print_view(view)
    click.echo(
        f"{result['tested_commits']} commits tested of {result['commits']}; {result['new_runs']} new runs, "
        f"{result['reused_runs']} stored runs reused (experiment {result['experiment']})"
    )
    if result["result"] == "found":
        first = result["first_bad"]
        click.echo(f"\nfirst bad commit: {first['sha']}\n  {first['subject']}\n  author: {first['author']}")
        click.echo(f"  date:   {first['date']}\n{first['diffstat']}")
    elif result["result"] == "ambiguous":
        click.echo(
            "\nthe first bad commit is one of (the others could not be measured): "
            + ", ".join(c[:7] for c in result["candidates"])
        )
    else:
        click.echo(
            f"\nno regression: the bad end {result['bad'][:7]} is not worse than the good end beyond noise"
        )
    _print_other_causes(result.get("other_causes") or {})


def _print_other_causes(causes: dict[str, Any]) -> None:
    """Inputs and packages that changed between the good end's runs and the bad side's: a cause besides code."""
    from gitxp.store.envs import format_change

    for item in causes.get("inputs", []):
        for row in item["inputs"]:
            a = ", ".join(h[:19] for h in row["a"]) or "not declared"
            b = ", ".join(h[:19] for h in row["b"]) or "not declared"
            click.echo(
                f"\nwarning: input {row['path']} differs between the runs of {item['a']} ({a}) and of "
                f"{item['b']} ({b}): the change may come from the data, not the code"
            )
    for item in causes.get("environment", []):
        if item["packages"]:
            click.echo(
                f"\nwarning: the environment differs between the runs of {item['a']} and of {item['b']}: "
                + ", ".join(format_change(r) for r in item["packages"][:10])
                + (" ..." if len(item["packages"]) > 10 else "")
            )


COMMANDS = [bisect_command]
