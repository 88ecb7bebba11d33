"""Running any past run again: its exact code (commit + stored patch) in a temporary worktree, same command or
entry point, same params, with overrides; or checking that it reproduces (``verify``).

A wrapper run is re-run from its recorded command template (``meta.command.template``: the argv before params were
applied, so overrides reach it the same way); a decorator run from its entry point (``meta.entrypoint``,
``file.py:function`` or ``module:function``), called with its params. Runs recorded under a sub-directory run from
the same sub-directory of the worktree (``meta.workdir``). The temporary worktree is removed afterwards (on failure
and Ctrl-C too) unless ``keep``. The user's working tree, index and branches are never touched.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError
from gitxp.run.entrypoint import bootstrap_command, check_rerunnable
from gitxp.store import Store, liveness
from gitxp.version.capture import materialize, remove_worktree, require_commit
from gitxp.wrap.command import Command

__all__ = [
    "Plan",
    "plan_rerun",
    "check_overrides_delivered",
    "world_warnings",
    "link_declared_inputs",
    "bootstrap_command",
    "compare_results",
    "temporary_tree",
    "cleanup",
]


@dataclass
class Plan:
    """What a rerun will do."""

    run: dict[str, Any]
    commit: str | None
    patch: bytes
    command: Command
    params: dict[str, Any]
    overrides: dict[str, Any]
    workdir: str
    here: bool
    missing_files: list[str] = field(default_factory=list)

    def will_run(self) -> list[str]:
        """The command this rerun runs: the recorded template with its params applied (``--lr 3``)."""
        if not self.run.get("meta.command.template"):
            return list(self.command.argv)
        from gitxp.wrap.overrides import rendered_command

        return rendered_command(list(self.command.argv), self.params)

    def describe(self) -> dict[str, Any]:
        return {
            "rerun_of": self.run["run_id"],
            "version": self.run["version"],
            "commit": self.commit,
            "patch_files": [
                line.split(" b/", 1)[-1]
                for line in self.patch.decode(errors="replace").splitlines()
                if line.startswith("diff --git ")
            ],
            "where": "current working tree" if self.here else "temporary worktree",
            "workdir": self.workdir,
            "command": self.will_run(),
            "config": str(self.command.config) if self.command.config else None,
            "params": self.params,
            "overrides": self.overrides,
            "not_restored": self.missing_files,
        }


_PREFIX = "gitxp-rerun-"
_held: list[Any] = []  # the locks of this process's rerun worktrees (released when it exits)


def _check_inside(run_id: str, what: str, path: str) -> None:
    """A recorded path must stay inside the checkout: a pulled run cannot point a rerun elsewhere."""
    parts = Path(path).parts
    if Path(path).is_absolute() or ".." in parts:
        raise UsageError(
            f"run {run_id}'s recorded {what} {path!r} is outside the repository: refusing to run it"
        )


def _patch_skipped(patch: bytes) -> list[tuple[str, str]]:
    """(path, sha256) of the files a run's patch lists as not embedded."""
    out = []
    for line in patch.decode(errors="replace").splitlines():
        if line.startswith("# gitxp: not embedded"):
            path = line.split("): ", 1)[1].rsplit(" size=", 1)[0]
            out.append((path, line.rsplit("sha256=", 1)[1]))
    return out


