"""TensorBoard logs as curves: scalars a command writes as TensorBoard event files under ``$GITXP_OUTPUT_DIR``
become the run's curves, so ``gitxp run --metric val/loss:min -- python train.py`` works on a script that only
uses ``SummaryWriter`` (PyTorch), ``tf.summary`` or Keras' ``TensorBoard`` callback.

A built-in result reader (``tensorboard``): importing this module is cheap; ``tbparse`` (and TensorBoard's own
event reader under it) is imported only when event files are found. A tag is its curve's name
(``train/loss``); a tag found in several log directories (Keras writes ``train/`` and ``validation/``) is
prefixed with the directory, relative to the output dir (``validation/epoch_loss``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.hookspecs import hookimpl

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["TensorBoardReader", "read_scalars"]

EVENT_GLOB = "events.out.tfevents.*"


def read_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar under ``folder`` (recursively) as curve name -> [(step, value), ...] in file order."""
    files = sorted(folder.rglob(EVENT_GLOB))
    if not files:
        return {}
    try:
        import numpy
        from tbparse import SummaryReader
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "TensorBoard event files found but tbparse is not installed: pip install 'gitxp[tensorboard]'"
        ) from error
    by_dir: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for directory in sorted({path.parent for path in files}):
        reader = SummaryReader(str(directory), event_types={"scalars", "tensors"})
        relative = directory.relative_to(folder).as_posix()
        for frame in (reader.scalars, reader.tensors):  # tf.summary v2 (Keras) writes scalars as 0-d tensors
            if frame is None or frame.empty:
                continue
            for step, tag, value in zip(frame["step"], frame["tag"], frame["value"]):
                try:
                    # event files hold float32: its shortest repr is the value written (0.9, not 0.8999999761)
                    number = float(str(numpy.float32(value))) if numpy.ndim(value) == 0 else None
                except (TypeError, ValueError):
                    number = None
                if number is None:
                    continue  # a non-scalar tensor
                by_dir[tag][relative].append((int(step), number))
    curves: dict[str, list[tuple[int, float]]] = {}
    for tag, dirs in by_dir.items():
        for relative, points in dirs.items():
            name = tag if len(dirs) == 1 or relative == "." else f"{relative}/{tag}"
            curves[name] = points
    return curves


class TensorBoardReader:
    """Reads TensorBoard event files under the run's output dir after the command exits."""

    def line(self, run: Run, text: str) -> None:
        pass

    def finish(self, run: Run) -> None:
        folder = run.output_dir
        if not folder.is_dir():
            return
        for name, points in read_scalars(folder).items():
            for step, value in points:
                run.log({name: value}, step=step)


@hookimpl
def gitxp_result_readers(register: Callable[[str, Any], None]) -> None:
    register("tensorboard", TensorBoardReader)
