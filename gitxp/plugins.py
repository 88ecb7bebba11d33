"""The plugin manager: built-in plugins plus those installed under the ``gitxp`` entry-point group.

Loaded lazily, once per process, on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pluggy

from gitxp import hookspecs

__all__ = ["get_plugin_manager", "DEFAULT_PLUGINS", "collect_registry"]

DEFAULT_PLUGINS = (
    "gitxp.builtin.meta",
    "gitxp.builtin.overrides",
    "gitxp.builtin.readers",
    "gitxp.builtin.strategies",
    "gitxp.builtin.executors",
    "gitxp.integrations.tensorboard",
    "gitxp.integrations.hydra",
)

_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager (created and loaded on first call)."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("gitxp")
        pm.add_hookspecs(hookspecs)
        for name in DEFAULT_PLUGINS:
            module = importlib.import_module(name)
            parts = getattr(module, "PLUGINS", None)  # a module holding several plugins
            if parts:
                for key, plugin in parts.items():
                    pm.register(plugin, name=f"{name}.{key}")
            else:
                pm.register(module, name=name)
        pm.load_setuptools_entrypoints("gitxp")
        _pm = pm
    return _pm


def collect_registry(hook: Callable[..., Any], what: str) -> dict[str, Any]:
    """Call a ``register(name, obj)`` capability hook and return name -> obj; a name registered twice is an error."""
    found: dict[str, Any] = {}

    def register(name: str, obj: Any) -> None:
        if name in found:
            raise ValueError(f"two plugins register a {what} named {name!r}")
        found[name] = obj

    hook(register=register)
    return found
