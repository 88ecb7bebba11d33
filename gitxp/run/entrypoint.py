"""Entry points: how any run can be run again (``gitxp rerun``), recorded with the run.

A run's meta says how to call its code again, in one of these ways (``gitxp.wrap.rerun.plan_rerun`` reads them in this
order):

- ``command.template``: the command of ``gitxp run`` (recorded by the wrapper);
- ``entrypoint`` (``file.py:function`` or ``module:function``): a function to call again, with no argument (an
  ``@gitxp.experiment`` function: its params reach it through ``$GITXP_PARAMS``), or, with
  ``entrypoint.call = "run"``, with the run (a ``gitxp.optimize`` objective: its ``run.uniform(...)``-style calls
  then return the trial's recorded params instead of sampling; ``entrypoint.metric`` says how its return value
  becomes results);
- ``entrypoint.script``: a script started as ``python script.py ARGS`` (``-m module`` for ``python -m module
  ARGS``) that called ``gitxp.start``: run again as ``<python> script.py ARGS`` from the run's working directory,
  ``ARGS`` being the run's ``meta.argv`` after its first item; with
  ``entrypoint.sweep = "ask"``, a trial a ``gitxp.Sweep`` loop of the script asked for: the script runs again and
  its first ``ask()`` returns the trial's params (``$GITXP_RERUN_ASK``), its second ends it;
- ``entrypoint.why_not``: why the run cannot be re-run (a lambda, a nested function, a notebook cell or REPL, a
  script without a ``__main__`` guard), said at record time and by ``gitxp rerun``.

:func:`for_function` and :func:`for_script` give these meta entries; a plugin or another front end (notebooks)
records its own entry point by passing them as a run's meta.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError
from gitxp.hookspecs import hookimpl

__all__ = ["for_function", "for_script", "WHY_NOT", "SCRIPT", "ENTRYPOINT", "CALL", "METRIC", "SWEEP"]

ENTRYPOINT = "entrypoint"
SCRIPT = "entrypoint.script"
CALL = "entrypoint.call"
METRIC = "entrypoint.metric"
WHY_NOT = "entrypoint.why_not"
SWEEP = "entrypoint.sweep"  # "ask": a trial of a gitxp.Sweep loop in the script of entrypoint.script

_script: dict[str, Any] = {}  # per process: the script's entry point (sys.argv does not change)


def for_function(fn: Callable[..., Any], *, call: str | None = None) -> dict[str, Any]:
    """The entry point of a function: ``{"entrypoint": "module:qualname"}`` (``file.py:qualname`` for a function
    of the script being run), with ``entrypoint.call`` when given, plus ``entrypoint.why_not`` when it cannot be
    called again from outside (a lambda, a nested function, a function of a notebook or REPL)."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    module = getattr(fn, "__module__", None)
    if not name or not module:
        return {WHY_NOT: f"{fn!r} is not a named function: it cannot be called again from outside"}
    out: dict[str, Any] = {}
    if module == "__main__":
        file = getattr(sys.modules.get("__main__"), "__file__", None)
        if file:
            module = os.path.relpath(os.path.abspath(file)) if str(file).endswith(".py") else str(file)
        if not file or not str(file).endswith(".py"):
            out[WHY_NOT] = _interactive()
        elif not _guarded(str(file)):
            out[WHY_NOT] = (
                f"{module} has no 'if __name__ == \"__main__\":' guard: loading it to call {name} again would run "
                "the whole script (add the guard, or move the function into a module)"
            )
    out[ENTRYPOINT] = f"{module}:{name}"
    if "<lambda>" in name:
        out[WHY_NOT] = (
            "the function is a lambda: no name to call it again by (define it with def at module level)"
        )
    elif "<locals>" in name:
        out[WHY_NOT] = (
            f"{name} is a nested function: it cannot be called again from outside (define it at the module "
            "level of a .py file)"
        )
    if call:
        out[CALL] = call
    return out


def _guarded(file: str) -> bool:
    """Whether a script keeps its top-level work under ``if __name__ == "__main__":`` (read once per script)."""
    if file not in _guards:
        try:
            text = Path(file).read_text(errors="replace")
        except OSError:
            text = ""
        _guards[file] = "__main__" in text
    return _guards[file]


_guards: dict[str, bool] = {}


def _interactive() -> str:
    if "ipykernel" in sys.modules:
        return (
            "defined in a notebook cell: no file of the repository holds its code (move it into a .py module)"
        )
    return "defined in an interactive session (REPL or python -c/-): no file holds its code"


