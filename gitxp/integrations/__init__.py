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

__all__ = ["active_run", "add_params", "plain", "numbers", "end_run", "RunHolder", "INTEGRATIONS", "describe"]

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


def numbers(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of a framework's logs that are numbers (its scalars and one-element tensors included), as
    floats; the others are left out."""
    out: dict[str, float] = {}
    for key, value in values.items():
        try:
            out[key] = float(value.item() if hasattr(value, "item") else value)
        except (TypeError, ValueError):
            continue
    return out


def end_run(run: Run, status: str = "finished") -> None:
    """End a run an integration started (and make it no longer current)."""
    if run.status != "running":
        return
    if status == "finished":
        run.__exit__(None, None, None)
    else:
        run.end(status)
        run.__exit__(None, None, None)


class RunHolder:
    """The run a framework callback records into: the current gitxp run, or one it starts on first use (named
    after ``_experiment_name``) and ends with :meth:`end_own_run` -- never a run it did not start."""

    _experiment_name: str | None = None
    _run: Run | None = None
    _owns_run: bool = False

    @property
    def run(self) -> Run:
        """The run this callback records into (found, or started, on first use)."""
        if self._run is None:
            self._run, self._owns_run = active_run(self._experiment_name)
        return self._run

    def end_own_run(self, status: str = "finished") -> None:
        """End the run if this callback started it (one it found is its owner's to end)."""
        if self._run is not None and self._owns_run:
            end_run(self._run, status)
