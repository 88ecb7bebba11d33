"""Hydra: params reach a Hydra app as overrides, and the composed config comes back as the run's params.

A ``gitxp_apply_overrides`` plugin (built in; Hydra itself is imported only inside the command). When the command
runs a Python script using ``@hydra.main`` (detected in its source), every param no other plugin delivered
becomes a Hydra override: ``gitxp run -p optimizer.lr=0.1 -- python train.py`` runs
``python train.py optimizer.lr=0.1`` (an override already in the command gets the new value; ``+key=`` /
``++key=`` forms are kept). gitxp also adds

- ``hydra.run.dir=<run output dir>/hydra`` (unless the command sets it), so Hydra's outputs stay out of the
  working tree (a dirty tree would change the run's version);
- a Hydra callback (:class:`gitxp.integrations.hydra_callback.GitxpHydraCallback`) that records the *composed*
  config -- defaults included -- as the run's params when the job starts.

``gitxp rerun RUN --set optimizer.lr=0.2`` goes through the same hook, so it works on Hydra apps too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.hookspecs import hookimpl

if TYPE_CHECKING:
    from gitxp.run import Run
    from gitxp.wrap.overrides import Invocation

__all__ = ["is_hydra_command", "override_value"]

_HYDRA_MAIN = re.compile(r"@\s*hydra\.main\b|from\s+hydra\s+import\s+main\b|hydra\.main\s*\(")
_CALLBACK = "+hydra.callbacks.gitxp._target_=gitxp.integrations.hydra_callback.GitxpHydraCallback"
_SIMPLE = re.compile(r"^[\w./:\-+]*$")


def is_hydra_command(command: list[str]) -> bool:
    """True when the command runs a Python script whose source uses ``@hydra.main``."""
    for arg in command[1:]:
        if arg.endswith(".py"):
            try:
                return bool(_HYDRA_MAIN.search(Path(arg).read_text(errors="replace")))
            except OSError:
                return False
    return False


def override_value(value: Any) -> str:
    """A param in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    text = str(value)
    if isinstance(value, str) and (not _SIMPLE.match(text) or text in ("", "null", "true", "false")):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def _key_of(arg: str) -> str | None:
    if arg.startswith("-") or "=" not in arg:
        return None
    return arg.split("=", 1)[0].lstrip("+~")


@hookimpl(trylast=True)  # after config/templating/argparse, before the environment fallback
def gitxp_apply_overrides(run: Run | None, invocation: Invocation, params: dict[str, Any]) -> None:
    command = invocation.command
    if not is_hydra_command(command):
        return
    for key, value in params.items():
        if key in invocation.consumed:
            continue
        for i, arg in enumerate(command):
            if _key_of(arg) == key:
                prefix = arg.split("=", 1)[0]
                command[i] = f"{prefix}={override_value(value)}"
                break
        else:
            command.append(f"{key}={override_value(value)}")
        invocation.consumed.add(key)
    if invocation.dry_run:
        return
    if not any(_key_of(arg) == "hydra.run.dir" for arg in command) and invocation.output_dir is not None:
        command.append(f"hydra.run.dir={invocation.output_dir / 'hydra'}")
    if _CALLBACK not in command:
        command.append(_CALLBACK)
