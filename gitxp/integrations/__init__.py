"""Framework integrations: each module is imported only when used, so ``import gitxp`` stays light.

- :mod:`gitxp.integrations.args`: ``gitxp.parse_args(parser)`` records an argparse script's params, defaults
  included.
- :mod:`gitxp.integrations.tensorboard`: a result reader turning TensorBoard event files under the output dir
  into the run's curves.

Every integration records into the current gitxp run (the wrapper's one under ``gitxp run``), or starts one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["active_run", "add_params", "plain", "end_run", "INTEGRATIONS", "describe"]

# integration module -> (the framework's distribution, its import name, what it provides); framework modules are
# imported only by the user's code, never by gitxp itself (``gitxp plugins`` lists them without importing them).
INTEGRATIONS = {
    "gitxp.integrations.lightning": ("lightning", "lightning", "GitxpLogger (Lightning logger)"),
    "gitxp.integrations.transformers": ("transformers", "transformers", "GitxpCallback (TrainerCallback)"),
    "gitxp.integrations.keras": ("keras", "keras", "GitxpCallback (Keras callback)"),
    "gitxp.integrations.sklearn": ("scikit-learn", "sklearn", "log_estimator, log_search"),
    "gitxp.integrations.hydra": (
        "hydra-core",
        "hydra",
        "gitxp_apply_overrides: Hydra overrides + composed config",
    ),
    "gitxp.integrations.tensorboard": ("tbparse", "tbparse", "gitxp_result_readers: TensorBoard event files"),
}


def describe() -> list[str]:
    """One line per integration: module, what it provides, and whether its framework is installed."""
    from importlib.metadata import PackageNotFoundError, version

    lines = []
    for module, (dist, _name, what) in INTEGRATIONS.items():
        try:
            state = f"{dist} {version(dist)}"
        except PackageNotFoundError:
            state = f"{dist} not installed: pip install 'gitxp[{module.rsplit('.', 1)[1]}]'"
        lines.append(f"{module} (integration, {state}): {what}")
    return lines


def active_run(experiment: str | None = None, params: Mapping[str, Any] | None = None) -> tuple[Run, bool]:
    """(the current run with ``params`` added, False), or (a new run, True): made current, and ended when the
    process exits unless the integration ends it first."""
    from gitxp.errors import GitxpError
    from gitxp.run import current, start

    try:
        run = current()
        if run.status != "running":
            raise GitxpError("ended")
    except GitxpError:
        run = start(experiment, {k: plain(v) for k, v in (params or {}).items()})
        run.__enter__()  # current() finds it; it is ended (finished/failed) when the interpreter exits
        return run, True
    if params:
        add_params(run, params)
    return run, False


def add_params(run: Run, params: Mapping[str, Any]) -> None:
    """Add params the run does not have yet (values given from outside -- ``gitxp run -p``, sweeps -- win)."""
    from gitxp.store.values import flatten

    flat = flatten({k: plain(v) for k, v in params.items()}, what="param")
    new = {k: v for k, v in flat.items() if k not in run.params and v is not None}
    if new:
        run.add_params(new)


def plain(value: Any) -> Any:
    """A value a param can hold: plain data as is (mappings nested), anything else (an estimator, a callable,
    a dtype) as its ``str``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        return (
            items if all(v is None or isinstance(v, (bool, int, float, str)) for v in items) else str(value)
        )
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return value.item()
    return str(value)


def end_run(run: Run, status: str = "finished") -> None:
    """End a run an integration started (and make it no longer current)."""
    if run.status != "running":
        return
    if status == "finished":
        run.__exit__(None, None, None)
    else:
        run.end(status)
        run.__exit__(None, None, None)
