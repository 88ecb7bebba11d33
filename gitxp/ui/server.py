"""The dashboard's web app: static pages plus JSON views under ``/api/``, behind one error boundary.

Every ``/api`` view returns JSON; a bad query parameter (or a gitxp usage error such as an unknown column in
``where``) is a 400 with ``{"reason": ...}``, an unknown run a 404, anything else a logged 500 with a reason:
never a traceback page. Static files are served by Starlette's ``StaticFiles`` from the package's ``static/``
directory only (it refuses paths that leave it). A Content-Security-Policy forbids inline and foreign scripts, so
even a value that slipped through escaping could not run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gitxp.errors import GitxpError, RunNotFoundError, UsageError
from gitxp.ui.api import Dashboard

if TYPE_CHECKING:
    from gitxp.store import Store

__all__ = ["create_app", "STATIC"]

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("gitxp.ui")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=HEADERS)


def _view(fn: Callable[[Dashboard, Request], Any], board: Dashboard) -> Callable[[Request], Response]:
    """One endpoint wrapped in the error boundary: ``fn``'s data is sent as JSON unless it is a Response."""

    def endpoint(request: Request) -> Response:
        try:
            answer = fn(board, request)
            return answer if isinstance(answer, Response) else _json(answer)
        except RunNotFoundError as error:
            return _json({"reason": str(error)}, 404)
        except UsageError as error:
            return _json({"reason": str(error)}, 400)
        except GitxpError as error:
            log.warning("gitxp ui: %s: %s", request.url.path, error)
            return _json({"reason": str(error)}, 500)
        except Exception as error:  # noqa: BLE001 - the boundary: log it, answer with a reason
            log.exception("gitxp ui: %s failed", request.url.path)
            return _json({"reason": f"internal error: {type(error).__name__}: {error}"}, 500)

    return endpoint


def _image(board: Dashboard, request: Request) -> Response:
    """An image artifact; SVG is sandboxed by its own policy, so a script inside it never runs."""
    data, kind = board.artifact(request.path_params["run_id"], request.path_params["name"])
    return Response(data, media_type=kind, headers={**HEADERS, "Content-Security-Policy": IMAGE_CSP})


def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


def _not_found(request: Request) -> Response:
    return _json({"reason": f"no such API view: {request.url.path}"}, 404)


def create_app(store: Store, show: str = "visible") -> Starlette:
    """The dashboard app for one store (read-only); ``show="archived"`` lists archived runs too."""
    board = Dashboard(store, show)
    views: dict[str, Callable[[Dashboard, Request], Any]] = {
        "/api/experiments": lambda b, r: b.experiments(),
        "/api/runs": lambda b, r: b.runs(r.query_params),
        "/api/run/{run_id}": lambda b, r: b.run(r.path_params["run_id"], r.query_params),
        "/api/curves": lambda b, r: b.curves(r.query_params),
        "/api/sweep": lambda b, r: b.sweep(r.query_params),
        "/api/importance": lambda b, r: b.importance(r.query_params),
        "/api/compare": lambda b, r: b.compare(r.query_params),
        "/api/info": lambda b, r: {
            "repo": str(store.repo.worktree or store.repo.git_dir),
            "errors": b.errors,
        },
    }
    routes: list[Any] = [Route(path, _view(fn, board)) for path, fn in views.items()]
    routes += [
        Route("/api/artifact/{run_id}/{name:path}", _view(_image, board)),
        Route("/api/{rest:path}", _not_found),
        Route("/", _index),
        Mount("/static", app=StaticFiles(directory=str(STATIC), follow_symlink=False), name="static"),
    ]
    import contextlib
    from collections.abc import AsyncIterator

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:  # the server stops (SIGINT, SIGTERM): background computations stop now, not when done
            board.stop_background()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.dashboard = board
    return app
