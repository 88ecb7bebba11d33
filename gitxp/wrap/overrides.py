"""How params reach an unmodified command: four built-in ``gitxp_apply_overrides`` plugins.

Every implementation of the hook edits the same ``Invocation`` in turn and adds the params it delivered to
``invocation.consumed``; a framework plugin (Hydra ``key=value`` arguments, a launcher's own flags, ...) is one
more implementation beside these:

1. ``config`` (runs first): with ``--config cfg.yaml|json``, keys overridden by dotted path
   (``training.learning_rate``), the rendered copy written to the run's output dir; its path replaces ``{config}``
   in the command, or the original config path where the command names it;
2. ``templating``: ``{name}`` in any argument becomes the param's value (also ``{run_id}``, ``{output_dir}``);
3. ``argparse``: ``--name VALUE`` / ``--name=VALUE`` already in the command get the new value (``--learning-rate``
   matches param ``learning_rate``);
4. ``environment`` (runs last): ``GITXP_PARAMS`` (JSON of all params), ``GITXP_RUN_ID``, ``GITXP_OUTPUT_DIR`` —
   always set, but not counted as delivered (a param only the environment carries is probably a typo;
   ``--allow-unused``).

Before anything runs, the same hook is called on a *dry* invocation (``invocation.dry_run``: write no file) to
find params that would reach nothing: ``delivered_params``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError
from gitxp.hookspecs import Invocation, Run, hookimpl

__all__ = ["Invocation", "delivered_params", "rendered_command", "format_value", "load_config", "PLUGINS"]

_TEMPLATE = re.compile(r"\{([A-Za-z_][\w.\-]*)\}")


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


def delivered_params(command: list[str], params: Mapping[str, Any], config: Path | None) -> set[str]:
    """Which params the command would receive, asking every ``gitxp_apply_overrides`` plugin (nothing runs)."""
    from gitxp.plugins import get_plugin_manager

    invocation = Invocation(list(command), config=config)
    get_plugin_manager().hook.gitxp_apply_overrides(run=None, invocation=invocation, params=dict(params))
    return invocation.consumed


def rendered_command(command: list[str], params: Mapping[str, Any], run_id: str = "") -> list[str]:
    """The argv ``command`` becomes once every ``gitxp_apply_overrides`` plugin has applied ``params`` (nothing
    runs, no file is written; a ``--config`` file is shown by its own path, rendered when the run starts)."""
    from gitxp.plugins import get_plugin_manager

    invocation = Invocation(list(command), run_id=run_id)
    get_plugin_manager().hook.gitxp_apply_overrides(run=None, invocation=invocation, params=dict(params))
    return invocation.command


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


def _config_get(data: Mapping[str, Any], key: str) -> Any:
    if key in data:
        return data[key]
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


# HyperTrainer's per-task output folder: its scripts write metric_*.log and progress.log there
_HT_OUTPUT = "training.output_path"
_PER_RUN = re.compile(r"\{(output_dir|run_id)\}")


def _per_run_paths(data: dict[str, Any], params: Mapping[str, Any], invocation: Invocation) -> None:
    """``{output_dir}`` and ``{run_id}`` inside the config's string values become this run's; HyperTrainer's
    ``training.output_path``, unless a param or a template sets it, becomes the run's output dir -- as HyperTrainer
    itself gave every task its own folder, so runs never write into (and read) each other's files."""
    values = {"output_dir": str(invocation.output_dir), "run_id": invocation.run_id}

    def render(node: Any) -> Any:
        if isinstance(node, str):
            return _PER_RUN.sub(lambda m: values[m.group(1)], node)
        if isinstance(node, dict):
            return {k: render(v) for k, v in node.items()}
        if isinstance(node, list):
            return [render(v) for v in node]
        return node

    given = _config_has(data, _HT_OUTPUT) and (
        _HT_OUTPUT in params or _PER_RUN.search(str(_config_get(data, _HT_OUTPUT)))
    )
    data.update(render(data))
    if _config_has(data, _HT_OUTPUT) and not given:
        _config_set(data, _HT_OUTPUT, str(invocation.output_dir))


class ConfigFile:
    @hookimpl(tryfirst=True)
    def gitxp_apply_overrides(self, run: Run | None, invocation: Invocation, params: dict[str, Any]) -> None:
        config = invocation.config
        if config is None:
            return
        names = (str(config), config.name)
        if not any(arg in names or "{config}" in arg for arg in invocation.command):
            raise UsageError(f"--config {config}: the command neither contains {{config}} nor names {config}")
        data = copy.deepcopy(load_config(config))
        for key, value in params.items():
            if _config_has(data, key):
                _config_set(data, key, value)
                invocation.consumed.add(key)
        if invocation.output_dir is None:
            return
        _per_run_paths(data, params, invocation)
        output_path = str(_config_get(data, _HT_OUTPUT)) if _config_has(data, _HT_OUTPUT) else None
        if run is not None and output_path and output_path != str(invocation.output_dir):
            run.meta({"config.output_path": output_path})  # metric_*.log files are read there too
        rendered = invocation.output_dir / config.name
        if config.suffix.lower() == ".json":
            rendered.write_text(json.dumps(data, indent=2))
        else:
            import yaml

            rendered.write_text(yaml.safe_dump(data, sort_keys=False))
        invocation.command = [
            str(rendered) if arg in names else arg.replace("{config}", str(rendered))
            for arg in invocation.command
        ]


class Templating:
    @hookimpl
    def gitxp_apply_overrides(self, run: Run | None, invocation: Invocation, params: dict[str, Any]) -> None:
        extra = {"run_id": invocation.run_id, "output_dir": str(invocation.output_dir or "")}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in params:
                invocation.consumed.add(name)
                return format_value(params[name])
            return extra.get(name, match.group(0)) if not invocation.dry_run else match.group(0)

        invocation.command = [_TEMPLATE.sub(substitute, arg) for arg in invocation.command]


def _flag_names(key: str) -> set[str]:
    return {f"--{key}", f"--{key.replace('_', '-')}", f"--{key.replace('-', '_')}"}


class ArgparseFlags:
    @hookimpl
    def gitxp_apply_overrides(self, run: Run | None, invocation: Invocation, params: dict[str, Any]) -> None:
        command = invocation.command
        for key, value in params.items():
            flags = _flag_names(key)
            for i, arg in enumerate(command):
                if arg in flags and i + 1 < len(command) and not command[i + 1].startswith("--"):
                    command[i + 1] = format_value(value)
                    invocation.consumed.add(key)
                elif "=" in arg and arg.split("=", 1)[0] in flags:
                    command[i] = f"{arg.split('=', 1)[0]}={format_value(value)}"
                    invocation.consumed.add(key)


class Environment:
    @hookimpl(trylast=True)
    def gitxp_apply_overrides(self, run: Run | None, invocation: Invocation, params: dict[str, Any]) -> None:
        invocation.env.setdefault("GITXP_PARAMS", json.dumps(params))
        invocation.env.setdefault("GITXP_RUN_ID", invocation.run_id)
        invocation.env.setdefault("GITXP_OUTPUT_DIR", str(invocation.output_dir or ""))


PLUGINS = {
    "config": ConfigFile(),
    "templating": Templating(),
    "argparse": ArgparseFlags(),
    "environment": Environment(),
}
