"""Shared state and dependencies: the workspace, its lock and cache, the signed-in user."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from shopscope.auth import Role, Session, User, UserStore
from shopscope.errors import ShopscopeError
from shopscope.store import Workspace
from shopscope.ui.priority import background_thread
from shopscope.ui.respcache import SESSION_COOKIE, ResponseStore
from shopscope.ui.warmup import Warmup

log = logging.getLogger(__name__)

CSRF_HEADER = "x-csrf-token"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class ApiError(ShopscopeError):
    """An error with an HTTP status; the body is ``{code, message, hint}``."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


def size_of(value: Any, _seen: set[int] | None = None, _depth: int = 0) -> int:
    """An estimate of the bytes ``value`` holds: frames and arrays by their buffers,
    containers and plain objects by walking them (each object counted once)."""
    import sys

    import numpy as np
    import pandas as pd

    seen = _seen if _seen is not None else set()
    if id(value) in seen or _depth > 12:
        return 0
    seen.add(id(value))
    if isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        usage = value.memory_usage(deep=True, index=True)
        return int(usage.sum() if hasattr(usage, "sum") else usage)
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    size = sys.getsizeof(value, 64)
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return size
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    elif hasattr(value, "__dict__"):
        items = list(vars(value).values())
    else:
        items = []
    return size + sum(size_of(v, seen, _depth + 1) for v in items)


def _cache_budget() -> int:
    import os

    raw = os.environ.get("SHOPSCOPE_CACHE_MB", "").strip()
    return (int(raw) if raw.isdigit() else 256) << 20


