"""Cached API responses: the encoded bytes of a GET, replayed without running the endpoint.

A hit of the result cache (:meth:`shopscope.ui.deps.AppState.cached`) still runs the
endpoint: dependencies resolved on the thread pool, response models built, validated and
serialised; for ``/api/kpis?grain=month`` (500 rows) that is about 10 ms of CPU a request.
Endpoints marked with :func:`cached_response` are answered by :class:`ResponseCache`, an
ASGI middleware, from the bytes of an earlier answer instead, on the event loop, without
the thread pool or the store lock.

- Key: the data version, the path and query string as sent, and the user's role and
  language. Only endpoints whose answer depends on nothing else may be marked: not on the
  user's name (``/api/me``, ``/api/tokens``), saved definitions (audiences, experiments),
  the warm-up's progress or other state a load does not change.
- Who the user is comes from the in-memory session and token cache of
  :class:`shopscope.auth.UserStore`; unknown or invalid credentials go to the endpoint,
  which answers 401 as before. Only 200 answers without ``Set-Cookie`` are kept, so an
  answer a role may not see (403) is never stored.
- Every kept answer carries a strong ``ETag`` (a hash of its bytes); a request whose
  ``If-None-Match`` names it gets ``304 Not Modified`` without a body.
- Bounded: ``$SHOPSCOPE_RESPONSE_CACHE_MB`` (default 64 MiB) and 512 answers, least
  recently used out; one answer larger than a quarter of the budget is not kept. A new
  data version empties it.
- Misses run the endpoint unchanged, so its response model still validates what it
  returns and the OpenAPI schema does not change.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from shopscope.auth import User
    from shopscope.ui.deps import AppState

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__shopscope_cached_response__"
BUDGET_ENV = "SHOPSCOPE_RESPONSE_CACHE_MB"
SESSION_COOKIE = "ss_session"  # re-exported by shopscope.ui.deps


def cached_response(endpoint: F) -> F:
    """Mark a GET endpoint whose answer is a function of its URL, the data version and the
    user's role and language (see the module's docstring); put it below ``@router.get``."""
    setattr(endpoint, MARK, True)
    return endpoint


def _budget() -> int:
    raw = os.environ.get(BUDGET_ENV, "").strip()
    return (int(raw) if raw.isdigit() else 64) << 20


@dataclass(frozen=True)
class Entry:
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


Key = tuple[str, bytes, str, str]


class ResponseStore:
    """The kept answers of one data version, least recently used first out."""

    def __init__(self, max_bytes: int | None = None, max_entries: int = 512) -> None:
        self.max_bytes = _budget() if max_bytes is None else max_bytes
        self.max_entries = max_entries
        self.version: str | None = None
        self.entries: OrderedDict[Key, Entry] = OrderedDict()
        self.used = 0
        self._lock = threading.Lock()

    def get(self, version: str, key: Key) -> Entry | None:
        with self._lock:
            if version != self.version:  # a load: every kept answer is out of date
                self.entries.clear()
                self.used = 0
                self.version = version
                return None
            entry = self.entries.get(key)
            if entry is not None:
                self.entries.move_to_end(key)
            return entry

    def put(self, version: str, key: Key, entry: Entry) -> bool:
        """Keep ``entry``, computed at ``version``; False when it is not kept (too large, or
        the version moved on meanwhile)."""
        size = entry.size
        if size > self.max_bytes // 4:
            return False
        with self._lock:
            if version != self.version:
                return False
            old = self.entries.pop(key, None)
            if old is not None:
                self.used -= old.size
            self.entries[key] = entry
            self.used += size
            while self.entries and (len(self.entries) > self.max_entries
                                    or self.used > self.max_bytes):
                _, dropped = self.entries.popitem(last=False)
                self.used -= dropped.size
            return True

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.used = 0


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value
    return None


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    """RFC 9110 13.1.2: weak comparison, ``*`` matches any current answer."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(b",")]
    return b"*" in tags or etag in (t[2:] if t.startswith(b"W/") else t for t in tags)


