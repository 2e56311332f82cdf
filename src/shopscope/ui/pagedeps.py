"""What every page needs: the signed-in session (or a redirect to /login), CSRF checks,
safe redirect targets and rendering with the common context and security headers."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from shopscope import __version__
from shopscope.auth import Session
from shopscope.core.service import P, make
from shopscope.ui.deps import State, current_session
from shopscope.ui.i18n import (
    LANGS,
    NATIVE_NAME,
    Translator,
    normalize_lang,
    region_of_timezone,
)

# Pages hold shop figures: never cache them, never frame them, load nothing from elsewhere.
# Plotly sets inline styles, hence 'unsafe-inline' for styles only.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


class LoginRequired(Exception):
    """Raised by :func:`page_session` when nobody is signed in; becomes a redirect."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirects).

    Examples
    --------
    >>> safe_next("/data?page=2"), safe_next("//evil.example/"), safe_next("https://x.y/")
    ('/data?page=2', '/', '/')
    >>> safe_next("/\\\\evil.example"), safe_next(None, "/login")
    ('/', '/login')
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 32 for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_url: str | None = None, **params: str) -> str:
    query = [f"{k}={quote(v, safe='')}" for k, v in params.items() if v]
    if next_url and next_url != "/":
        query.insert(0, f"next={quote(next_url, safe='')}")
    return "/login" + ("?" + "&".join(query) if query else "")


def page_session(request: Request, state: State) -> Session:
    """The signed-in session; unauthenticated page requests go to /login?next=…."""
    session = current_session(request, state)
    if session is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(here))
    return session


PageSession = Annotated[Session, Depends(page_session)]


def login_required_redirect(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(login_url(exc.next_url), status_code=303,
                            headers={"Cache-Control": "no-store"})


def same_token(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a submitted CSRF token with the expected one."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode(), expected.encode())


def translator_for(request: Request, session: Session | None = None) -> Translator:
    """The user's language when signed in, else ``?lang=`` or the browser's preference;
    dates in the shop's region (its time zone's territory)."""
    region = region_of_timezone(request.app.state.shopscope.workspace.settings.timezone)
    if session is not None:
        return Translator(normalize_lang(session.user.lang), region)
    asked = request.query_params.get("lang")
    if asked:
        return Translator(normalize_lang(asked), region)
    return Translator(normalize_lang(request.headers.get("accept-language")), region)


def render(
    request: Request,
    template: str,
    t: Translator,
    *,
    session: Session | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with what the layout needs: translator, user, CSRF token, nav."""
    templates: Jinja2Templates = request.app.state.web_templates
    state = request.app.state.shopscope
    # Where the language switch returns to: this page, unless it answered a form post.
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        here = "/"
    base = {
        "t": t,
        "lang": t.lang,
        "html_lang": t.html_lang,
        "other_langs": [(code, NATIVE_NAME[code]) for code in LANGS if code != t.lang],
        "session": session,
        "user": session.user if session else None,
        "csrf": session.csrf if session else "",
        "here": here,
        "path": request.url.path,
        "version": __version__,
        "workspace_name": state.workspace.settings.name,
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def query_params(cls: type[P], query: Mapping[str, str], **extra: Any) -> P:
    """A service's parameters from a page's query string (empty values left out; a bad
    value is an :class:`~shopscope.errors.OptionError` naming it: the error page)."""
    fields = {k: v for k, v in query.items() if k in cls.model_fields and v != ""}
    return make(cls, **{**fields, **extra})
