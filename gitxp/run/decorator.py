"""``@gitxp.experiment``: record every call of a function as a run."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, overload

from gitxp.run.core import start
from gitxp.run.entrypoint import for_function
from gitxp.run.setup import parse_metric
from gitxp.store.values import to_float

F = TypeVar("F", bound=Callable[..., Any])


@overload
def experiment(fn: F, /) -> F: ...
@overload
def experiment(
    *,
    name: str | None = None,
    metric: str | None = None,
    exclude: tuple[str, ...] = (),
    git: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> Callable[[F], F]: ...
def experiment(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    metric: str | None = None,
    exclude: tuple[str, ...] | list[str] = (),
    git: bool = True,
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> F | Callable[[F], F]:
    """Record every call of the decorated function as a run.

    Params are the function's arguments with defaults filled in (``exclude`` leaves some out, e.g. a dataset); a
    returned mapping becomes the results, a returned number becomes the result named by ``metric`` (or
    ``result``). The return value and any exception pass through unchanged. ``inputs``: data files or
    directories the function reads, recorded with their size and content hash (see ``Run.input``).
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        metric_name = (parse_metric(metric) or ("result", "max"))[0]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            params: dict[str, Any] = {}
            for pname, value in bound.arguments.items():
                if pname in exclude:
                    continue
                kind = signature.parameters[pname].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    params.update(value)
                elif kind is inspect.Parameter.VAR_POSITIONAL:
                    params[pname] = list(value)
                else:
                    params[pname] = value
            with start(name, params, metric=metric, git=git, meta=for_function(func)) as run:
                for path in inputs:
                    run.input(path)
                for pname, value in run.params.items():  # values given from outside (gitxp run / rerun) win
                    parameter = signature.parameters.get(pname)
                    if parameter is not None and parameter.kind not in (
                        inspect.Parameter.VAR_KEYWORD,
                        inspect.Parameter.VAR_POSITIONAL,
                    ):
                        bound.arguments[pname] = value
                out = func(*bound.args, **bound.kwargs)
                if isinstance(out, Mapping):
                    run.result(out)
                elif isinstance(out, (int, float)) and not isinstance(out, bool) or hasattr(out, "item"):
                    try:
                        run.result({metric_name: to_float(out, key=metric_name)})
                    except TypeError:
                        pass
                return out

        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
