"""``gitxp init``, ``gitxp push``, ``gitxp pull`` and ``gitxp plugins``: sharing the store and inspecting plugins."""

from __future__ import annotations

import click

from gitxp.cli.output import console
from gitxp.errors import UsageError

__all__ = ["COMMANDS"]

PACK_AFTER = 1000  # runs not yet in a pack before `gitxp push` packs the store
PUSH_ATTEMPTS = 6  # fetch + merge + push rounds when other clones push at the same time


def _remote_ref(remote: str) -> str:
    """Where a remote's runs are fetched to: ``refs/gitxp/remotes/<name>/runs`` for a named remote, and a name
    derived from the location for a path or URL (``gitxp pull ../other-clone``), which may hold any character."""
    import hashlib
    import re

    if (
        re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", remote)
        and ".." not in remote
        and not remote.endswith(".lock")
    ):
        return f"refs/gitxp/remotes/{remote}/runs"
    return f"refs/gitxp/remotes/url-{hashlib.sha256(remote.encode()).hexdigest()[:16]}/runs"


def check_remote(store: object, remote: str, action: str) -> None:
    """Refuse a remote that cannot be meant: blank, not text (undecodable bytes), a transport that runs a
    command (``ext::``), or this very repository (a push into itself would report success and share nothing)."""
    import re
    from pathlib import Path

    from gitxp.store import Store

    assert isinstance(store, Store)
    if not remote.strip():
        raise UsageError(
            f"gitxp {action}: the remote is empty; give a remote name ('git remote -v'), a path or a URL"
        )
    try:
        remote.encode("utf-8")
    except UnicodeEncodeError:
        shown = remote.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise UsageError(f"gitxp {action}: the remote {shown!r} is not valid UTF-8 text") from None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*::", remote):
        raise UsageError(
            f"gitxp {action}: the remote {remote!r} uses a git transport helper ({remote.split('::')[0]}::), "
            "which gitxp does not run; give a remote name, a path or a URL"
        )
    if "\n" in remote or "\0" in remote:
        raise UsageError(f"gitxp {action}: the remote {remote!r} holds a line break")
    names = store.repo.git("remote").decode(errors="replace").split()
    if remote not in names and "://" not in remote and Path(remote).exists():
        here = {p.resolve() for p in (store.repo.git_dir, store.repo.common_dir) if p}
        if store.repo.worktree:
            here.add(Path(store.repo.worktree).resolve())
        target = Path(remote).resolve()
        if target in here or (target / ".git").resolve() in here:
            raise UsageError(f"gitxp {action}: {remote!r} is this repository itself; give another clone")


def _fetch(store: object, remote: str, action: str = "pull") -> str | None:
    from gitxp.store import REF, Store

    assert isinstance(store, Store)
    from gitxp.git.porcelain import fetch_ref

    if not fetch_ref(
        store.repo.worktree or store.repo.git_dir,
        remote,
        f"+{REF}:{_remote_ref(remote)}",
        action,
        console=console(stderr=True),
    ):
        return None
    return store.repo.read_ref(_remote_ref(remote))


def merged_text(runs: int, events: int) -> str:
    """``3 new runs``, ``1 new run and 2 life-cycle changes``: what a merge brought (a life-cycle change is one
    ``gitxp tag``/``note``/``archive``/``rm``/``cancel`` made in another clone)."""
    text = f"{runs} new run{'' if runs == 1 else 's'}"
    if events:
        text += f" and {events} life-cycle change{'' if events == 1 else 's'} (tags, notes, archive, rm)"
    return text


@click.command("pull")
@click.argument("remote", default="origin")
def pull_command(remote: str) -> None:
    """Fetch the runs recorded in REMOTE and merge them into the local store (a union: nothing is lost)."""
    from gitxp.store import Store

    store = Store.open()
    check_remote(store, remote, "pull")
    sha = _fetch(store, remote)
    if sha is None:
        click.echo(f"{remote} has no gitxp runs yet")
        return
    merged = store.merge(sha)
    click.echo(f"merged {merged_text(merged.runs, merged.events)} from {remote}")
    from gitxp.git.porcelain import fetch_ref
    from gitxp.store.commits import COMMITS_REFSPEC

    # the commits of runs a teammate pushed with --with-commits: rerun and compare need them
    fetch_ref(
        store.repo.worktree or store.repo.git_dir,
        remote,
        COMMITS_REFSPEC,
        "pull",
        console=console(stderr=True),
    )


@click.command("push")
@click.argument("remote", default="origin")
@click.option(
    "--with-commits",
    is_flag=True,
    help="Also push the commits of runs REMOTE lacks, to refs/gitxp/commits/ (gitxp pull fetches them).",
)
def push_command(remote: str, with_commits: bool) -> None:
    """Share local runs with REMOTE (merging its runs first when it has some we lack). Runs whose commit REMOTE
    lacks are listed: teammates could neither rerun nor compare them; --with-commits pushes those commits too."""
    from gitxp.store import REF, Store

    store = Store.open()
    store.flush()
    store.recover()  # runs that ended a moment ago (committed by a detached process) or whose process died
    if store.head() is None:
        raise UsageError("no runs recorded yet: nothing to push")
    check_remote(store, remote, "push")
    from gitxp.git.porcelain import PushRejected, push_ref

    for attempt in range(PUSH_ATTEMPTS):  # other clones pushing at the same time: fetch, merge, push again
        theirs = _fetch(store, remote, "push")
        if theirs is not None:
            store.merge(theirs)
        if attempt == 0:
            store.pack(min_new=PACK_AFTER)  # so that clones read the store from a few files, not one per run
        try:
            push_ref(
                store.repo.worktree or store.repo.git_dir,
                remote,
                f"{REF}:{REF}",
                console=console(stderr=True),
            )
            break
        except PushRejected as error:
            if attempt == PUSH_ATTEMPTS - 1:
                raise UsageError(
                    f"{error}; gave up after {PUSH_ATTEMPTS} attempts, run 'gitxp push' again"
                ) from None
            import random
            import time

            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    click.echo(f"pushed {REF} to {remote}")
    _share_commits(store, remote, with_commits)


