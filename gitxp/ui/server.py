"""The dashboard's web app: static pages plus JSON views under ``/api/``, behind one error boundary.

Every ``/api`` view returns JSON; a bad query parameter (or a gitxp usage error such as an unknown column in
``where``) is a 400 with ``{"reason": ...}``, an unknown run a 404, anything else a logged 500 with a reason:
never a traceback page. Static files are served by Starlette's ``StaticFiles`` from the package's ``static/``
directory only (it refuses paths that leave it). A Content-Security-Policy forbids inline and foreign scripts, so
even a value that slipped through escaping could not run.

Two guards stand before every request:

- **Host** (DNS rebinding): only requests whose ``Host`` header names loopback (``127.0.0.1``, ``localhost``,
  ``[::1]``), the address given with ``--host``, or a name allowed with ``--allow-host`` are answered (400
  otherwise). A page of ``evil.example`` whose name an attacker re-points at 127.0.0.1 sends ``Host:
  evil.example``, so it reads nothing.
- **Edits** (tag, note, archive from the run page) are ``POST``s under ``/api/edit/``, each needing the session
  token the served page carries (a ``<meta name="gitxp-token">`` of ``index.html``, a new random one per server)
  in an ``X-Gitxp-Token`` header, a JSON body, and, when the browser says where it comes from, a same-origin
  ``Origin``/``Sec-Fetch-Site``. A cross-site form can set neither the header nor a JSON type without a CORS
  preflight, which the server never grants. Every ``GET`` stays free of side effects.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gitxp.errors import GitxpError, RunNotFoundError, UsageError
from gitxp.ui.api import Dashboard

if TYPE_CHECKING:
    from gitxp.store import Store

__all__ = ["create_app", "allowed_hosts", "STATIC"]

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


LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The ``Host`` names the dashboard answers: loopback, the bound address (unless a wildcard) and ``extra``."""
    names = {*LOOPBACK, *(name.strip().lower().strip("[]") for name in extra if name.strip())}
    if bind.strip("[]") not in WILDCARD:
        names.add(bind.strip("[]").lower())
    return frozenset(names)


def _host_name(header: str) -> str:
    """``Host`` without its port: ``[::1]:8765`` -> ``::1``, ``localhost:80`` -> ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _HostGuard:
    """ASGI middleware: a request whose ``Host`` is not allowed gets a 400 with a reason, and nothing else."""

    def __init__(self, app: Any, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if _host_name(header) not in self.hosts:
                reason = f"host {header!r} is not served (gitxp ui answers {', '.join(sorted(self.hosts))})"
                response = _json({"reason": reason}, 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _index_with(token: str) -> Callable[[Request], Response]:
    page = (STATIC / "index.html").read_text()
    page = page.replace("<head>", f'<head>\n<meta name="gitxp-token" content="{token}">', 1)

    def index(request: Request) -> Response:
        return Response(page, media_type="text/html", headers=HEADERS)

    return index


def _same_origin(request: Request) -> str | None:
    """Why a state-changing request is refused (None: it may go on)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
            return f"cross-origin request refused (Origin: {origin})"
    return None


def _editor(board: Dashboard, token: str) -> Callable[[Request], Any]:
    """``POST /api/edit/{action}``: tag/untag/note/archive/unarchive one run, after the checks above."""

    async def endpoint(request: Request) -> Response:
        if request.method != "POST":
            return _json({"reason": "edits are POST requests"}, 405)
        refused = _same_origin(request)
        if refused is None and not hmac.compare_digest(request.headers.get("x-gitxp-token", ""), token):
            refused = "missing or wrong X-Gitxp-Token (reload the page)"
        if (
            refused is None
            and request.headers.get("content-type", "").split(";")[0].strip() != "application/json"
        ):
            refused = "edits are sent as application/json"
        if refused is not None:
            return _json({"reason": refused}, 403)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _json({"reason": "the body is not JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"reason": "the body must be a JSON object"}, 400)
        action = request.path_params["action"]
        return _view(lambda b, r: b.edit(action, body), board)(request)

    return endpoint


def _not_found(request: Request) -> Response:
    return _json({"reason": f"no such API view: {request.url.path}"}, 404)


def create_app(store: Store, show: str = "visible", hosts: Iterable[str] = LOOPBACK) -> Any:
    """The dashboard app for one store; ``show="archived"`` lists archived runs too. ``hosts``: the ``Host``
    names it answers (see :func:`allowed_hosts`). Reads are GETs; the run page's edits go through
    ``POST /api/edit/...`` with the page's token."""
    board = Dashboard(store, show)
    token = secrets.token_urlsafe(32)
    views: dict[str, Callable[[Dashboard, Request], Any]] = {
        "/api/experiments": lambda b, r: b.experiments(),
        "/api/runs": lambda b, r: b.runs(r.query_params),
        "/api/run/{run_id}": lambda b, r: b.run(r.path_params["run_id"], r.query_params),
        "/api/curves": lambda b, r: b.curves(r.query_params),
        "/api/sweep": lambda b, r: b.sweep(r.query_params),
        "/api/importance": lambda b, r: b.importance(r.query_params),
        "/api/compare": lambda b, r: b.compare(r.query_params),
        "/api/compare_runs": lambda b, r: b.compare_runs(r.query_params),
        "/api/info": lambda b, r: {
            "repo": str(store.repo.worktree or store.repo.git_dir),
            "errors": b.errors,
        },
    }
    routes: list[Any] = [Route(path, _view(fn, board)) for path, fn in views.items()]
    routes += [
        Route("/api/artifact/{run_id}/{name:path}", _view(_image, board)),
        Route("/api/edit/{action}", _editor(board, token), methods=["GET", "POST"]),
        Route("/api/{rest:path}", _not_found),
        Route("/", _index_with(token)),
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
    app.state.token = token
    guarded = _HostGuard(app, frozenset(hosts))
    guarded.state = app.state  # type: ignore[attr-defined]  # tests reach the board through app.state
    return guarded
