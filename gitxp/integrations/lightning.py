"""PyTorch Lightning: ``GitxpLogger``, a real ``lightning.pytorch.loggers.Logger``.

>>> trainer = lightning.Trainer(logger=GitxpLogger(), max_epochs=3)   # doctest: +SKIP

Hyper-parameters (``save_hyperparameters()`` / ``log_hyperparams``) become params, every ``self.log(...)`` a curve
point at the trainer's global step, and saved checkpoints artifacts (``checkpoints/<file>``). It records into the
current gitxp run (the wrapper's under ``gitxp run``), or starts one that it ends when training ends.

Checkpoints are written into the run's output directory (``.git/gitxp/outputs/<run>/...``, never the working tree,
which would make every later run "dirty"), unless the ``ModelCheckpoint`` has its own ``dirpath``. The checkpoints
recorded as artifacts are the ones Lightning keeps (``save_top_k``, ``save_last``): taken when training ends, not
one per save (those Lightning deleted are not kept either).
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from gitxp.integrations import RunHolder, add_params, numbers

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["GitxpLogger"]


class GitxpLogger(Logger, RunHolder):
    def __init__(self, experiment: str | None = None, *, log_checkpoints: bool = True) -> None:
        super().__init__()
        self._experiment_name = experiment
        self._log_checkpoints = log_checkpoints
        self._logged: set[str] = set()
        self._callbacks: list[Any] = []

    @property
    def experiment(self) -> Run:
        return self.run

    @property
    def name(self) -> str:
        return self.run.experiment

    @property
    def version(self) -> str:
        return self.run.id

    @property
    def save_dir(self) -> str:
        """Where Lightning puts checkpoints when ``ModelCheckpoint`` has no ``dirpath``
        (``<save_dir>/<name>/<version>/checkpoints``): the run's output directory, not the working tree."""
        return str(self.run.output_dir)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        values = vars(params) if isinstance(params, Namespace) else dict(params or {})
        add_params(self.run, values)

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        values = numbers(metrics)
        if values:
            self.run.log(values, step=step)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_checkpoints and checkpoint_callback not in self._callbacks:
            self._callbacks.append(checkpoint_callback)  # its files are recorded when training ends

    def _record_checkpoints(self) -> None:
        """The checkpoint files Lightning kept (its top-k, last and best), as artifacts."""
        for callback in self._callbacks:
            kept = set(getattr(callback, "best_k_models", None) or {})
            kept |= {getattr(callback, a, "") or "" for a in ("best_model_path", "last_model_path")}
            for path in sorted(
                p for p in map(str, kept) if p and p not in self._logged and Path(p).is_file()
            ):
                self.run.log_artifact(path, name=f"checkpoints/{Path(path).name}")
                self._logged.add(path)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._record_checkpoints()
        self.end_own_run("finished" if status == "success" else "failed")