def _share_commits(store: object, remote: str, with_commits: bool) -> None:
    """Warn about runs whose commit REMOTE lacks, or push those commits (``--with-commits``)."""
    from gitxp.store import Store
    from gitxp.store.commits import COMMITS_PREFIX, push_commits, unshared

    assert isinstance(store, Store)
    missing = unshared(store, remote)
    if not missing:
        return
    runs = sum(len(item.runs) for item in missing)
    if with_commits:
        push_commits(store, remote, missing)
        click.echo(
            f"pushed {len(missing)} commit(s) of {runs} run(s) to {COMMITS_PREFIX} on {remote} "
            "(a teammate's gitxp pull fetches them)"
        )
        return
    click.echo(
        f"warning: {runs} run(s) use {len(missing)} commit(s) that {remote} does not have: teammates can "
        "neither rerun nor compare them:",
        err=True,
    )
    for item in missing[:10]:
        ids = ", ".join(store.short_ids([run_id for run_id, _branch in item.runs[:3]]))
        more = f" and {len(item.runs) - 3} more" if len(item.runs) > 3 else ""
        branch = next((b for _r, b in item.runs if b), None)
        click.echo(f"  commit {item.commit[:7]}{f' ({branch})' if branch else ''}: {ids}{more}", err=True)
    if len(missing) > 10:
        click.echo(f"  ... and {len(missing) - 10} more commit(s)", err=True)
    click.echo(f"share them with: gitxp push --with-commits {remote}   (or git push the branch)", err=True)


@click.command("init")
@click.option("--hooks", is_flag=True, help="Also install a pre-push hook so that 'git push' shares runs.")
def init_command(hooks: bool) -> None:
    """Optional setup: make 'git fetch' bring every remote's runs (refs/gitxp/remotes/<remote>/runs)."""
    from importlib.resources import files

    from gitxp.store import REF, Store

    store = Store.open()
    if hooks:
        target = store.repo.common_dir / "hooks" / "pre-push"
        if target.exists():
            raise UsageError(
                f"{target} already exists; add the lines of gitxp's hooks/pre-push to it by hand"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files("gitxp").joinpath("pre-push.hook").read_text())
        target.chmod(0o755)
        click.echo(f"installed {target}")
    store.root.mkdir(parents=True, exist_ok=True)
    remotes = store.repo.git("remote").decode().split()
    for remote in remotes:
        refspec = f"+{REF}:{_remote_ref(remote)}"
        existing = store.repo.run(
            ["config", "--get-all", f"remote.{remote}.fetch"], check=False
        ).stdout.decode()
        if refspec not in existing.split("\n"):
            store.repo.git("config", "--add", f"remote.{remote}.fetch", refspec)
        from gitxp.store.commits import COMMITS_REFSPEC

        if COMMITS_REFSPEC not in existing.split("\n"):  # commits of teammates' runs (push --with-commits)
            store.repo.git("config", "--add", f"remote.{remote}.fetch", COMMITS_REFSPEC)
    click.echo(
        f"gitxp store ready in {store.root}"
        + (f"; fetch refspecs added for {', '.join(remotes)}" if remotes else "")
    )
    click.echo("share runs with: gitxp push [REMOTE]   get others' runs with: gitxp pull [REMOTE]")


@click.command("gc")
def gc_command() -> None:
    """Pack every run into one Parquet file on the ref (fresh clones then read the store in one go) and prune the
    data of runs removed ('gitxp rm') longer ago than the grace period."""
    from gitxp.store import Store
    from gitxp.wrap.rerun import prune_stale_worktrees

    store = Store.open()
    from gitxp.lifecycle.ops import prune_removed

    pruned = prune_removed(store)  # gitxp rm: data of runs removed longer ago than the grace period
    if pruned:
        click.echo(f"pruned {len(pruned)} removed run(s)")
    from gitxp.store import recycle

    recycle.empty(store.staging)  # the directories kept for reuse by runs recorded in a loop
    count = store.pack()
    click.echo(f"packed {count} runs" if count else "nothing to pack")
    removed = prune_stale_worktrees(store)
    if removed:
        click.echo(f"removed {len(removed)} worktree(s) left by interrupted reruns")


@click.command("plugins")
def plugins_command() -> None:
    """List loaded plugins (built-in and installed) and the hooks each implements."""
    from gitxp.plugins import DISTRIBUTIONS, get_plugin_manager

    pm = get_plugin_manager()
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist = DISTRIBUTIONS.get(name, "built-in")
        click.echo(f"{name} ({dist}): {', '.join(hooks)}")
    from gitxp.integrations import describe

    for line in describe():
        click.echo(line)


COMMANDS = [init_command, pull_command, push_command, gc_command, plugins_command]
