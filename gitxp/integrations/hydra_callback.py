"""The Hydra callback gitxp adds to a Hydra app run under ``gitxp run``: the composed config (defaults, config
groups and overrides resolved; the ``hydra`` node left out) becomes the run's params when the job starts."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback

__all__ = ["GitxpHydraCallback"]


class GitxpHydraCallback(Callback):
    def on_job_start(self, config: Any, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        from gitxp.integrations import active_run

        job = OmegaConf.masked_copy(config, [str(k) for k in config if k != "hydra"])
        try:
            composed = OmegaConf.to_container(job, resolve=True)
        except Exception:  # an interpolation only Hydra's runtime can resolve: record it as written
            composed = OmegaConf.to_container(job, resolve=False)
        assert isinstance(composed, dict)
        active_run(None, {str(k): v for k, v in composed.items()})
