"""Mount the dashboard on the API app: page routers, static files, plotly.js, templates."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from shopscope import __version__
from shopscope.web import (
    account,
    audiences,
    behaviour,
    customers,
    data,
    experiments,
    overview,
)
from shopscope.web.deps import LoginRequired, login_required_redirect
from shopscope.web.errors import PageUrlError, error_page

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
#: The versioned URL of plotly.js: a new plotly release gets a new URL, so the file can be
#: cached for a year.
PLOTLY_URL = f"/assets/plotly-{plotly.__version__}.min.js"
LONG_CACHE = {"Cache-Control": "public, max-age=31536000, immutable",
              "X-Content-Type-Options": "nosniff"}


def _plotly_js() -> Response:
    if PLOTLY_JS.exists():
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=LONG_CACHE)
    from plotly.offline import get_plotlyjs  # pragma: no cover - older plotly layouts

    return Response(get_plotlyjs(), media_type="text/javascript", headers=LONG_CACHE)


def templates() -> Jinja2Templates:
    """The page templates, with the asset URLs as globals."""
    tpl = Jinja2Templates(directory=HERE / "templates")
    tpl.env.globals.update(
        plotly_url=PLOTLY_URL,
        static=lambda name: f"/static/{name}?v={__version__}",
    )
    return tpl


def mount(app: FastAPI) -> None:
    """Add the dashboard pages, static files and plotly.js to ``app``."""
    app.state.web_templates = templates()
    app.add_exception_handler(LoginRequired, login_required_redirect)  # type: ignore[arg-type]
    # Errors on pages (not /api/…) become HTML error pages in the user's language.
    app.state.page_error = error_page
    app.state.page_url_error = PageUrlError()
    app.add_api_route(PLOTLY_URL, _plotly_js, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (account, overview, data, customers, audiences, behaviour, experiments):
        app.include_router(module.router)
