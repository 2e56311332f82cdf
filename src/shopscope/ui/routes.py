"""Mount the dashboard on the API app: page routers, static files, plotly.js, templates."""

from __future__ import annotations

from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from shopscope import __version__
from shopscope.core.registry import areas, nav_items, resolve
from shopscope.ui import pages_account
from shopscope.ui.errors import PageUrlError, error_page
from shopscope.ui.i18n import install_jinja
from shopscope.ui.pagedeps import LoginRequired, login_required_redirect

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
    folders = [HERE / "templates", *(a.templates for a in areas() if a.templates)]
    tpl = Jinja2Templates(directory=folders)
    install_jinja(tpl.env)  # _(), ngettext and {% trans %} beside t('key')
    tpl.env.globals.update(
        nav_items=nav_items(),
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
    app.include_router(pages_account.router)
    for area in areas():
        for ref in area.pages:
            app.include_router(resolve(ref))