def cache_key(*parts: Any) -> str:
    """A fixed-size key for any parameters: SHA-256 of their canonical ``repr``, so a
    large definition is not kept twice (once as the key) and keys cost 64 bytes each."""
    import hashlib

    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class AppState:
    """One workspace served: its store (used under a lock), users and a result cache.

    The cache is keyed by the store's data version, which every ingestion changes, so a
    load invalidates every cached result at once. Served (the app's lifespan calls
    :meth:`watch_version`), a background thread reads that version every
    ``version_seconds`` and requests only look at the last one read. ``responses`` holds
    the encoded answers of the endpoints marked with :func:`shopscope.ui.respcache.
    cached_response`, under the same version. Keys are hashes of the parameters
    (:func:`cache_key`); the cache holds at most ``cache_size`` results and
    ``cache_bytes`` bytes (``$SHOPSCOPE_CACHE_MB``, default 256 MiB; estimated by
    :func:`size_of`), least recently used first out; a result larger than the whole
    budget is returned but not kept.
    """

    workspace: Workspace
    users: UserStore
    cookie_secure: bool = True
    #: the server process (``shopscope serve``): misses run at background priority
    serving: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    cache: OrderedDict = field(default_factory=OrderedDict)
    cache_size: int = 256
    cache_bytes: int = field(default_factory=_cache_budget)
    cache_used: int = 0
    _sizes: dict = field(default_factory=dict)
    _version: tuple[float, str] = (0.0, "")
    version_seconds: float = 1.0
    _watcher: threading.Thread | None = None
    _stop_watching: threading.Event = field(default_factory=threading.Event)
    _busy: int = 0  # requests inside the app; changed by the event loop only
    _reading: threading.Lock = field(default_factory=threading.Lock)  # the watcher asks
    responses: ResponseStore = field(default_factory=ResponseStore)
    _pseudonym_key: str | None = None
    warmup: Warmup = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # recomputes the pages' default views after a load (started by the app's lifespan)
        self.warmup = Warmup(self, freeze=self.serving)

    @property
    def store(self):
        return self.workspace.store

    @property
    def pseudonym_key(self) -> str:
        """The workspace's secret for customer pseudonyms (:func:`shopscope.privacy.
        public_id`), kept in auth.sqlite so that pseudonyms survive restarts."""
        if self._pseudonym_key is None:
            self._pseudonym_key = self.users.secret("pseudonym").hex()
        return self._pseudonym_key

    def protect_key(self, user: User) -> str | None:
        """The pseudonym key for what ``user`` sees: None (raw ids) for admins."""
        return None if user.can("admin") else self.pseudonym_key

    def data_version(self) -> str:
        import time

        if self._watcher is not None and self._version[1]:
            return self._version[1]  # the watcher keeps it fresh: no query on the way
        # Asking the store is a query; once a second is plenty for a dashboard. While a
        # query holds the store, the last known version serves (a load through this app
        # takes the same lock, so it cannot be missed for longer than that query).
        if time.monotonic() - self._version[0] > 1.0:
            return self.refresh_version(blocking=not self._version[1])
        return self._version[1]

    def refresh_version(self, blocking: bool = True) -> str:
        """Read the data version now (a load through this app calls it, so that the
        warm-up starts at once); a new version starts the warm-up (:mod:`.warmup`).
        Without ``blocking``, the last known version serves while the store is busy."""
        import time

        if not self.lock.acquire(blocking=blocking):
            return self._version[1]
        old = self._version[1]
        try:
            self._version = (time.monotonic(), self.workspace.store.data_version())
        finally:
            self.lock.release()
        if old and self._version[1] != old:  # a load, here or by another process
            self.warmup.data_changed()
        return self._version[1]

    def known_version(self) -> str | None:
        """The version the watcher read last, without ever waiting; None when no watcher
        runs (then no response is cached, see :mod:`shopscope.ui.respcache`)."""
        return (self._version[1] or None) if self._watcher is not None else None

    def watch_version(self) -> None:
        """Read the data version now, then every ``version_seconds`` on a thread of its
        own: the store query (~10-25 ms) leaves the request path. A reading is skipped
        while a query holds the store, as before; loads through this app refresh at once.
        The same thread notices other processes' changes to sign-ins (see
        :meth:`shopscope.auth.UserStore.check_sessions`)."""
        self.refresh_version()
        if self._watcher is None:
            self._stop_watching.clear()
            self._watcher = threading.Thread(target=self._watch, name="shopscope-version",
                                             daemon=True)
            self._watcher.start()

    async def request_started(self) -> None:
        """Count a request going into the app, after waiting while the watcher reads the
        version. Pages and services touch the store outside :attr:`lock` too (building
        expressions, probing sources) and the engine's connection is not safe across
        threads, so the watcher asks only while no request is inside; a request that
        arrives meanwhile waits for that one query (milliseconds, once a second at most).
        Cache hits of :mod:`shopscope.ui.respcache` never get here."""
        import asyncio

        while True:
            self._busy += 1  # first count, then look: see _watch for the other half
            if not self._reading.locked():
                return
            self._busy -= 1
            await asyncio.sleep(0.001)

    def request_done(self) -> None:
        self._busy -= 1

    def stop_watching(self, timeout: float = 10.0) -> None:
        self._stop_watching.set()
        if self._watcher is not None:
            self._watcher.join(timeout)
        self._watcher = None

    def _watch(self) -> None:
        import time

        from shopscope.auth import AUTH_CHECK_SECONDS

        due = time.monotonic() + self.version_seconds
        while not self._stop_watching.wait(min(AUTH_CHECK_SECONDS, self.version_seconds)):
            try:
                self.users.check_sessions()  # sign-outs and revocations by other processes
                if time.monotonic() >= due and self._reading.acquire(blocking=False):
                    try:  # first lock, then look: no request can enter while it reads
                        if not self._busy:  # else try again at the next tick
                            due = time.monotonic() + self.version_seconds
                            self.refresh_version(blocking=False)
                    finally:
                        self._reading.release()
            except Exception:  # a closed store at shutdown: keep going until stopped
                log.debug("data version check failed", exc_info=True)

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value for ``key`` at the current data version. A hit never waits
        for the store: only misses take the store lock, the cache has its own."""
        full = cache_key(self.data_version(), key)
        with self._cache_lock:
            if full in self.cache:
                self.cache.move_to_end(full)
                return self.cache[full]
        if self.serving:
            background_thread()  # a miss runs a query: after the cached answers
        with self.lock:
            with self._cache_lock:  # another thread may have computed it meanwhile
                if full in self.cache:
                    return self.cache[full]
            value = compute()
        size = size_of(value)
        if size > self.cache_bytes:
            return value
        with self._cache_lock:
            self._drop(full)
            self.cache[full] = value
            self._sizes[full] = size
            self.cache_used += size
            while self.cache and (len(self.cache) > self.cache_size
                                  or self.cache_used > self.cache_bytes):
                self._drop(next(iter(self.cache)))
        return value

    def _drop(self, key: str) -> None:
        self.cache.pop(key, None)
        self.cache_used -= self._sizes.pop(key, 0)


def get_state(request: Request) -> AppState:
    return request.app.state.shopscope


State = Annotated[AppState, Depends(get_state)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def current_session(request: Request, state: State) -> Session | None:
    return state.users.session(request.cookies.get(SESSION_COOKIE))


def current_user(request: Request, state: State) -> User:
    """The user of a bearer token or a session cookie; 401 otherwise.

    Cookie-authenticated requests that change something must carry the session's CSRF
    token in the ``X-CSRF-Token`` header; token requests need none. (Dashboard forms check
    their own form field, see ``shopscope.ui.pagedeps``.)
    """
    token = _bearer(request)
    if token:
        user = state.users.token_user(token)
        if user is None:
            raise ApiError(401, "invalid_token", "the API token is unknown or revoked",
                           "create a token with POST /api/tokens or `shopscope token create`")
        return user
    session = current_session(request, state)
    if session is None:
        raise ApiError(401, "not_authenticated", "sign in first",
                       "POST /api/login, or send Authorization: Bearer <token>")
    if request.method in UNSAFE and request.headers.get(CSRF_HEADER) != session.csrf:
        raise ApiError(403, "csrf", "missing or wrong CSRF token",
                       "send the X-CSRF-Token header returned by /api/login")
    return session.user


CurrentUser = Annotated[User, Depends(current_user)]


def require(role: Role) -> Callable[[User], User]:
    """A dependency that lets through users of at least ``role``."""

    def check(user: CurrentUser) -> User:
        if not user.can(role):
            raise ApiError(403, "forbidden", f"this needs the {role} role",
                           "ask an admin to change your role")
        return user

    return check


def download(frame, fmt: str, name: str):
    """A whole table as a CSV or Parquet attachment (CSV text cells that a spreadsheet
    would run as formulas are neutralised, see :mod:`shopscope.safety`)."""
    import io

    from fastapi import Response

    from shopscope.safety import csv_text

    if fmt == "csv":
        return Response(csv_text(frame), media_type="text/csv",
                        headers={"content-disposition": f"attachment; filename={name}.csv"})
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return Response(buf.getvalue(), media_type="application/vnd.apache.parquet",
                    headers={"content-disposition": f"attachment; filename={name}.parquet"})