def plan_rerun(store: Store, run: dict[str, Any], overrides: dict[str, Any], *, here: bool) -> Plan:
    """Work out how to run ``run`` again (nothing is executed)."""
    meta = {k[len("meta.") :]: v for k, v in run.items() if k.startswith("meta.") and v is not None}
    params = {k[len("params.") :]: v for k, v in run.items() if k.startswith("params.") and v is not None}
    from gitxp.version.secrets import unmask_params

    params = unmask_params({k: v for k, v in params.items() if k not in overrides}, run["run_id"]) | {
        k: v for k, v in params.items() if k in overrides
    }  # a secret param recorded as *** comes from $GITXP_SECRET_<NAME> (or --set)
    template = meta.get("command.template")
    template_recorded = bool(template) or bool(meta.get("entrypoint"))
    own_params = True  # a param of the run itself reaches it (through GITXP_PARAMS and the gitxp API)
    from gitxp.version.secrets import unmask

    if template:
        argv = tuple(unmask(template, run["run_id"]))
        shell = bool(meta.get("command.shell"))
        config = Path(meta["command.config"]) if meta.get("command.config") else None
    elif meta.get("notebook.cells") is not None:  # made in a Jupyter kernel: its executed cells, again
        from gitxp.notebook.rerun import command as notebook_command

        patch = store.run_file(run["run_id"], "diff.patch") or b""
        argv, shell, config = notebook_command(run["run_id"], meta, patch, overrides), False, None
    elif meta.get("entrypoint"):
        check_rerunnable(run["run_id"], meta["entrypoint"])
        if meta.get("entrypoint.why_not"):
            raise UsageError(f"run {run['run_id']} cannot be re-run: {meta['entrypoint.why_not']}")
        argv = bootstrap_command(
            meta["entrypoint"], meta.get("entrypoint.call"), meta.get("entrypoint.metric")
        )
        shell, config = False, None
    elif meta.get("entrypoint.why_not"):
        raise UsageError(f"run {run['run_id']} cannot be re-run: {meta['entrypoint.why_not']}")
    elif meta.get("entrypoint.script"):
        # a script that called gitxp.start: run again as it was started; an override must reach its argv (the
        # script's own params come from its arguments, not from gitxp)
        script = str(meta["entrypoint.script"])
        start = script.split(" ", 1) if script.startswith("-m ") else [script]
        argv = (sys.executable, *start, *unmask(list(meta.get("argv") or [])[1:], run["run_id"]))
        # a gitxp.Sweep trial takes its params from gitxp (its first ask()); a script from its arguments
        template, own_params, shell, config = list(argv), bool(meta.get("entrypoint.sweep")), False, None
    else:
        raise UsageError(
            f"run {run['run_id']} has no recorded command or entry point to run again (recorded before "
            "entry points were, or by an integration that records none)"
        )
    commit = run.get("commit")
    if not here:
        commit = require_commit(store.repo, commit, f"run {run['run_id']}")
    patch = store.run_file(run["run_id"], "diff.patch") or b""
    workdir = meta.get("workdir") or "."
    _check_inside(run["run_id"], "working directory", workdir)
    script = str(meta.get("entrypoint.script") or "")
    if script and not template_recorded and not script.startswith("-m "):
        _check_inside(run["run_id"], "script", os.path.normpath(os.path.join(workdir, script)))
    if meta.get("entrypoint") and not template:
        target = str(meta["entrypoint"]).rpartition(":")[0]
        if target.endswith(".py"):  # relative to the working directory, which is relative to the root
            _check_inside(run["run_id"], "entry point", os.path.normpath(os.path.join(workdir, target)))
    unknown = [k for k in overrides if k not in params and not template]
    if unknown:
        raise UsageError(
            f"--set {unknown[0]}: run {run['run_id']} has no param {unknown[0]!r} (its params: "
            f"{', '.join(sorted(params)) or 'none'})"
        )
    if overrides and template:
        config_text = None
        if config is not None and not config.is_absolute():
            where = os.path.normpath(os.path.join(workdir, str(config)))
            config_text = store.repo.read_blob(commit, where) if commit else None
            if config_text is None and store.repo.worktree is not None:
                local = store.repo.worktree / where
                config_text = local.read_bytes() if local.is_file() else None
        check_overrides_delivered(run, argv, overrides, config, config_text, own_params=own_params)
    return Plan(
        run,
        commit,
        patch,
        Command(argv, shell=shell, config=config, parse=tuple(meta.get("command.parse") or ())),
        {**params, **overrides},
        overrides,
        workdir,
        here,
        [p for p, _ in _patch_skipped(patch)],
    )


