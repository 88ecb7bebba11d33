"""Hugging Face ``transformers``: ``GitxpCallback``, a ``TrainerCallback``.

>>> Trainer(model, args, train_dataset=ds, callbacks=[GitxpCallback()])   # doctest: +SKIP

The ``TrainingArguments`` (``learning_rate``, ``num_train_epochs``, ...) and the model's config (under ``model.``)
become params, every ``on_log`` a curve point at the global step, saved checkpoints artifacts
(``checkpoint-<step>/...``: the ones the Trainer kept when training ends, as ``save_total_limit`` says). It records
into the current gitxp run, or starts one and ends it after training. Without an ``output_dir`` of the user's, the
Trainer writes into the run's output directory (``.git/gitxp/outputs/<run>/trainer_output``), not the working tree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from gitxp.integrations import RunHolder, add_params

__all__ = ["GitxpCallback"]

_DEFAULT_OUTPUT_DIRS = {"trainer_output", "tmp_trainer"}  # TrainingArguments' defaults (5.x, 4.x)
_SKIP_ARGS = {"logging_dir", "output_dir", "hub_token", "push_to_hub_token", "report_to"}


class GitxpCallback(TrainerCallback, RunHolder):
    def __init__(self, experiment: str | None = None, *, log_checkpoints: bool = True) -> None:
        self._experiment_name = experiment
        self._log_checkpoints = log_checkpoints
        self._output_dir: Path | None = None
        self._logged: set[str] = set()

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        params = {k: v for k, v in args.to_sanitized_dict().items() if k not in _SKIP_ARGS}
        config = getattr(model, "config", None)
        if config is not None:
            params["model"] = {
                k: v for k, v in config.to_diff_dict().items() if isinstance(v, (bool, int, float, str))
            }
        add_params(self.run, params)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        values = {
            k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if values:
            self.run.log(values, step=state.global_step)

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """The Trainer's default ``output_dir`` (``trainer_output`` in the current directory, i.e. the working
        tree) becomes the run's output directory; an ``output_dir`` the user chose is kept."""
        old = str(getattr(args, "output_dir", None) or "")
        if not old or old in _DEFAULT_OUTPUT_DIRS:
            args.output_dir = str(self.run.output_dir / "trainer_output")
            logs = str(getattr(args, "logging_dir", None) or "")
            if old and logs.startswith(
                old + os.sep
            ):  # transformers 4: TensorBoard logs under output_dir/runs
                args.logging_dir = args.output_dir + logs[len(old) :]

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._log_checkpoints and state.is_world_process_zero:
            self._output_dir = Path(args.output_dir)  # its checkpoint folders are recorded when training ends

    def _record_checkpoints(self) -> None:
        """The ``checkpoint-<step>`` folders the Trainer kept (``save_total_limit`` deletes older ones), as
        artifacts: the ones still there when training ends."""
        if self._output_dir is None:
            return
        for folder in sorted(self._output_dir.glob("checkpoint-*")):
            if folder.is_dir() and folder.name not in self._logged:
                self.run.log_artifacts(folder, prefix=folder.name)
                self._logged.add(folder.name)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self._record_checkpoints()
        self.end_own_run()
