"""PyTorch Lightning: ``GitxpLogger``, a real ``lightning.pytorch.loggers.Logger``.

>>> trainer = lightning.Trainer(logger=GitxpLogger(), max_epochs=3)   # doctest: +SKIP

Hyper-parameters (``save_hyperparameters()`` / ``log_hyperparams``) become params, every ``self.log(...)`` a curve
point at the trainer's global step, and saved checkpoints artifacts (``checkpoints/<file>``). It records into the
current gitxp run (the wrapper's under ``gitxp run``), or starts one that it ends when training ends.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from gitxp.integrations import active_run, add_params, end_run

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["GitxpLogger"]


class GitxpLogger(Logger):
    def __init__(self, experiment: str | None = None, *, log_checkpoints: bool = True) -> None:
        super().__init__()
        self._experiment_name = experiment
        self._log_checkpoints = log_checkpoints
        self._run: Run | None = None
        self._owns_run = False
        self._logged: set[str] = set()

    @property
    def run(self) -> Run:
        if self._run is None:
            self._run, self._owns_run = active_run(self._experiment_name)
        return self._run

    @property
    def experiment(self) -> Run:
        return self.run

    @property
    def name(self) -> str:
        return self.run.experiment

    @property
    def version(self) -> str:
        return self.run.id

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        values = vars(params) if isinstance(params, Namespace) else dict(params or {})
        add_params(self.run, values)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        values = {}
        for key, value in metrics.items():
            try:
                values[key] = float(value.item() if hasattr(value, "item") else value)
            except (TypeError, ValueError):
                continue
        if values:
            self.run.log(values, step=step)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if not self._log_checkpoints:
            return
        for attr in ("best_model_path", "last_model_path"):
            path = getattr(checkpoint_callback, attr, "") or ""
            if path and Path(path).is_file():
                self.run.log_artifact(path, name=f"checkpoints/{Path(path).name}")
                self._logged.add(path)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is not None and self._owns_run:
            end_run(self._run, "finished" if status == "success" else "failed")