def check_overrides_delivered(
    run: dict[str, Any],
    argv: tuple[str, ...] | list[str],
    overrides: dict[str, Any],
    config: Path | None,
    config_text: bytes | None = None,
    *,
    own_params: bool = True,
) -> None:
    """Refuse a ``--set`` that THIS run's command would never receive: not through its template, its flags, its
    config file (``config_text``: the file as the run's commit holds it; else ``config`` as it is), nor as one of
    this run's own params (those reach the gitxp API inside the script through ``GITXP_PARAMS``). Other runs'
    params (the wide table's columns) do not count: a param that was not applied is never recorded as applied."""
    from gitxp.wrap.overrides import delivered_params

    if config is not None and config_text is not None:
        with tempfile.TemporaryDirectory(prefix="gitxp-check-") as folder:
            copy = Path(folder) / config
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(config_text)
            found = delivered_params(list(argv), overrides, copy)
    elif config is not None and not config.is_file():
        found = delivered_params(list(argv), overrides, None)
    else:
        found = delivered_params(list(argv), overrides, config)
    missing = [k for k in overrides if k not in found and (not own_params or run.get(f"params.{k}") is None)]
    if missing:
        raise UsageError(
            f"--set {missing[0]}: the command of run {run['run_id']} never receives {missing[0]!r} (not in its "
            "command template, flags or config, and not one of its params); nothing was run"
        )


def temporary_tree(store: Store, commit: str, patch: bytes, label: str, keep_dir: Path | None = None) -> Path:
    """Check ``commit`` (plus ``patch``) out in a new temporary detached worktree and return its path. The
    user's working tree, index, stash and branches are not touched. Remove it with :func:`cleanup`; if this
    process dies first, the next rerun or bisect (or ``gitxp gc``) removes it (:func:`prune_stale_worktrees`)."""
    prune_stale_worktrees(store)
    if keep_dir is not None:
        dest = keep_dir
    else:  # <tmp>/gitxp-rerun-<label>-xxxx/{lock,tree}: the lock says whether the process that made it is alive
        home = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{label[:10]}-"))
        _held.append(liveness.hold(home))
        dest = home / "tree"
    if dest.exists():
        shutil.rmtree(dest)
    materialize(store.repo, commit, patch, dest)
    return dest


def prepare_tree(store: Store, plan: Plan, keep_dir: Path | None = None) -> Path | None:
    """Materialize the plan's version in a temporary worktree; returns it (None with ``here``)."""
    if plan.here:
        return None
    assert plan.commit is not None
    dest = temporary_tree(store, plan.commit, plan.patch, plan.run["run_id"], keep_dir)
    restored = []
    for path, digest in _patch_skipped(
        plan.patch
    ):  # files kept by hash: copy them if the current one matches
        source = (store.repo.worktree or Path.cwd()) / path
        if source.is_file():
            import hashlib

            if hashlib.sha256(source.read_bytes()).hexdigest() == digest:
                (dest / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / path)
                restored.append(path)
    # the run's input artifacts, and files the patch kept by hash when an artifact holds them
    from gitxp.store.artifacts import restore_inputs

    restored += restore_inputs(store, plan.run["run_id"], dest, dict(_patch_skipped(plan.patch)))
    link_declared_inputs(store, plan.run.get("meta.inputs"), dest)
    plan.missing_files = [p for p in plan.missing_files if p not in restored]
    return dest


def link_declared_inputs(store: Store, lines: list[str] | None, dest: Path) -> None:
    """Declared inputs (``meta.inputs`` lines) inside the repository that a checkout at ``dest`` lacks (data kept
    out of git): linked from the user's working tree, so that a rerun or a bisect reads the same files
    (``world_warnings`` says when they changed since the run)."""
    from gitxp.store.inputs import parse_lines

    root = store.repo.worktree
    if root is None:
        return
    for item in parse_lines(lines):
        path = Path(item["path"])
        if path.is_absolute() or ".." in path.parts:
            continue
        source, target = root / path, dest / path
        if source.exists() and not target.exists() and not target.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source.resolve(), target_is_directory=source.is_dir())