async def _answer(send: Send, entry: Entry, not_modified: bool) -> None:
    if not_modified:
        await send({"type": "http.response.start", "status": 304,
                    "headers": [(b"etag", entry.etag)]})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
    await send({"type": "http.response.body", "body": entry.body})


class ResponseCache:
    """ASGI middleware answering marked GET endpoints from :class:`ResponseStore`."""

    def __init__(self, app: ASGIApp, state: AppState, max_paths: int = 1024) -> None:
        self.app = app
        self.state = state
        self.max_paths = max_paths
        self._paths: OrderedDict[str, bool] = OrderedDict()  # path -> marked endpoint?

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("method") != "GET" or not scope.get("path", "").startswith("/api/"):
            await self._run(scope, receive, send)
            return
        path = scope["path"]  # before routing, which may rewrite it
        version = self.state.known_version()
        marked = self._paths.get(path)  # None: not seen yet, the router will say
        if version is None or marked is False:
            await self._run(scope, receive, send)
            return
        user = await self._user(scope)
        key: Key | None = None
        wanted: bytes | None = None
        if user is not None:  # else the endpoint answers 401
            key = (path, scope.get("query_string", b""), user.role, user.lang)
            wanted = _header(scope, b"if-none-match")
            entry = self.state.responses.get(version, key)
            if entry is not None:
                await _answer(send, entry, _matches(wanted, entry.etag))
                return
        if key is None:
            await self._run(scope, receive, send)
        else:
            await self._fill(scope, receive, send, version, key, wanted)
        if marked is None:
            self._learn(path, scope)

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, counted as a request that may use the store (see
        :meth:`shopscope.ui.deps.AppState.request_started`)."""
        await self.state.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.request_done()

    def _learn(self, path: str, scope: Scope) -> None:
        # Routing fills in the scope's endpoint; asking the router beforehand would mean
        # walking FastAPI's nested routers, which are not public API.
        if "endpoint" not in scope:  # not routed (404, refused early): ask again next time
            return
        self._paths[path] = bool(getattr(scope["endpoint"], MARK, False))
        while len(self._paths) > self.max_paths:
            self._paths.popitem(last=False)

    async def _user(self, scope: Scope) -> User | None:
        """The user as :func:`shopscope.ui.deps.current_user` finds them (a bearer token
        first, else the session cookie), from memory when possible."""
        users = self.state.users
        auth = (_header(scope, b"authorization") or b"").decode("latin-1")
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            if token:
                return users.known_token_user(token) or await run_in_threadpool(
                    users.token_user, token)
        cookie = _header(scope, b"cookie")
        sid = cookie_parser(cookie.decode("latin-1")).get(SESSION_COOKIE) if cookie else None
        if not sid:
            return None
        session = users.known_session(sid) or await run_in_threadpool(users.session, sid)
        return session.user if session is not None else None

    async def _fill(self, scope: Scope, receive: Receive, send: Send, version: str, key: Key,
                    wanted: bytes | None) -> None:
        """Run the endpoint; keep a complete 200 answer and send it with its ETag."""
        store = self.state.responses
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not kept: messages go straight through

        async def capture(message: Message) -> None:
            nonlocal start, size, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                headers = message.get("headers") or []
                if (message["status"] != 200 or not getattr(scope.get("endpoint"), MARK, False)
                        or any(k.lower() == b"set-cookie" for k, _ in headers)):
                    passing = True
                    await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if message.get("more_body", False):
                if size > store.max_bytes // 4:  # too large to keep: stream the rest
                    passing = True
                    await send(start)
                    await send({"type": "http.response.body", "body": b"".join(chunks),
                                "more_body": True})
                    chunks.clear()
                return
            body = b"".join(chunks)
            etag = etag_of(body)
            headers = (*((k, v) for k, v in start.get("headers") or []
                          if k.lower() != b"etag"), (b"etag", etag))
            entry = Entry(headers, body, etag)
            # kept only if no load happened while it was computed (it may show either)
            if self.state.known_version() == version:
                store.put(version, key, entry)
            await _answer(send, entry, _matches(wanted, etag))

        await self._run(scope, receive, capture)
