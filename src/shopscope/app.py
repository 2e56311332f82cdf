"""The FastAPI application: one workspace, JSON API under /api, dashboard pages under /."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopscope import __version__
from shopscope.auth import AuthError, UserStore
from shopscope.errors import InputError, SchemaError, ShopscopeError, WorkspaceError
from shopscope.store import Workspace
from shopscope.ui.deps import ApiError, AppState
from shopscope.ui.priority import other_threads
from shopscope.ui.respcache import ResponseCache
from shopscope.ui.security import (
    UPLOAD_PATHS,
    BodyLimit,
    SecurityHeaders,
    max_body_bytes,
    max_upload_bytes,
)


def _status_of(exc: ShopscopeError) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.code
    if isinstance(exc, AuthError):
        return 401, "auth"
    if isinstance(exc, (SchemaError, InputError, ValueError)):
        return 422, "invalid"
    if isinstance(exc, WorkspaceError):
        return 500, "workspace"
    if isinstance(exc, LookupError):  # an unknown SKU, customer, audience, model
        return 404, "not_found"
    return 400, "error"


def error_body(code: str, message: str, hint: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "hint": hint}}


def create_app(workspace: str | Path | Workspace, *, cookie_secure: bool = True,
               max_body: int | None = None, max_upload: int | None = None,
               serving: bool = False) -> FastAPI:
    """Build the app serving ``workspace``.

    ``cookie_secure`` marks the session cookie Secure (browsers send it over HTTPS and to
    localhost); switch it off only behind a proxy that terminates TLS elsewhere.
    ``max_body`` bounds request bodies in bytes (default ``$SHOPSCOPE_MAX_BODY_BYTES`` or
    1 MiB); larger ones get 413. ``max_upload`` bounds file uploads on the data page
    (default ``$SHOPSCOPE_MAX_UPLOAD_MB`` megabytes or 200 MB). ``serving``: this process
    is the server (``shopscope serve``): threads that run queries go behind the event loop
    (:mod:`shopscope.ui.priority`) and the heap is frozen after each warm-up
    (:func:`shopscope.ui.warmup.freeze_heap`); off for apps embedded in other processes.
    """
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ws.store  # noqa: B018 - open the engine before the first request
        state.watch_version()  # the data version is read off the request path from now on
        state.warmup.enable()  # the pages' default views, now and after every load
        if serving:
            other_threads()  # engine workers, watcher, warm-up: behind the event loop
        yield
        state.warmup.stop()
        state.stop_watching()
        ws.close()

    app = FastAPI(
        title="shopscope",
        version=__version__,
        description="E-commerce operations analytics: KPIs, customers, behaviour, experiments.",
        lifespan=lifespan,
        docs_url=None,  # served by shopscope.ui.apidocs from local assets (no CDN)
        redoc_url=None,
    )
    app.state.shopscope = state = AppState(workspace=ws, users=UserStore(ws.path),
                                           cookie_secure=cookie_secure, serving=serving)

    def _page_error(request: Request, status: int, message: str, hint: str | None = None,
                    key: str | None = None) -> Response | None:
        # The dashboard installs ``page_error``: its pages answer with an HTML error page.
        hook = getattr(request.app.state, "page_url_error", None)
        if hook is None or not hook.serves(request.url.path):
            return None
        return request.app.state.page_error(request, status, message, hint, key)

    @app.exception_handler(ShopscopeError)
    async def _project_error(request: Request, exc: ShopscopeError) -> Response:
        status, code = _status_of(exc)
        page = _page_error(request, status, exc.message, exc.hint, f"error.code.{code}")
        if page is not None:
            return page
        return JSONResponse(error_body(code, exc.message, exc.hint), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
                422: "invalid_request"}.get(exc.status_code, "http_error")
        page = _page_error(request, exc.status_code, str(exc.detail))
        if page is not None:
            return page
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        page = _page_error(request, 422, f"{where}: {first.get('msg', 'invalid')}")
        if page is not None:
            return page
        return JSONResponse(
            error_body("invalid_request", f"{where}: {first.get('msg', 'invalid')}",
                       "see /docs for the parameters"),
            status_code=422,
        )

    from shopscope.core.registry import areas, resolve
    from shopscope.ui import http_auth, http_health, routes

    app.include_router(http_health.router)
    app.include_router(http_auth.router)
    for area in areas():
        for ref in area.api:
            app.include_router(resolve(ref))
    routes.mount(app)
    from shopscope.ui import apidocs

    apidocs.mount(app, init_script=f"/static/apidocs.js?v={__version__}")
    # Added last = outermost: the bound applies before any route reads a byte; cached
    # answers (innermost) get the security headers like any other.
    app.add_middleware(ResponseCache, state=state)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes(max_body),
                       upload_bytes=max_upload_bytes(max_upload), upload_paths=UPLOAD_PATHS)
    return app