def world_warnings(store: Store, run: dict[str, Any]) -> list[str]:
    """What differs, here and now, from the world the run was recorded in: each package of the environment
    that differs, each declared input whose content changed (one line each; empty when nothing does)."""
    from gitxp.store import envs, inputs

    warnings = envs.check_against(store, run)
    for item in inputs.check(run.get("meta.inputs"), store.repo.worktree, store.root):
        now = "is gone" if item["now"] is None else f"changed: {item['recorded'][:19]} -> {item['now'][:19]}"
        warnings.append(f"input {item['path']} {now} since run {run['run_id']}")
    return warnings


def cleanup(store: Store, tree: Path | None) -> None:
    if tree is not None:
        remove_worktree(store.repo, tree)
        if tree.name == "tree" and tree.parent.name.startswith(_PREFIX):
            for handle in [h for h in _held if h is not None and h.folder == tree.parent]:
                handle.close()  # release the lock of a worktree that is gone
                _held.remove(handle)
            shutil.rmtree(tree.parent, ignore_errors=True)


def keep(tree: Path) -> None:
    """Mark a rerun's worktree as kept on purpose (``--keep``): stale-worktree cleaning leaves it alone."""
    if tree.name == "tree" and tree.parent.name.startswith(_PREFIX):
        (tree.parent / "keep").touch()


def prune_stale_worktrees(store: Store) -> list[Path]:
    """Remove the temporary worktrees of reruns that died (kill -9) and let git forget them: a worktree of
    gitxp's whose lock is free and that was not ``--keep``-ed. Called by every rerun and by ``gitxp gc``."""
    removed = []
    listing = store.repo.run(["worktree", "list", "--porcelain"], check=False).stdout.decode(errors="replace")
    for line in listing.splitlines():
        if not line.startswith("worktree "):
            continue
        path = Path(line[len("worktree ") :])
        home = path.parent
        if path.name != "tree" or not home.name.startswith(_PREFIX) or (home / "keep").exists():
            continue
        if liveness.is_held(home):
            continue  # a rerun still running
        remove_worktree(store.repo, path)
        shutil.rmtree(home, ignore_errors=True)
        removed.append(path)
    store.repo.run(["worktree", "prune"], check=False)
    return removed


def compare_results(
    original: dict[str, Any], new: dict[str, Any], rtol: float, atol: float = 0.0
) -> list[dict[str, Any]]:
    """Per result: original value, new value, and whether they match within ``rtol``/``atol``."""
    rows = []
    # the run's own results only: the wide table has a (null) column for every other experiment's results
    keys = sorted(
        {k for k, v in (*original.items(), *new.items()) if k.startswith("results.") and v is not None}
    )
    for key in keys:
        a, b = original.get(key), new.get(key)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            if math.isnan(a) and math.isnan(b):
                match = True
            else:
                match = math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
        else:
            match = a == b
        rows.append({"result": key[len("results.") :], "original": a, "rerun": b, "match": match})
    return rows


def env_for(plan: Plan) -> dict[str, str]:
    """Extra environment of a rerun: the seed the original run used, if it recorded one; for a trial of a
    ``gitxp.Sweep`` loop, ``GITXP_RERUN_ASK`` (its first ``ask()`` is the rerun, see gitxp.search.api)."""
    seed = plan.run.get("meta.seed")
    env = {"GITXP_SEED": str(seed)} if isinstance(seed, int) else {}
    if plan.run.get("meta.entrypoint.sweep") and not plan.run.get("meta.command.template"):
        env["GITXP_RERUN_ASK"] = "1"
    return env


def run_dir(tree: Path | None, plan: Plan) -> Path:
    base = tree if tree is not None else Path(os.getcwd())
    return base / plan.workdir if tree is not None else base
