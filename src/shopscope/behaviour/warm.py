"""The behaviour tabs' warmers (see ``shopscope.ui.warmup``).

Each runs its tab's own view function with no query options, so every query lands in the
cache under the key the page uses (the service's keys for the source probe, the analysis
and the last event day).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopscope.behaviour import service
from shopscope.behaviour.pages import VIEWS, Options
from shopscope.ui.i18n import Translator

if TYPE_CHECKING:
    from shopscope.ui.deps import AppState


def _tab(state: AppState, tab: str) -> None:
    # as the page does: nothing to compute without events or orders
    present = service.data_present(state)
    if not present.events and not present.orders:
        return
    t = Translator("en")  # the views' cache keys hold no text
    VIEWS[tab](state, t, Options(t, {}))


def funnel_tab(state: AppState) -> None:
    """``/behaviour/funnel``: the default funnel (on orders: the repeat-purchase one)."""
    _tab(state, "funnel")


def trends_tab(state: AppState) -> None:
    """``/behaviour/trends``: daily traffic and actives over all the data."""
    _tab(state, "trends")


def retention_tab(state: AppState) -> None:
    """``/behaviour/retention``: daily retention and monthly repurchase cohorts."""
    _tab(state, "retention")


def paths_tab(state: AppState) -> None:
    """``/behaviour/paths``: the top paths from ``view`` (on orders: from any step)."""
    _tab(state, "paths")