def for_script() -> dict[str, Any]:
    """The entry point of this process: ``{"entrypoint.script": "script.py"}`` (``"-m module"``) when it was
    started as ``python script.py ARGS`` / ``python -m module ARGS`` (the arguments are the run's ``meta.argv``),
    else ``{"entrypoint.why_not": ...}``. The script path is relative to the current directory (the run's
    ``meta.workdir``)."""
    if _script:
        return dict(_script)
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if "ipykernel" in sys.modules or not file or not sys.argv or sys.argv[0] in ("", "-c", "-"):
        _script[WHY_NOT] = _interactive()
    elif spec is not None and getattr(spec, "name", None) and spec.name != "__main__":
        name = spec.name.removesuffix(".__main__")
        if name.split(".")[0] in ("pytest", "gitxp", "ipykernel_launcher", "IPython"):
            _script[WHY_NOT] = f"started by {name}: not a script of the project to run again"
        else:
            _script[SCRIPT] = f"-m {name}"
    else:
        path = Path(os.path.abspath(file))
        try:
            relative = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            relative = str(path)
        if relative.startswith(".."):
            _script[WHY_NOT] = (
                f"the script {path} is outside the working directory: run again from the repository"
            )
        else:
            _script[SCRIPT] = Path(relative).as_posix()
    return dict(_script)


def _is_gitxp() -> bool:
    """The process is gitxp's own command line (``gitxp run`` records the command it wraps instead)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(spec, "name", "") or ""
    return name.startswith("gitxp.") or os.path.basename(sys.argv[0] if sys.argv else "") == "gitxp"


@hookimpl
def gitxp_collect_meta(run: Any) -> dict[str, Any]:
    """The script's entry point of a run started with ``gitxp.start`` (a wrapped command's runs have the
    wrapper's command; decorator and objective runs add their function as meta, which wins at rerun)."""
    if getattr(run, "attached", False) or _is_gitxp():
        return {}
    return for_script()


def bootstrap_command(entrypoint: str, call: str | None = None, metric: str | None = None) -> tuple[str, ...]:
    """A command that calls a decorated function the way the original run did (its params come from
    ``GITXP_PARAMS``, which the decorator applies to the call); with ``call="run"``, a ``gitxp.optimize``
    objective called with a run whose params are the recorded ones (its ``run.uniform(...)`` calls return them,
    nothing is sampled again), its return value recorded as results for ``metric``."""
    target, sep, qualname = entrypoint.rpartition(":")
    if not sep or not target or not qualname:
        raise UsageError(f"entry point {entrypoint!r} is not of the form file.py:function or module:function")
    if "<locals>" in qualname:
        raise UsageError(
            f"entry point {entrypoint!r} is a nested function: it cannot be called again from outside"
        )
    if target.endswith(".py"):
        code = (
            "import importlib.util, os, sys\n"
            f"path = {target!r}\n"
            "sys.path.insert(0, os.path.dirname(os.path.abspath(path)))\n"
            "spec = importlib.util.spec_from_file_location('__gitxp_rerun__', path)\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "sys.modules['__gitxp_rerun__'] = module\n"
            "spec.loader.exec_module(module)\n"
        )
    else:
        code = (
            f"import importlib, sys\nsys.path.insert(0, '')\nmodule = importlib.import_module({target!r})\n"
        )
    code += "obj = module\n" + "".join(f"obj = getattr(obj, {part!r})\n" for part in qualname.split("."))
    if call == "run":
        code += (
            "import gitxp\nfrom gitxp.search.api import record_returned\n"
            "with gitxp.start() as run:\n"
            f"    record_returned(run, obj(run), {metric or 'loss:min'!r})\n"
        )
    else:
        code += "obj()\n"
    return (sys.executable, "-c", code)


def check_rerunnable(run_id: str, entrypoint: str) -> None:
    """Refuse, before anything runs, a function defined in a notebook, a REPL or ``python -`` (``<stdin>:f``,
    ``__main__:f`` without a file): no file holds its code, so no version can bring it back."""
    target = entrypoint.rpartition(":")[0]
    if target.startswith("<") or target == "__main__" or target.startswith("__main__."):
        raise UsageError(
            f"run {run_id} was recorded from an interactive session (entry point {entrypoint!r}); its code "
            "cannot be re-run. To make runs re-runnable, define the function in a .py file of the repository "
            "and import it (or run a script with 'gitxp run -- python train.py')"
        )


_asked_in_rerun: list[Any] = []


def rerun_ask(experiment: str | None, metric: str, make_run: Callable[..., Any]) -> Any:
    """``gitxp.Sweep.ask`` under ``gitxp rerun`` of one trial (``$GITXP_RERUN_ASK``): a run for the trial once
    (attached to the rerun's run, which holds the trial's params), then the end of the script (exit 0: the rest of
    the loop is other trials), made by ``make_run`` (:class:`gitxp.Run`). None when this is no such rerun.
    ``experiment`` None: the sweep named none (the run's default, not recorded as given), as ``ask`` makes runs."""
    if not os.environ.get("GITXP_RERUN_ASK") or not os.environ.get("GITXP_RUN_ID"):
        return None
    if _asked_in_rerun:
        print("gitxp: rerun of one gitxp.Sweep trial: stopping at the next ask()", file=sys.stderr)
        raise SystemExit(0)
    run = make_run(experiment=experiment, metric=metric)
    _asked_in_rerun.append(run)
    return run
