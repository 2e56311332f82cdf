"""The overview's warmer (see ``shopscope.ui.warmup``).

Until the KPI service exists, it runs the page's own code under the page's own cache keys
(``web-options``, ``web-overview`` per language, and through them ``kpis`` and
``summary``), so the first visit after a load is a cache hit. Once the service lands, this
calls the service with the page's default parameters instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopscope.kpis.pages import build_overview, shop_options
from shopscope.ui.filters import parse_filters
from shopscope.ui.i18n import LANGS, Translator, region_of_timezone

if TYPE_CHECKING:
    from shopscope.ui.deps import AppState


def overview_page(state: AppState) -> None:
    """``/`` without filters, in every language (the view holds formatted text)."""
    options = state.cached(("web-options",), lambda: shop_options(state.workspace.store))
    filters, _ = parse_filters({}, options)
    region = region_of_timezone(state.workspace.settings.timezone)
    for lang in LANGS:
        t = Translator(lang, region)
        state.cached(("web-overview", t.lang, filters),
                     lambda t=t: build_overview(state, t, filters, options))
