"""Errors on pages are pages: an HTML error page in the user's language with the same
status the API would give (a bad date in a page URL: 422; a customer id that only admins
may open: 403). Paths of the API, its docs and static files keep their JSON errors."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.types import Scope

from shopscope.ui.deps import current_session
from shopscope.ui.pagedeps import render, translator_for

#: Paths that are not dashboard pages: their errors stay JSON.
NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/static/", "/assets/")


def is_page(path: str) -> bool:
    """True for a dashboard page path.

    >>> is_page("/"), is_page("/customers/x"), is_page("/api/kpis"), is_page("/docs")
    (True, True, False, False)
    """
    return path != "/api" and not path.startswith(NOT_PAGES)


def error_page(request: Request, status: int, message: str, hint: str | None = None,
               key: str | None = None, params: dict | None = None) -> HTMLResponse:
    """The error page; ``key`` (with ``params``) is the message in the catalogue, used
    instead of the English ``message`` when the catalogue has it."""
    session = current_session(request, request.app.state.shopscope)
    t = translator_for(request, session)
    text = message if key is None or t(key) == key else t(key, **(params or {}))
    if key is None and hint:
        text = f"{message}. {hint}" if not message.endswith(".") else f"{message} {hint}"
    title = t("error.title") if status in (401, 403) else t("error.invalid_title")
    return render(request, "error.html", t, session=session, status_code=status,
                  title=title, message=text)


class PageUrlError:
    """The hook :class:`~shopscope.ui.security.BodyLimit` calls for a page whose URL it
    refuses (a control character, a date outside 1900..2199)."""

    @staticmethod
    def serves(path: str) -> bool:
        return is_page(path)

    def __call__(self, scope: Scope, message: str, key: str,
                 params: dict[str, str]) -> HTMLResponse:
        return error_page(Request(scope), 422, message, key=key, params=params)
