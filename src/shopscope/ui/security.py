"""ASGI middleware every response goes through: a bound on request bodies and the
security headers (on JSON, errors and downloads too, not only on dashboard pages).

Pure ASGI rather than ``BaseHTTPMiddleware``: the body bound must count bytes as they
stream in, before anything buffers a 200 MiB body in memory.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: JSON bodies of this API are small (a login, an audience definition); 1 MiB is plenty.
DEFAULT_MAX_BODY = 1 << 20
MAX_BODY_ENV = "SHOPSCOPE_MAX_BODY_BYTES"

API_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
# JSON and files load nothing; HTML pages set their own policy (see shopscope.ui.pagedeps).
NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'"


def max_body_bytes(value: int | None = None) -> int:
    """``value``, else ``$SHOPSCOPE_MAX_BODY_BYTES``, else 1 MiB."""
    if value is not None:
        return int(value)
    raw = os.environ.get(MAX_BODY_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BODY


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit:,} bytes")


class NulInBody(HTTPException):
    def __init__(self) -> None:
        super().__init__(422, "the request body contains a NUL character (\\u0000)")


# A NUL reaches the engine's SQL as a string terminator (DuckDB fails to parse it); no
# shop text has one, so it is refused at the door, in bodies, paths and query strings.
_NULS = (b"\x00", b"\\u0000")


def _error(limit: int) -> bytes:
    return json.dumps({"error": {
        "code": "body_too_large", "message": f"request body larger than {limit:,} bytes",
        "hint": f"send less data (the server's bound is set by ${MAX_BODY_ENV})"}}).encode()


UPLOAD_ENV = "SHOPSCOPE_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 200
#: Where files are uploaded (the data area: shopscope.data.uploads): their own bound.
UPLOAD_PATHS = ("/api/data/uploads", "/data/upload")


def max_upload_bytes(value: int | None = None) -> int:
    """``value``, else ``$SHOPSCOPE_MAX_UPLOAD_MB`` megabytes, else 200 MB."""
    if value is not None:
        return int(value)
    raw = os.environ.get(UPLOAD_ENV, "").strip()
    mb = int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_UPLOAD_MB
    return mb * 1_000_000


def _upload_error(limit: int) -> bytes:
    mb = f"{limit / 1e6:,.0f} MB" if limit >= 1_000_000 else f"{limit:,} bytes"
    return json.dumps({"error": {
        "code": "upload_too_large", "message": f"the file is larger than the upload limit "
        f"of {mb}",
        "hint": f"load it with `shopscope ingest` on the server, or raise the limit "
                f"(${UPLOAD_ENV})"}}).encode()


class BodyLimit:
    """413 for a declared ``Content-Length`` over the bound, and for a streamed body that
    grows past it (chunked uploads declare no length). File uploads (``upload_paths``) have
    their own bound, ``upload_bytes``, and may hold NUL bytes (gzip, Excel, Parquet)."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY,
                 upload_bytes: int | None = None, upload_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("path", "") in self.upload_paths
        limit = self.upload_bytes if upload else self.max_bytes
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            await self._refuse(send, limit, upload)
            return
        seen = 0
        started = False
        tail = b""

        async def counted() -> Message:
            nonlocal seen, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > limit:
                    raise BodyTooLarge(limit)
                window = tail + chunk  # an escape may straddle two chunks
                if not upload and any(n in window for n in _NULS):
                    raise NulInBody
                tail = window[-5:]
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        problem = _url_problem(scope)
        if problem:
            # Pages answer with an HTML page in the user's language (the dashboard installs
            # the hook); the API, and anything without the hook, with the JSON error.
            app = scope.get("app")
            hook = getattr(getattr(app, "state", None), "page_url_error", None)
            if hook is not None and hook.serves(scope.get("path", "")):
                await hook(scope, *problem)(scope, receive, send)
                return
            await _send_error(send, 422, "invalid_request", problem[0],
                              "remove control characters and keep dates in 1900..2199")
            return
        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send, limit, upload)
        except NulInBody as exc:
            if started:
                raise
            await _send_error(send, 422, "invalid_request", exc.detail,
                              "remove NUL characters from the data sent")

    @staticmethod
    async def _refuse(send: Send, limit: int, upload: bool = False) -> None:
        body = _upload_error(limit) if upload else _error(limit)
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}([T ].*)?$")
#: Dates the API accepts in query parameters: the store's time range (see
#: :data:`shopscope.store.engine.TIME_RANGE`); 0001-01-01 or 9999-12-31 only overflow.
MIN_YEAR, MAX_YEAR = 1900, 2199


def _url_problem(scope: Scope) -> tuple[str, str, dict[str, str]] | None:
    """Why the path or query cannot be served (NUL/control characters, absurd dates): the
    English message, and a message key with its values for pages in the user's language."""
    path = scope.get("path", "")
    if any(ord(c) < 32 for c in path):
        return "the URL path contains a control character", "error.url_control", {}
    query = scope.get("query_string", b"")
    if not query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in value or "\x00" in name:
            return f"{name}: contains a NUL character", "error.url_nul", {"name": name}
        m = _DATE.match(value)
        if m and not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
            return ((f"{name}: {value[:10]} is outside the dates shopscope handles "
                    f"({MIN_YEAR}-01-01 .. {MAX_YEAR}-12-31)"), "error.url_date",
                    {"name": name, "value": value[:10]})
    return None


async def _send_error(send: Send, status: int, code: str, message: str, hint: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "hint": hint}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Adds the security headers to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                for name, value in API_HEADERS.items():
                    if name.encode() not in present and not (static and name == "cache-control"):
                        headers.append((name.encode(), value.encode()))
                ctype = dict(headers).get(b"content-type", b"")
                if b"content-security-policy" not in present and b"text/html" not in ctype:
                    headers.append((b"content-security-policy", NON_HTML_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add)
