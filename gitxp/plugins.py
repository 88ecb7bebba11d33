"""The plugin manager: built-in plugins plus those installed under the ``gitxp`` entry-point group.

Loaded lazily, once per process, on first use.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

from gitxp import hookspecs

__all__ = ["get_plugin_manager", "DEFAULT_PLUGINS", "collect_registry", "entry_points", "DISTRIBUTIONS"]

DEFAULT_PLUGINS = (
    "gitxp.run.meta",
    "gitxp.run.entrypoint",
    "gitxp.wrap.overrides",
    "gitxp.wrap.readers",
    "gitxp.search.strategies",
    "gitxp.executors.builtin",
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
        for name, value, dist in entry_points("gitxp"):
            if pm.get_plugin(name) is None and not pm.is_blocked(name):
                pm.register(_load(value), name=name)
                DISTRIBUTIONS[name] = dist
        _pm = pm
    return _pm


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitxp"


DISTRIBUTIONS: dict[str, str] = {}  # plugin name -> the distribution that installed it (``gitxp plugins``)


def entry_points(group: str) -> list[tuple[str, str, str]]:
    """``(name, "module:attr", distribution)`` of the installed entry points of ``group``.

    Scanning every installed distribution's metadata takes ~50 ms, a third of ``gitxp run``'s own start-up, so
    the answer is kept in ``~/.cache/gitxp/`` under a key made of ``sys.path`` and the modification time of each
    of its directories: installing, upgrading or removing a distribution changes its directory's time, and the
    scan runs again."""
    state = []
    for entry in sys.path:
        try:
            state.append(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            state.append(f"{entry}\0-")
    key = hashlib.sha256("\n".join([group, sys.version, *state]).encode()).hexdigest()[:32]
    path = _cache_dir() / f"entry-points-{key}.json"
    try:
        cached = json.loads(path.read_text())
        if isinstance(cached, list) and all(isinstance(p, list) and len(p) == 3 for p in cached):
            return [(str(name), str(value), str(dist)) for name, value, dist in cached]
    except (OSError, ValueError):
        pass
    from importlib.metadata import entry_points as scan

    found = sorted({(ep.name, ep.value, ep.dist.name if ep.dist else "?") for ep in scan(group=group)})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found))
        os.replace(tmp, path)
    except OSError:
        pass  # no writable cache: scanned again next time
    return found


def _load(value: str) -> Any:
    """The object an entry point names: ``module``, ``module:attr`` or ``module:attr.sub`` (extras ignored)."""
    module, _, attr = value.partition("[")[0].strip().partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else []:
        obj = getattr(obj, part)
    return obj


def collect_registry(hook: Callable[..., Any], what: str) -> dict[str, Any]:
    """Call a ``register(name, obj)`` capability hook and return name -> obj; a name registered twice is an error."""
    found: dict[str, Any] = {}

    def register(name: str, obj: Any) -> None:
        if name in found:
            raise ValueError(f"two plugins register a {what} named {name!r}")
        found[name] = obj

    hook(register=register)
    return found
