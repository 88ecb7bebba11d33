"""The objective: ``NAME:min|max|last``, and how a run's value for it is found.

A run reports a result directly (``run.result(valid_acc=0.9)``, ``gitxp: valid_acc=0.9``) or only logs a curve.
When the objective's name is only a curve, the run's summary is computed from it and stored under a name that
says how: ``valid_mse.min`` (best step), ``valid_mse.max`` or ``valid_mse.last`` -- never under the plain curve
name, which would pass a minimum off as a final value. Every reader of an objective (sweeps, compare, ``ls --by``,
the search history) goes through :func:`lookup` / :func:`column`, which take the plain result first and the
curve summary second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError, unknown_name

__all__ = [
    "GOALS",
    "parse",
    "summary_name",
    "lookup",
    "column",
    "result_names",
    "check_known",
    "guess_goal",
    "pareto_front",
    "from_script",
]

GOALS = ("min", "max", "last")

# Result names whose direction is unambiguous; anything else is not ranked without an explicit goal.
_HIGHER = ("fitness", "acc", "accuracy", "auc", "f1", "score", "precision", "recall", "r2", "reward")
_LOWER = ("loss", "error", "err", "mse", "mae", "rmse", "regret", "perplexity", "latency")


def parse(text: str, *, option: str = "--metric", default: str = "max") -> tuple[str, str]:
    """``"acc:max"`` -> ``("acc", "max")``; a bare name takes ``default``; a bad goal is a usage error."""
    name, sep, goal = text.strip().rpartition(":")
    if not sep:
        name, goal = text.strip(), default
    if not name or goal not in GOALS:
        raise UsageError(f"{option} {text!r}: expected NAME, NAME:min, NAME:max or NAME:last")
    return name.removeprefix("results."), goal


def summary_name(name: str, goal: str) -> str:
    """The result name of a summary computed from the curve ``name``: ``valid_mse.min``."""
    return f"{name}.{goal}"


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def lookup(results: Mapping[str, Any], name: str, goal: str) -> float | None:
    """A run's finite numeric value for the objective: the result ``name``, else its curve summary."""
    if name in results:
        return _number(results[name])
    return _number(results.get(summary_name(name, goal)))


def column(name: str, goal: str, columns: Sequence[str]) -> str | None:
    """The ``results.*`` column holding the objective in a run table (plain result first), or None."""
    for candidate in (f"results.{name}", f"results.{summary_name(name, goal)}"):
        if candidate in columns:
            return candidate
    return None


def result_names(columns: Iterable[str]) -> list[str]:
    """The result names of a run table's columns (``results.valid_acc`` -> ``valid_acc``)."""
    return [c[len("results.") :] for c in columns if c.startswith("results.")]


def check_known(name: str, goal: str, columns: Sequence[str], *, option: str = "--metric") -> str:
    """The objective's column, or a usage error that says which result names exist (did you mean ...?)."""
    found = column(name, goal, columns)
    if found is None:
        raise unknown_name("metric", name, result_names(columns), where=f"{option}: ")
    return found


def guess_goal(name: str) -> str | None:
    """``max`` for names like fitness/accuracy, ``min`` for loss/error; None when the name does not say."""
    base = name.rsplit(".", 1)[0].lower()
    words = base.replace("-", "_").split("_")
    if words[-1] in _LOWER or base.endswith(_LOWER):
        return "min"
    if words[-1] in _HIGHER or base.endswith(_HIGHER):
        return "max"
    return None


def _dominates(a: Sequence[float], b: Sequence[float], goals: Sequence[str]) -> bool:
    better = False
    for x, y, goal in zip(a, b, goals):
        if (x > y) if goal == "min" else (x < y):
            return False
        if x != y:
            better = True
    return better


def pareto_front(points: Sequence[tuple[Any, Sequence[float]]], goals: Sequence[str]) -> list[Any]:
    """The items whose values no other item dominates (at least as good on every objective, better on one), in
    the order given. Two objectives: one sort and a sweep (O(n log n)); more: pairwise."""
    if len(goals) != 2:
        return [item for item, values in points if not any(_dominates(v, values, goals) for _, v in points)]
    sign = [1.0 if goal == "min" else -1.0 for goal in goals]
    keyed = sorted(
        ((sign[0] * v[0], sign[1] * v[1]), i) for i, (_, v) in enumerate(points)
    )  # both minimised now
    keep: set[int] = set()
    best = math.inf  # the lowest second value of the distinct points before the current group
    start = 0
    while start < len(keyed):
        end = start
        while end < len(keyed) and keyed[end][0] == keyed[start][0]:
            end += 1  # a group of equal points: none dominates another
        second = keyed[start][0][1]
        if not best <= second:
            keep.update(i for _, i in keyed[start:end])
        best = min(best, second)
        start = end
    return [item for i, (item, _) in enumerate(points) if i in keep]


def from_script(argv: Sequence[str], cwd: Path | None = None) -> tuple[tuple[str, str], str] | None:
    """The objective a wrapped Python script already names, read from its source before it runs: the
    ``metric=`` of its ``@gitxp.experiment(...)``/``gitxp.start(...)`` (one, or none is taken), else ``fitness:max``
    when it prints Studio.ml's ``fitness:`` lines. Returns ``((name, goal), where it was found)`` or None."""
    import ast

    script = next(
        (Path(cwd or ".", arg) for arg in argv if arg.endswith(".py") and Path(cwd or ".", arg).is_file()),
        None,
    )
    if script is None:
        return None
    try:
        tree = ast.parse(script.read_text(errors="replace"))
    except (SyntaxError, ValueError, OSError):
        return None
    named: set[str] = set()
    fitness = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("experiment", "start"):
                for keyword in node.keywords:
                    if keyword.arg == "metric" and isinstance(keyword.value, ast.Constant):
                        if isinstance(keyword.value.value, str):
                            named.add(keyword.value.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            fitness = fitness or node.value.lstrip().startswith("fitness:")
    if len(named) == 1:
        text = named.pop()
        call = "@gitxp.experiment/gitxp.start"
        try:
            return parse(text, option=f"{script.name}'s metric=", default="max"), f"{script.name}'s {call}"
        except UsageError:
            return None
    if not named and fitness:
        return ("fitness", "max"), f"{script.name} prints Studio's 'fitness:' lines"
    return None
