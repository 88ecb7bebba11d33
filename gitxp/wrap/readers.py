"""Built-in result readers: how results reach gitxp from a command that does not use the gitxp API.

- ``stdout``: lines ``gitxp: name=value [name=value ...]`` are results; with ``step=N`` they are curve points
  instead. Studio.ml's ``fitness: X`` is the result ``fitness``.
- ``metric_files``: HyperTrainer-style files in ``$GITXP_OUTPUT_DIR``: ``metric_<name>.log`` (TSV
  ``epoch<TAB>value``) becomes the curve ``name``; ``metric_classwise_<name>.log`` (``epoch`` then one column per
  class, with an optional header naming the classes) becomes one curve per class, ``name/<class>``; the last
  line of ``progress.log`` becomes ``meta.progress``.
- ``tensorboard`` (gitxp.integrations.tensorboard): scalars in TensorBoard event files under the output dir.

A reader is created per run; ``line(run, text)`` sees every stdout line as it arrives and ``finish(run)`` runs
after the command exits.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gitxp.hookspecs import hookimpl
from gitxp.space import parse_value

if TYPE_CHECKING:
    from gitxp.run import Run

__all__ = ["ResultReader", "StdoutReader", "MetricFileReader", "RegexReader", "compile_parse"]

_GITXP_LINE = re.compile(r"^\s*gitxp:\s*(.+?)\s*$")
_FITNESS_LINE = re.compile(r"^\s*fitness:\s*(\S+)\s*$")


class ResultReader(Protocol):
    def line(self, run: Run, text: str) -> None: ...

    def finish(self, run: Run) -> None: ...


class StdoutReader:
    def line(self, run: Run, text: str) -> None:
        match = _GITXP_LINE.match(text)
        if match:
            try:
                tokens = shlex.split(match.group(1))
            except ValueError:
                tokens = match.group(1).split()
            values: dict[str, Any] = {}
            for token in tokens:
                name, sep, raw = token.partition("=")
                if sep and name:
                    values[name] = parse_value(raw)
            if "step" in values and isinstance(values["step"], int):
                step = values.pop("step")
                points = {k: float(v) for k, v in values.items() if _is_number(v)}
                if points:
                    run.log(points, step=step)
            elif values:
                run.result(values)
            return
        match = _FITNESS_LINE.match(text)
        if match:
            value = parse_value(match.group(1))
            if _is_number(value):
                run.result(fitness=float(value))

    def finish(self, run: Run) -> None:
        pass


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class RegexReader:
    """``gitxp run --parse REGEX``: stdout lines matching REGEX become curve points (a named group ``step``
    gives the step; every other named group is a metric) or, without a ``step`` group, results.

    ``--parse 'epoch (?P<step>\\d+) val_acc: (?P<val_acc>[\\d.]+)'`` reads Studio-style ``epoch 3 val_acc: 0.9``."""

    def __init__(self, pattern: str) -> None:
        self.pattern = compile_parse(pattern)

    def line(self, run: Run, text: str) -> None:
        match = self.pattern.search(text)
        if match is None:
            return
        groups = {k: parse_value(v) for k, v in match.groupdict().items() if v is not None}
        step = groups.pop("step", None)
        values = {k: float(v) for k, v in groups.items() if _is_number(v)}
        if not values:
            return
        if isinstance(step, int):
            run.log(values, step=step)
        elif isinstance(step, float) and step.is_integer():
            run.log(values, step=int(step))
        else:
            run.result(values)

    def finish(self, run: Run) -> None:
        pass


def compile_parse(pattern: str) -> re.Pattern[str]:
    """Check a ``--parse`` REGEX up front: valid, with at least one named group that is not ``step``."""
    from gitxp.errors import UsageError

    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise UsageError(f"--parse {pattern!r}: not a regular expression: {error}") from None
    if not set(compiled.groupindex) - {"step"}:
        raise UsageError(
            f"--parse {pattern!r}: name the values to read with named groups, e.g. "
            "'epoch (?P<step>\\d+) val_acc: (?P<val_acc>[0-9.]+)'"
        )
    return compiled


def parsed_names(patterns: Iterable[str]) -> list[str]:
    """The result names ``--parse`` patterns read (their named groups but ``step``), in order."""
    names = [name for pattern in patterns for name in compile_parse(pattern).groupindex if name != "step"]
    return list(dict.fromkeys(names))


class MetricFileReader:
    """HyperTrainer's ``metric_<name>.log`` files, read while the command runs (``poll``, every half second:
    curves show up live and feed a pruner) and once more when it ends; ``progress.log``'s last line as meta."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}  # file -> bytes consumed (complete lines only)
        self.counts: dict[str, int] = {}  # file -> lines consumed (the step of a one-column line)

    def line(self, run: Run, text: str) -> None:
        pass

    @staticmethod
    def folders(run: Run) -> list[Path]:
        """Where the files are: the run's output dir, and the ``training.output_path`` of a HyperTrainer
        config (``--config``) when that is another folder."""
        folders = [run.output_dir]
        other = run.meta().get("config.output_path")
        if isinstance(other, str) and other:
            path = Path(other) if Path(other).is_absolute() else Path(run.meta().get("cwd") or ".") / other
            if path.resolve() != run.output_dir.resolve():
                folders.append(path)
        return folders

    def poll(self, run: Run) -> None:
        for folder in self.folders(run):
            for path in sorted(folder.glob("metric_*.log")):
                if path.name.startswith(_CLASSWISE):  # read whole when the command ends
                    continue
                self._read(run, path)

    def _read(self, run: Run, path: Path) -> None:
        name, key = path.stem[len("metric_") :], str(path)
        try:
            with open(path, "rb") as handle:
                handle.seek(self.offsets.get(key, 0))
                data = handle.read()
        except OSError:
            return
        complete, _, _ = data.rpartition(b"\n")
        if not complete:
            return
        self.offsets[key] = self.offsets.get(key, 0) + len(complete) + 1
        for raw in complete.decode(errors="replace").splitlines():
            number = self.counts.get(key, 0)
            self.counts[key] = number + 1
            point = _metric_point(raw, number)
            if point is not None:
                run.log({name: point[1]}, step=point[0])

    def finish(self, run: Run) -> None:
        self.poll(run)
        for folder in self.folders(run):
            for path in sorted(folder.glob(_CLASSWISE + "*.log")):
                _read_classwise(run, path, path.stem[len(_CLASSWISE) :])
            for path in sorted(folder.glob("metric_*.log")):  # a last line without a newline
                if path.name.startswith(_CLASSWISE):
                    continue
                name, key = path.stem[len("metric_") :], str(path)
                try:
                    tail = path.read_bytes()[self.offsets.get(key, 0) :].decode(errors="replace").strip()
                except OSError:
                    continue
                point = _metric_point(tail, self.counts.get(key, 0)) if tail else None
                if point is not None:
                    run.log({name: point[1]}, step=point[0])
            progress = folder / "progress.log"
            if progress.exists():
                lines = [line for line in progress.read_text(errors="replace").splitlines() if line.strip()]
                if lines:
                    run.meta(progress=lines[-1].strip())


