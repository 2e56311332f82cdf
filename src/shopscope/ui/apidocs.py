"""The API documentation page (/docs, Swagger UI) served with no network.

FastAPI's own pages load Swagger UI and ReDoc (and Google Fonts) from CDNs, so they are blank
on an offline machine. Here the assets come from the installed ``fastapi-offline`` package
under a versioned URL, and the page starts them from a static script so that a CSP with
``script-src 'self'`` holds (no inline script). ReDoc is not offered: its sidebar always
loads a logo from its vendor's CDN; /redoc leads to /docs.
"""

from __future__ import annotations

from html import escape
from importlib.metadata import version
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
#: A new release of the assets gets a new URL, so browsers never mix versions.
ASSETS_URL = f"/assets/apidocs-{version('fastapi-offline')}"
DOCS_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Swagger UI sets inline styles and draws icons from data: URLs.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="icon" type="image/png" href="{ASSETS_URL}/favicon.png">
{head}
</head>
<body>
{body}
</body>
</html>
"""
    return HTMLResponse(html, headers=DOCS_HEADERS)


def mount(app: FastAPI, init_script: str) -> None:
    """Serve /docs from local assets; ``init_script`` is the URL of the static script that
    starts Swagger UI (it reads the OpenAPI URL from the page)."""
    openapi = escape(app.openapi_url or "/openapi.json")
    title = escape(app.title)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="apidocs")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(
            f"{title} API · Swagger UI",
            f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">',
            f'<div id="swagger-ui" data-openapi="{openapi}"></div>\n'
            f'<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{init_script}"></script>')

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> RedirectResponse:
        return RedirectResponse("/docs", status_code=308)
