"""``gitxp rerun`` of a run made in a Jupyter kernel: the executed cells, run again in a fresh kernel.

A kernel's run keeps the cells the kernel had executed when it started, in order, in its version
(``.gitxp/executed/<notebook>.py``, see :mod:`gitxp.notebook.kernel`). :func:`command` plans a rerun as
``python -m gitxp.notebook.rerun SPEC``, which ``gitxp rerun`` runs like any wrapped command in the version's
worktree; :func:`main` then builds a notebook of those cells and executes it with nbclient (the ``notebook``
extra):

- a ``gitxp.start`` run: the cells up to the one that started it (and, for a run left open across cells, the
  cells that ran until it ended, ``meta.notebook.later_cells``);
- a trial of ``gitxp.optimize``/``gitxp.Sweep`` (``meta.notebook.objective``): the cells before the search, then
  one call of the objective with the trial's params (not the whole search again).

The rerun's params reach the notebook twice, as papermill does: ``gitxp.start``'s params are the wrapper's (the
run attaches to the rerun), and when the saved notebook has a cell tagged ``parameters``, a cell assigning the
params it sets follows that cell. The wrapper's run is handed to the kernel just before the cell that starts the
re-run run (runs started by earlier cells are recorded as runs of their own).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError

__all__ = ["command", "main", "split_cells"]

_ATTACH = ("GITXP_RUN_ID", "GITXP_ATTACH_DIR", "GITXP_PARAMS", "GITXP_EXPERIMENT", "GITXP_OUTPUT_DIR")
_CELL = re.compile(r"^# %% In\[\d+\]\n", re.M)


def _executed_path(patch: bytes) -> str | None:
    match = re.search(rb"^diff --git a/(\.gitxp/executed/\S+) b/", patch, re.M)
    return match.group(1).decode() if match else None


def command(
    run_id: str, meta: dict[str, Any], patch: bytes, overrides: dict[str, Any] | None = None
) -> tuple[str, ...]:
    """The command ``gitxp rerun`` runs for a kernel's run (a usage error saying what is missing otherwise)."""
    executed = _executed_path(patch)
    if executed is None:
        raise UsageError(
            f"run {run_id} was made in a Jupyter kernel but its executed cells were not recorded (gitxp older "
            "than its notebook support): re-run its notebook by hand, or put the code in a .py file and use "
            "'gitxp run -- python train.py'"
        )
    if meta.get("strategy") and not meta.get("notebook.objective"):
        raise UsageError(
            f"run {run_id} is a trial asked of a gitxp.Sweep in a notebook: executing its cells again would ask "
            "the sweep for a new trial, not re-run this one. To make such trials re-runnable, search with "
            "gitxp.optimize(objective, ...) (its trials re-run by calling the objective once), or re-run the "
            f"params by hand: with gitxp.start(params={{...}}) (gitxp show {run_id} lists them)"
        )
    if ".." in Path(executed).parts:  # a pulled run cannot point a rerun outside the checkout
        raise UsageError(f"run {run_id}'s executed cells {executed!r} are outside the repository: refusing")
    workdir = meta.get("workdir") or "."
    spec = {
        "executed": os.path.relpath(executed, workdir),  # the kernel ran in workdir; the file is at the root
        "cells": int(meta.get("notebook.cells") or 0),
        "later": list(meta.get("notebook.later_cells") or []),
        "objective": meta.get("notebook.objective"),
        "metric": meta.get("metric"),
        "notebook": os.path.relpath(str(meta["notebook.path"]), workdir)
        if meta.get("notebook.path")
        else None,
        "overrides": sorted(overrides or {}),
    }
    encoded = base64.urlsafe_b64encode(json.dumps(spec).encode()).decode()  # no {name} for the templating
    return (sys.executable, "-m", "gitxp.notebook.rerun", encoded)


def split_cells(text: str) -> list[str]:
    """The cells of an executed-cells file (``# %% In[N]`` blocks), their sources as executed."""
    parts = _CELL.split(text)
    return [part[:-1] if part.endswith("\n") else part for part in parts[1:]]