_CLASSWISE = "metric_classwise_"


def _read_classwise(run: Run, path: Any, name: str) -> None:
    """``epoch<TAB>c0<TAB>c1...`` -> curves ``name/c0``, ``name/c1``; a header row names the classes."""
    classes: list[str] | None = None
    for raw in path.read_text(errors="replace").splitlines():
        parts = [part.strip() for part in (raw.split("\t") if "\t" in raw else raw.split())]
        if len(parts) < 2 or not parts[0]:
            continue
        try:
            step = int(float(parts[0]))
            values = [float(part) if part else math.nan for part in parts[1:]]
        except ValueError:
            if classes is None:
                classes = parts[1:]  # the header: epoch, then one name per class
            continue
        names = classes if classes and len(classes) == len(values) else [str(i) for i in range(len(values))]
        points = {f"{name}/{label}": value for label, value in zip(names, values) if not math.isnan(value)}
        if points:
            run.log(points, step=step)


def _metric_point(raw: str, number: int) -> tuple[int, float] | None:
    """``epoch<TAB>value`` (or one value: the line number is the step); None for a header or a blank line."""
    parts = raw.split("\t") if "\t" in raw else raw.split()
    if not parts or not parts[0].strip():
        return None
    try:
        if len(parts) > 1:
            step, value = float(parts[0]), float(parts[1])
        else:
            step, value = float(number), float(parts[0])
    except ValueError:
        return None  # a header line
    if not math.isfinite(step):
        return None
    return int(step), value


@hookimpl
def gitxp_result_readers(register: Callable[[str, Any], None]) -> None:
    register("stdout", StdoutReader)
    register("metric_files", MetricFileReader)
