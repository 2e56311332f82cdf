"""The overview page: KPI cards with 环比/同比, whole-range totals, trends, a breakdown.

A thin adapter: the filters in the query string become :class:`~shopscope.kpis.service.
OverviewParams`, :func:`~shopscope.kpis.service.overview` computes the numbers (from the same
cached KPI table and summary as the JSON API and the report), and this module formats them
for the reader's language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.core.metrics import BREAKDOWNS, METRICS
from shopscope.core.periods import GRAINS
from shopscope.kpis import service
from shopscope.kpis.service import TOP, Card, Overview, OverviewParams
from shopscope.ui.charts import PLOT_CONFIG, Chart, breakdown_chart, trend_charts
from shopscope.ui.deps import State
from shopscope.ui.filters import Filters, ShopOptions, parse_filters
from shopscope.ui.i18n import Translator, format_change
from shopscope.ui.pagedeps import PageSession, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False)


def _change(t: Translator, metric: str, now: float | None, earlier: float | None,
            label: str, currency: str) -> dict:
    shown = format_change(t, METRICS[metric].unit, now, earlier)
    if shown is None:
        return {"label": label, "text": "–", "cls": "none", "arrow": "",
                "was": t("cards.no_comparison")}
    text, delta = shown
    better = METRICS[metric].higher_is_better
    if delta == 0:
        cls, arrow = "flat", "＝"
    else:
        cls = "good" if (delta > 0) == better else "bad"
        arrow = "▲" if delta > 0 else "▼"
    return {"label": label, "text": text, "cls": cls, "arrow": arrow,
            "was": t("cards.was", value=t.metric_value(metric, earlier, currency))}


def _cards(t: Translator, cards: dict[str, Card], grain: str, currency: str) -> list[dict]:
    return [{
        "name": name,
        "label": t.metric(name),
        "value": t.metric_value(name, card.value, currency),
        "prev": _change(t, name, card.value, card.previous,
                        t("cards.pop", grain=t.grain_noun(grain)), currency),
        "year": _change(t, name, card.value, card.yoy_value, t("cards.yoy"), currency),
    } for name, card in cards.items()]


def _options(t: Translator, f: Filters, options: ShopOptions, periods: tuple[dt.date, ...],
             partial: frozenset[dt.date]) -> dict:
    all_ = [("", t("filters.all"))]
    return {
        "grain": [(g, t(f"grain.{g}")) for g in GRAINS],
        "by": [(b, t(f"by.{b}")) for b in BREAKDOWNS],
        "channel": all_ + [(c, t.value_label(c)) for c in options.channels],
        "category": all_ + [(c, t.value_label(c)) for c in options.categories],
        "period": [("", t("filters.latest"))] + [
            (p.isoformat(), t.period(p, f.grain) + (t("cards.partial") if p in partial else ""))
            for p in reversed(periods)
        ],
    }


def params_for(f: Filters) -> OverviewParams:
    """The overview's parameters for the page's filters (``end`` included, as everywhere)."""
    return OverviewParams.model_validate(dict(grain=f.grain, by=f.by, start=f.start, end=f.end,
                                              segment=f.segment, period=f.period))


def build_overview(t: Translator, f: Filters, numbers: Overview, currency: str) -> dict:
    """Everything the overview template shows, formatted for ``t``'s language."""
    options, segment = numbers.options, f.segment
    first = f.start or options.first
    last = f.end or options.last
    range_label = (t("overview.range", start=t.date(first), end=t.date(last))
                   if first and last else "")
    view: dict = {
        "empty": not numbers.periods,
        "range_label": range_label,
        "segment_label": (t("overview.segment", field=t(f"filters.{segment[0]}"),
                            value=t.value_label(segment[1]))
                          if segment else t("overview.all_shop")),
        "default_by": options.default_by,
        "dates": {"first": options.first.isoformat() if options.first else "",
                  "last": options.last.isoformat() if options.last else ""},
        "options": _options(t, f, options, numbers.periods, numbers.partial),
    }
    if not numbers.periods:
        view.update(cards=[], totals=[], charts=[], card_period="")
        return view
    period = numbers.card_period
    assert period is not None  # there are periods
    view["card_period"] = t.period(period, f.grain) + (
        t("cards.partial") if period in numbers.partial else "")
    view["cards"] = _cards(t, dict(numbers.cards), f.grain, currency)
    view["totals"] = [] if numbers.totals is None else [
        {"name": m, "label": t.metric(m), "value": t.metric_value(m, v, currency)}
        for m, v in numbers.totals.items()]
    series = {m: list(v) for m, v in numbers.series.items()}
    charts: list[Chart] = trend_charts(t, list(numbers.periods), series, f.grain, currency,
                                       with_events=numbers.with_events,
                                       partial=numbers.partial)
    if numbers.breakdown:
        rows = [asdict(r) for r in numbers.breakdown]
        charts.append(breakdown_chart(
            t, rows, f.by, currency, range_label=range_label,
            whole_shop=segment is not None and segment[0] != f.by,
            highlight=segment[1] if segment is not None and segment[0] == f.by else None,
            top=TOP))
    view["charts"] = [{"id": c.id, "figure": c.figure} for c in charts]
    return view


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """KPI cards, totals, trends and a breakdown for the filters in the query string."""
    t = translator_for(request, session)
    filters, problems = parse_filters(request.query_params, service.shop_options(state))
    currency = state.workspace.settings.currency
    # The formatted view is kept too (formatting the charts costs more than the numbers'
    # lookup); the numbers themselves are cached by the service under their parameters.
    view = state.cached(("kpis.overview_page", t.lang, filters), lambda: build_overview(
        t, filters, service.overview(state, params_for(filters)), currency))
    messages = [t(key, **{k: t(v) if k == "field" else v for k, v in args.items()})
                for key, args in problems]
    return render(request, "overview.html", t, session=session, view=view, filters=filters,
                  messages=messages,
                  plot_config={**PLOT_CONFIG, "locale": t.html_lang})
