"""Keras 3 (any backend): ``GitxpCallback``, a ``keras.callbacks.Callback``.

>>> model.fit(x, y, epochs=5, callbacks=[GitxpCallback()])   # doctest: +SKIP

``fit``'s settings (``epochs``, ``steps``) and the optimizer's config (under ``optimizer.``) become params, every
epoch's logs (``loss``, ``val_loss``, metrics) curve points at the epoch. It records into the current gitxp run, or
starts one and ends it after ``fit``.
"""

from __future__ import annotations

from typing import Any

import keras

from gitxp.integrations import RunHolder, add_params, numbers

__all__ = ["GitxpCallback"]


class GitxpCallback(keras.callbacks.Callback, RunHolder):
    def __init__(self, experiment: str | None = None) -> None:
        super().__init__()
        self._experiment_name = experiment

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        params: dict[str, Any] = {
            k: v for k, v in (self.params or {}).items() if k in ("epochs", "steps", "batch_size")
        }
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            config = optimizer.get_config()
            params["optimizer"] = {
                k: v for k, v in config.items() if isinstance(v, (bool, int, float, str)) and k != "name"
            } | {"name": type(optimizer).__name__}
        add_params(self.run, params)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        values = numbers(logs or {})
        if values:
            self.run.log(values, step=epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.end_own_run()
