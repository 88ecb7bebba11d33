"""``gitxp tag``/``untag``/``note``/``archive``/``unarchive``/``rm``/``cancel``: the life-cycle of runs
(see gitxp.lifecycle). Each takes run ids or prefixes and/or ``ls``'s filters, ``--dry-run``, and asks before
changing more than one run unless ``--yes``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from gitxp.cli.output import short_ids
from gitxp.errors import UsageError

__all__ = ["COMMANDS"]

_DONE = {
    "tag": ("tag", "tagged"),
    "untag": ("untag", "untagged"),
    "note": ("set the note of", "noted"),
    "archive": ("archive", "archived"),
    "unarchive": ("unarchive", "unarchived"),
    "rm": ("remove", "removed"),
    "undo": ("restore", "restored"),
}
_SAME = {
    "tag": "already tagged",
    "untag": "not tagged",
    "note": "note unchanged",
    "archive": "already archived",
    "unarchive": "not archived",
    "rm": "already removed",
    "undo": "not removed",
}


def selection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-e", "--experiment", multiple=True, help="Runs of this experiment (repeatable)."),
        click.option("--status", metavar="S[,S]", help="Only runs with this status."),
        click.option("--where", metavar="EXPR", help="Only runs matching EXPR (as gitxp ls --where)."),
        click.option(
            "--tag", "tags", metavar="NAME", multiple=True, help="Only runs tagged NAME (repeatable)."
        ),
        click.option("--dry-run", is_flag=True, help="Say which runs would change; change nothing."),
        click.option("-y", "--yes", is_flag=True, help="Do not ask before changing more than one run."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _short(ids: list[str], limit: int = 8) -> str:
    shown = " ".join(short_ids(ids[:limit]))
    return shown + (f" ... (+{len(ids) - limit})" if len(ids) > limit else "")


def _run(
    action: str, runs: tuple[str, ...] | list[str], value: Any, opts: dict[str, Any], what: str = ""
) -> None:
    from gitxp.lifecycle.ops import plan, record, select_runs
    from gitxp.store import Store

    store = Store.open()
    ids = select_runs(
        store,
        list(runs),
        experiment=opts["experiment"],
        status=opts["status"],
        where=opts["where"],
        tags=opts["tags"],
        scope="removed" if action == "undo" else "active",
    )
    if not ids:
        raise UsageError("no run matches these filters (see 'gitxp ls')")
    the_plan = plan(store, action, ids, value)
    verb, done = _DONE[action]
    changed = the_plan.changed
    same = f" ({len(the_plan.unchanged)} {_SAME[action]})" if the_plan.unchanged else ""
    plural = "run" if len(changed) == 1 else "runs"
    if opts["dry_run"]:
        click.echo(
            f"would {verb} {len(changed)} {plural}{what}{same}" + (f": {_short(changed)}" if changed else "")
        )
        return
    if not changed:
        click.echo(f"nothing to do: {len(ids)} {'run' if len(ids) == 1 else 'runs'} {_SAME[action]}")
        return
    if len(changed) > 1 and not opts["yes"]:
        confirm_many(f"{verb} {len(changed)} runs{what}? {_short(changed)}", f"{verb} them")
    record(store, the_plan)
    click.echo(f"{done} {len(changed)} {plural}{what}{same}")
    if action == "rm":
        from gitxp.lifecycle.ops import grace_seconds

        days = grace_seconds(store) / 86400
        click.echo(
            f"(undo with 'gitxp rm --undo RUN'; 'gitxp gc' prunes their data after {days:g} days)", err=True
        )


def confirm_many(question: str, doing: str) -> None:
    """Ask before an operation on more than one run; a "no", or no answer at all (no terminal, stdin at its end),
    changes nothing and exits 1, saying that ``--yes`` goes ahead without the question."""
    import sys

    try:
        click.confirm(question, abort=True, err=True)
    except click.Abort:
        click.echo(f"not confirmed: nothing changed (pass --yes to {doing} without a question)", err=True)
        sys.exit(1)


def _split(args: tuple[str, ...], name: str) -> tuple[list[str], str]:
    if not args:
        raise UsageError(f"missing {name}: e.g. gitxp tag RUN... NAME, or gitxp tag -e EXP NAME")
    return list(args[:-1]), args[-1]


@click.command("tag")
@click.argument("args", nargs=-1, metavar="RUN... NAME")
@selection_options
def tag_command(args: tuple[str, ...], **opts: Any) -> None:
    """Tag runs: RUN ids or prefixes, or every run matching -e/--status/--where/--tag; NAME last."""
    runs, name = _split(args, "NAME")
    _run("tag", runs, name, opts, f" with {name!r}")


@click.command("untag")
@click.argument("args", nargs=-1, metavar="RUN... NAME")
@selection_options
def untag_command(args: tuple[str, ...], **opts: Any) -> None:
    """Take the tag NAME off runs (RUN ids or prefixes, or the filters)."""
    runs, name = _split(args, "NAME")
    _run("untag", runs, name, opts, f" ({name!r})")


@click.command("note")
@click.argument("args", nargs=-1, metavar="RUN... TEXT")
@click.option("--clear", is_flag=True, help="Remove the note instead.")
@selection_options
def note_command(args: tuple[str, ...], clear: bool, **opts: Any) -> None:
    """Set a free-text note on runs (shown by 'gitxp show', searched by 'gitxp ls --note'); '' clears it."""
    if clear:
        _run("note", list(args), None, opts)
        return
    runs, text = _split(args, "TEXT")
    _run("note", runs, text, opts)


@click.command("archive")
@click.argument("runs", nargs=-1, metavar="RUN...")
@selection_options
def archive_command(runs: tuple[str, ...], **opts: Any) -> None:
    """Hide runs from ls, compare, the dashboard and search histories (see them with --all); nothing is deleted."""
    _run("archive", runs, None, opts)


@click.command("unarchive")
@click.argument("runs", nargs=-1, metavar="RUN...")
@selection_options
def unarchive_command(runs: tuple[str, ...], **opts: Any) -> None:
    """Show archived runs again."""
    _run("unarchive", runs, None, opts)


@click.command("rm")
@click.argument("runs", nargs=-1, metavar="RUN...")
@click.option("--undo", is_flag=True, help="Bring removed runs back (until 'gitxp gc' pruned them).")
@selection_options
def rm_command(runs: tuple[str, ...], undo: bool, **opts: Any) -> None:
    """Remove runs from every listing; 'gitxp gc' prunes their data after a grace period (GITXP_RM_GRACE or git
    config gitxp.rmGrace, default 14d); 'gitxp rm --undo RUN' until then."""
    _run("undo" if undo else "rm", runs, None, opts)


@click.command("cancel")
@click.argument("targets", nargs=-1, metavar="RUN|EXP...")
@click.option("-e", "--experiment", multiple=True, help="Every running run of this experiment (repeatable).")
@click.option(
    "--grace",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Wait this long after SIGTERM before SIGKILL.",
)
@click.option("--dry-run", is_flag=True, help="Say which runs would be stopped; stop nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before stopping more than one run.")
def cancel_command(
    targets: tuple[str, ...], experiment: tuple[str, ...], grace: float | None, dry_run: bool, yes: bool
) -> None:
    """Stop running runs (a run id or prefix, or an experiment: all its running runs, a whole sweep included) and
    record them as cancelled: SIGTERM to the owning process group, SIGKILL after the grace period."""
    from gitxp.lifecycle.cancel import cancel, select_live
    from gitxp.store import Store

    if grace is not None and not 0 <= grace < float("inf"):  # nan too: it would never send SIGKILL
        raise UsageError(f"--grace {grace}: expected a number of seconds >= 0")
    store = Store.open()
    from gitxp.cli.cluster_cmd import cancel_detached, select_detached

    slurm, targets, experiment = select_detached(store, targets, experiment)  # --detach'ed trials
    chosen = select_live(store, list(targets), list(experiment)) if targets or experiment or not slurm else []
    ids = [record["run_id"] for _s, record in chosen]
    every = slurm + ids
    if dry_run:
        if slurm:
            click.echo(
                f"would cancel {len(slurm)} Slurm trial{'s' if len(slurm) != 1 else ''}: {_short(slurm)}"
            )
        if ids or not slurm:
            click.echo(f"would cancel {len(ids)} running run{'s' if len(ids) != 1 else ''}: {_short(ids)}")
        return
    if len(every) > 1 and not yes:  # whatever runs them: local processes, Slurm jobs, or both
        confirm_many(f"cancel {len(every)} running runs? {_short(every)}", "cancel them")
    if slurm:
        cancel_detached(store, slurm)
    if not chosen:
        return
    statuses = cancel(store, chosen, grace=grace)
    for shown, status in zip(short_ids(list(statuses)), statuses.values()):
        click.echo(f"{shown}  {status}")
    cancelled = sum(1 for s in statuses.values() if s == "cancelled")
    click.echo(f"cancelled {cancelled} of {len(statuses)} runs", err=True)


COMMANDS = [
    tag_command,
    untag_command,
    note_command,
    archive_command,
    unarchive_command,
    rm_command,
    cancel_command,
]
