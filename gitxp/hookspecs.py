"""Every hook gitxp calls, with its exact signature. Plugins implement them with ``@gitxp.hookimpl``.

Built-in behaviour (the default meta collector, ...) is registered as plugins on these same hooks, so a
third-party plugin can do anything the core does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pluggy

__all__ = ["hookspec", "hookimpl", "Invocation", "Run"]

hookspec = pluggy.HookspecMarker("gitxp")
hookimpl = pluggy.HookimplMarker("gitxp")


class Run(Protocol):
    """A run as hooks see it (a :class:`gitxp.Run`). Declared here, not imported, so that the hook
    specifications sit below everything that calls them (no import cycle with :mod:`gitxp.run`)."""

    id: str
    experiment: str
    status: str
    attached: bool

    @property
    def params(self) -> Mapping[str, Any]: ...

    @property
    def results(self) -> Mapping[str, Any]: ...

    @property
    def commit(self) -> str | None: ...

    @property
    def output_dir(self) -> Path: ...

    def meta(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]: ...

    def result(self, values: Mapping[str, Any] | None = None, /, **more: Any) -> None: ...

    def log(
        self, values: Mapping[str, Any] | None = None, /, step: int | None = None, **metrics: Any
    ) -> None: ...


@dataclass
class Invocation:
    """A command being prepared (``gitxp_apply_overrides``): argv, extra environment, the params delivered so far.

    ``output_dir`` is where files for the command may be written (rendered configs); it is None in a dry run.
    """

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)
    config: Path | None = None
    output_dir: Path | None = None
    run_id: str = ""

    @property
    def dry_run(self) -> bool:
        return self.output_dir is None


# ---------------------------------------------------------------------- run lifecycle


@hookspec
def gitxp_collect_meta(run: Run) -> dict[str, Any] | None:
    """Return extra meta-data for ``run`` (merged into ``run.meta``); called once when the run starts."""


@hookspec
def gitxp_run_start(run: Run) -> None:
    """Called when ``run`` has started and its params, meta and version are staged."""


@hookspec
def gitxp_log_metrics(run: Run, step: int, values: dict[str, float]) -> None:
    """Called for every ``run.log(step=..., **values)``; keep it cheap, it runs once per training step."""


@hookspec
def gitxp_run_end(run: Run, status: str) -> None:
    """Called when ``run`` ends with ``status`` (finished, failed or interrupted), before it is committed."""


# ---------------------------------------------------------------------- capabilities


@hookspec
def gitxp_apply_overrides(run: Run | None, invocation: Invocation, params: dict[str, Any]) -> None:
    """Deliver ``params`` to the command being prepared: edit ``invocation.command``/``invocation.env`` and add
    the names delivered to ``invocation.consumed``. Every implementation runs in turn (built-in: config file,
    ``{k}`` templating, ``--name value`` rewriting, environment). ``run`` is None and ``invocation.dry_run`` true
    when gitxp only checks, before anything runs, which params would reach the command: write no file then."""


@hookspec
def gitxp_search_strategies(register: Callable[[str, Any], None]) -> None:
    """Register search strategies: ``register("tpe", strategy_factory)``."""


@hookspec
def gitxp_executors(register: Callable[[str, Any], None]) -> None:
    """Register executors that run a sweep's runs: ``register("local", executor_factory)``."""


@hookspec
def gitxp_result_readers(register: Callable[[str, Any], None]) -> None:
    """Register readers that extract results from a finished command (stdout lines, metric files, ...)."""
