"""How params reach an unmodified command (the built-in ``gitxp_apply_overrides``).

Applied in order, each one "consuming" the params it delivers:

1. a config file (``--config cfg.yaml|json``): keys overridden by dotted path (``training.learning_rate``), the
   rendered copy written to the run's output dir; its path replaces ``{config}`` in the command, or the original
   config path where the command names it;
2. templating: ``{name}`` in any argument becomes the param's value (also ``{run_id}``, ``{output_dir}``);
3. argparse-style rewriting: ``--name VALUE`` / ``--name=VALUE`` already in the command get the new value
   (``--learning-rate`` matches param ``learning_rate``);
4. the environment: ``GITXP_PARAMS`` (JSON of all params), ``GITXP_RUN_ID``, ``GITXP_OUTPUT_DIR`` — always set,
   but not counted as "received" (a param only the environment carries is probably a typo; ``--allow-unused``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.hookspecs import hookimpl

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["Invocation", "apply", "received", "format_value", "load_config"]

_TEMPLATE = re.compile(r"\{([A-Za-z_][\w.\-]*)\}")


@dataclass
class Invocation:
    """A command ready to run: argv, extra environment, and the params it receives."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)


def format_value(value: Any) -> str:
    """A param as a command-line argument."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


# ---------------------------------------------------------------------- config files


def load_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise UsageError(f"--config {path}: not valid JSON: {error}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UsageError(f"--config {path}: not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping at the top level")
    return data


def _config_has(data: Mapping[str, Any], key: str) -> bool:
    if key in data:
        return True
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _config_set(data: dict[str, Any], key: str, value: Any) -> None:
    if key in data:
        data[key] = value
        return
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def _config_mentioned(command: list[str], config: Path) -> bool:
    return any(arg in (str(config), config.name) or arg.endswith(f"={config}") for arg in command) or any(
        "{config}" in arg for arg in command
    )


# ---------------------------------------------------------------------- the pipeline


def _flag_names(key: str) -> set[str]:
    return {f"--{key}", f"--{key.replace('_', '-')}", f"--{key.replace('-', '_')}"}


def received(command: list[str], names: list[str], config: Path | None) -> set[str]:
    """Which of ``names`` the command would receive (used to reject typos before anything runs)."""
    data = load_config(config) if config is not None else None
    if config is not None and not _config_mentioned(command, config):
        raise UsageError(f"--config {config}: the command neither contains {{config}} nor names {config}")
    found = set()
    templates = {m for arg in command for m in _TEMPLATE.findall(arg)}
    for name in names:
        flags = _flag_names(name)
        if (
            (data is not None and _config_has(data, name))
            or name in templates
            or any(arg in flags or arg.split("=", 1)[0] in flags for arg in command)
        ):
            found.add(name)
    return found


def apply(
    command: list[str], params: Mapping[str, Any], *, config: Path | None, output_dir: Path, run_id: str
) -> Invocation:
    """Deliver ``params`` to ``command`` (see the module docstring)."""
    consumed: set[str] = set()
    command = list(command)
    extra = {"run_id": run_id, "output_dir": str(output_dir)}
    if config is not None:
        data = copy.deepcopy(load_config(config))
        for key, value in params.items():
            if _config_has(data, key):
                _config_set(data, key, value)
                consumed.add(key)
        rendered = output_dir / config.name
        if config.suffix.lower() == ".json":
            rendered.write_text(json.dumps(data, indent=2))
        else:
            import yaml

            rendered.write_text(yaml.safe_dump(data, sort_keys=False))
        extra["config"] = str(rendered)
        command = [str(rendered) if arg in (str(config), config.name) else arg for arg in command]

    def template(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in params:
            consumed.add(name)
            return format_value(params[name])
        return extra.get(name, match.group(0))

    command = [_TEMPLATE.sub(template, arg) for arg in command]
    for key, value in params.items():
        if key in consumed:
            continue
        flags = _flag_names(key)
        for i, arg in enumerate(command):
            if arg in flags and i + 1 < len(command) and not command[i + 1].startswith("--"):
                command[i + 1] = format_value(value)
                consumed.add(key)
            elif "=" in arg and arg.split("=", 1)[0] in flags:
                command[i] = f"{arg.split('=', 1)[0]}={format_value(value)}"
                consumed.add(key)
    env = {
        "GITXP_PARAMS": json.dumps(dict(params)),
        "GITXP_RUN_ID": run_id,
        "GITXP_OUTPUT_DIR": str(output_dir),
    }
    return Invocation(command, env, consumed)


@hookimpl(trylast=True)
def gitxp_apply_overrides(run: Run, command: list[str], params: dict[str, Any]) -> Invocation:
    return apply(
        command, params, config=getattr(run, "config_file", None), output_dir=run.output_dir, run_id=run.id
    )
