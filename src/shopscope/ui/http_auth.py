"""Sign in and out (session cookie + CSRF token) and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from shopscope.auth import SESSION_SECONDS, AuthError, User
from shopscope.ui.deps import SESSION_COOKIE, ApiError, CurrentUser, State, require

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class LoginResponse(BaseModel):
    username: str
    role: str
    lang: str
    csrf_token: str


class Me(BaseModel):
    username: str
    role: str
    lang: str


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(BaseModel):
    id: int
    username: str
    name: str
    created_at: float
    revoked: bool


class NewToken(TokenOut):
    token: str = Field(description="shown once; store it safely")


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def start_session(state, user: User, response: Response) -> str:
    sid, session = state.users.create_session(user)
    response.set_cookie(SESSION_COOKIE, sid, max_age=SESSION_SECONDS, httponly=True,
                        secure=state.cookie_secure, samesite="strict", path="/")
    return session.csrf


def login_user(state, username: str, password: str, client: str) -> User:
    try:
        return state.users.authenticate(username, password, client)
    except AuthError as exc:
        if "too many" in exc.message:
            raise ApiError(429, "rate_limited", exc.message, exc.hint) from None
        raise ApiError(401, "bad_credentials", exc.message,
                       "check the user name and password") from None


@router.post("/api/login", response_model=LoginResponse)
def login(body: LoginRequest, request: Request, response: Response, state: State):
    """Sign in; sets an HttpOnly session cookie and returns the CSRF token to send as
    ``X-CSRF-Token`` on later POST/DELETE requests."""
    user = login_user(state, body.username, body.password, client_of(request))
    csrf = start_session(state, user, response)
    return LoginResponse(username=user.username, role=user.role, lang=user.lang, csrf_token=csrf)


@router.post("/api/logout", status_code=204)
def logout(request: Request, response: Response, state: State, user: CurrentUser) -> Response:
    state.users.end_session(request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/api/me", response_model=Me)
def me(user: CurrentUser):
    return Me(username=user.username, role=user.role, lang=user.lang)


@router.get("/api/tokens", response_model=list[TokenOut])
def list_tokens(state: State, user: CurrentUser):
    """Your tokens (admins see everyone's)."""
    owner = None if user.can("admin") else user.username
    return [TokenOut(**t.__dict__) for t in state.users.tokens(owner)]


@router.post("/api/tokens", response_model=NewToken, status_code=201,
             dependencies=[Depends(require("viewer"))])
def create_token(body: TokenRequest, state: State, user: CurrentUser):
    token, info = state.users.create_token(user.username, body.name)
    return NewToken(token=token, **info.__dict__)


@router.delete("/api/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, state: State, user: CurrentUser) -> Response:
    owner = None if user.can("admin") else user.username
    if not state.users.revoke_token(token_id, owner):
        raise ApiError(404, "not_found", f"no active token {token_id}", "see GET /api/tokens")
    return Response(status_code=204)
