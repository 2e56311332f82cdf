"""Sign in, sign out and the language switch.

The login form has no session yet, so its CSRF protection is a signed double-submit
token: GET /login sets a random nonce in an HttpOnly, SameSite=Strict cookie scoped to
/login and puts HMAC(server secret, nonce) in a hidden field; POST /login accepts only
when the field is the HMAC of the cookie's nonce. A cross-site form can neither read the
cookie nor make the browser send it, and an attacker who plants a cookie (from a sibling
subdomain, say) cannot compute the matching field: an equal pair of their choosing fails.
Sign-out and the language switch are POST forms carrying the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopscope.ui.deps import SESSION_COOKIE, ApiError, State, current_session
from shopscope.ui.http_auth import client_of, login_user, start_session
from shopscope.ui.i18n import LANGS, Translator, normalize_lang
from shopscope.ui.pagedeps import (
    PageSession,
    login_url,
    render,
    safe_next,
    same_token,
    translator_for,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

LOGIN_CSRF_COOKIE = "ss_login_csrf"
LOGIN_CSRF_SECONDS = 3600


def _login_nonce(request: Request) -> str:
    """The pending login form's nonce: the cookie's if it looks like ours, else a new one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if 30 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return secrets.token_urlsafe(32)


def login_form_token(state, nonce: str) -> str:
    """The hidden field that goes with ``nonce``: HMAC-SHA256 under the workspace secret."""
    key = state.users.secret("login-csrf")
    return hmac.new(key, b"login-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def _login_page(request: Request, state, t: Translator, *, next_url: str,
                username: str = "", message: str = "", notice: str = "",
                status_code: int = 200) -> HTMLResponse:
    token = _login_nonce(request)
    response = render(request, "login.html", t, status_code=status_code,
                      login_csrf=login_form_token(state, token), next_url=next_url,
                      username=username, message=message, notice=notice,
                      lang_links={code: login_url(next_url, lang=code) for code in LANGS})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=LOGIN_CSRF_SECONDS, httponly=True,
                        secure=state.cookie_secure, samesite="strict", path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, state: State, next: str | None = None,
               bye: int = 0) -> Response:
    """The sign-in form (already signed in: straight to ``next``)."""
    target = safe_next(next)
    if current_session(request, state) is not None:
        return RedirectResponse(target, status_code=303)
    t = translator_for(request)
    return _login_page(request, state, t, next_url=target,
                       notice=t("login.signed_out") if bye else "")


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    state: State,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
    lang: str = Form(""),
) -> Response:
    """Check the CSRF token, then the password (rate limited), then start a session."""
    target = safe_next(next)
    t = Translator(normalize_lang(lang)) if lang else translator_for(request)
    name = username.strip()[:100]
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not nonce or not same_token(csrf, login_form_token(state, nonce)):
        return _login_page(request, state, t, next_url=target, username=name,
                           message=t("login.csrf"), status_code=403)
    if not name or not password:
        return _login_page(request, state, t, next_url=target, username=name,
                           message=t("login.missing"), status_code=400)
    try:
        user = login_user(state, name, password[:1000], client_of(request))
    except ApiError as exc:
        key = "login.rate_limited" if exc.status == 429 else "login.bad_credentials"
        return _login_page(request, state, t, next_url=target, username=name,
                           message=t(key), status_code=exc.status)
    response = RedirectResponse(target, status_code=303)
    start_session(state, user, response)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _refused(request: Request, session, t: Translator, message: str) -> HTMLResponse:
    return render(request, "error.html", t, session=session, status_code=403,
                  title=t("error.title"), message=message)


@router.post("/logout")
def logout(request: Request, state: State, session: PageSession,
           csrf: str = Form("")) -> Response:
    """End the session; refused without the session's CSRF token."""
    if not same_token(csrf, session.csrf):
        t = translator_for(request, session)
        return _refused(request, session, t, t("error.csrf"))
    state.users.end_session(request.cookies.get(SESSION_COOKIE))
    # The sign-in page after sign-out stays in the user's language.
    lang = normalize_lang(session.user.lang)
    response = RedirectResponse(login_url(bye="1", lang=lang), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
def set_language(request: Request, state: State, session: PageSession,
                 lang: str = Form(""), csrf: str = Form(""), next: str = Form("/")
                 ) -> Response:
    """Store the user's language and go back to the page the switch was on."""
    t = translator_for(request, session)
    if not same_token(csrf, session.csrf):
        return _refused(request, session, t, t("error.csrf"))
    if lang not in LANGS:
        return _refused(request, session, t, t("error.bad_lang"))
    state.users.set_lang(session.user.username, lang)
    return RedirectResponse(safe_next(next), status_code=303)
