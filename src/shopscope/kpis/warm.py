"""The overview's warmer (see ``shopscope.ui.warmup``): ``/`` without filters, in every
language, under the page's own cache keys, with the numbers from the KPI service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopscope.kpis import service
from shopscope.kpis.pages import build_overview, params_for
from shopscope.ui.filters import parse_filters
from shopscope.ui.i18n import LANGS, Translator, region_of_timezone

if TYPE_CHECKING:
    from shopscope.ui.deps import AppState


def overview_page(state: AppState) -> None:
    """``/`` without filters, in every language (the view holds formatted text)."""
    filters, _ = parse_filters({}, service.shop_options(state))
    currency = state.workspace.settings.currency
    region = region_of_timezone(state.workspace.settings.timezone)
    for lang in LANGS:
        t = Translator(lang, region)
        def build(t: Translator = t) -> dict:
            return build_overview(t, filters, service.overview(state, params_for(filters)),
                                  currency)

        state.cached(("kpis.overview_page", t.lang, filters), build)