def _parameters_cell(notebook: str | None) -> str | None:
    if not notebook or not Path(notebook).is_file():
        return None
    from gitxp.version.ipynb import cells

    for cell in cells(Path(notebook).read_bytes()) or []:
        if cell["cell_type"] == "code" and "parameters" in cell["tags"]:
            return str(cell["source"])
    return None


def _injected(source: str, params: dict[str, Any]) -> str | None:
    """Assignments of the params the ``parameters`` cell sets (``lr = 0.1``), with the rerun's values."""
    lines = []
    for name, value in params.items():
        if name.isidentifier() and re.search(rf"^{re.escape(name)}\s*(:[^=]*)?=", source, re.M):
            lines.append(f"{name} = {value!r}")
    return "# Parameters injected by gitxp rerun\n" + "\n".join(lines) + "\n" if lines else None


def _objective_cell(name: str, metric: str | None) -> str:
    goal = (metric or "loss:min").split(",")[0].rpartition(":")[0] or "loss"
    return (
        "import gitxp as _gitxp\n"
        f"with _gitxp.start(metric={metric!r}) as _run:\n"
        f"    _returned = {name}(_run)\n"
        "    if isinstance(_returned, dict):\n"
        "        _run.result(_returned)\n"
        "    elif _returned is not None:\n"
        f"        _run.result({{{goal!r}: float(_returned)}})\n"
    )


def build(spec: dict[str, Any], text: str, env: dict[str, str]) -> list[str]:
    """The cells to execute: the history up to the run (see the module's docstring), the wrapper's run handed
    over just before the cell that starts it, the parameters injected after the ``parameters`` cell."""
    history = split_cells(text)
    count = spec["cells"] or len(history)
    params = json.loads(env.get("GITXP_PARAMS") or "{}")
    handover = (
        "import os as _os\n_os.environ.update(" + repr({k: env[k] for k in _ATTACH if k in env}) + ")\n"
    )
    parameters = _parameters_cell(spec.get("notebook"))
    unset = [
        name
        for name in spec.get("overrides") or []
        if parameters is None or not _injected(parameters, {name: params.get(name)})
    ]
    if unset:
        print(
            f"gitxp: warning: --set {unset[0]}: no cell tagged 'parameters' in the notebook sets {unset[0]!r}: "
            "only the value gitxp.start records changes (tag the cell that sets it, or read it from run.params)",
            file=sys.stderr,
        )
    out: list[str] = []
    for source in history[: count - 1]:
        out.append(source)
        if parameters is not None and source.strip() == parameters.strip():
            injected = _injected(parameters, params)
            if injected:
                out.append(injected)
    out.append(handover)
    if spec.get("objective"):
        out.append(_objective_cell(spec["objective"], spec.get("metric")))
    else:
        out.append(history[count - 1] if count - 1 < len(history) else "")
        out.extend(spec.get("later") or [])
    return out


def main(argv: list[str]) -> int:
    """Execute the cells of a kernel's run again (``python -m gitxp.notebook.rerun SPEC``)."""
    spec = json.loads(base64.urlsafe_b64decode(argv[0].encode()))
    try:
        import nbclient
        import nbformat
    except ImportError:
        print(
            "gitxp: re-running a notebook's run needs nbclient, nbformat and ipykernel: "
            "pip install 'gitxp[notebook]'",
            file=sys.stderr,
        )
        return 2
    if not Path(spec["executed"]).is_file():
        print(
            f"gitxp: {spec['executed']} (the cells the kernel executed) is not here: re-run without --here, "
            "in the run's own version",
            file=sys.stderr,
        )
        return 2
    sources = build(spec, Path(spec["executed"]).read_text(), dict(os.environ))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    kernel_env = {k: v for k, v in os.environ.items() if k not in _ATTACH}
    client = nbclient.NotebookClient(
        nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": os.getcwd()}}
    )
    status = 0
    try:
        client.execute(env=kernel_env)
    except nbclient.exceptions.CellExecutionError as error:
        print(f"gitxp: a cell failed in the re-run notebook:\n{error}", file=sys.stderr)
        status = 1
    finally:
        out = os.environ.get("GITXP_OUTPUT_DIR")
        if out and Path(out).is_dir():
            nbformat.write(nb, Path(out) / "rerun.ipynb")  # the executed notebook, outputs and all
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
