"""Shared state and dependencies: the workspace, its lock and cache, the signed-in user."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from shopscope.auth import Role, Session, User, UserStore
from shopscope.errors import ShopscopeError
from shopscope.store import Workspace

SESSION_COOKIE = "ss_session"
CSRF_HEADER = "x-csrf-token"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class ApiError(ShopscopeError):
    """An error with an HTTP status; the body is ``{code, message, hint}``."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


@dataclass
class AppState:
    """One workspace served: its store (used under a lock), users and a result cache.

    The cache is keyed by the store's data version, which every ingestion changes, so a
    load invalidates every cached result at once.
    """

    workspace: Workspace
    users: UserStore
    cookie_secure: bool = True
    lock: threading.RLock = field(default_factory=threading.RLock)
    cache: OrderedDict = field(default_factory=OrderedDict)
    cache_size: int = 256
    _version: tuple[float, str] = (0.0, "")

    def data_version(self) -> str:
        import time

        # Asking the store is a query; once a second is plenty for a dashboard.
        now = time.monotonic()
        if now - self._version[0] > 1.0:
            with self.lock:
                self._version = (now, self.workspace.store.data_version())
        return self._version[1]

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        full = (self.data_version(), key)
        if full in self.cache:
            self.cache.move_to_end(full)
            return self.cache[full]
        with self.lock:
            value = compute()
        self.cache[full] = value
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return value


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
    their own form field, see ``shopscope.web``.)
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


def download(frame, fmt: str, name: str):  # noqa: ANN001, ANN201
    """A whole table as a CSV or Parquet attachment."""
    import io

    from fastapi import Response

    if fmt == "csv":
        return Response(frame.to_csv(index=False), media_type="text/csv",
                        headers={"content-disposition": f"attachment; filename={name}.csv"})
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return Response(buf.getvalue(), media_type="application/vnd.apache.parquet",
                    headers={"content-disposition": f"attachment; filename={name}.parquet"})
