"""The overview page: KPI cards with 环比/同比, whole-range totals, trends, a breakdown.

The numbers come from :func:`shopscope.kpis.queries` and :func:`~shopscope.kpis.summary`
through the app's per-data-version cache, under the same keys as the JSON API, so the API
and the pages share results. A channel or category filter selects that value's rows from
the KPI table broken down by channel or category: the page never recomputes a metric.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.kpis import METRICS, kpis, summary
from shopscope.kpis.queries import is_partial, period_end
from shopscope.ui.deps import AppState, State
from shopscope.ui.charts import Chart, breakdown_chart, trend_charts
from shopscope.ui.pagedeps import PageSession, render, translator_for
from shopscope.ui.filters import Filters, ShopOptions, parse_filters
from shopscope.ui.i18n import Translator, format_change

router = APIRouter(tags=["pages"], include_in_schema=False)

CARD_METRICS = ("gmv", "net_sales", "orders", "buyers", "aov", "repurchase_rate",
                "conversion_rate", "cancellation_rate", "return_rate")
TREND_METRICS = ("gmv", "net_sales", "orders", "buyers", "aov", "repurchase_rate",
                 "cancellation_rate", "return_rate", "conversion_rate")
TOP = 12


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def shop_options(store) -> ShopOptions:
    """Channels, categories and the order date range, for the filter controls."""
    orders = store.table("orders")
    channels = orders.filter(orders.channel.notnull()).select("channel").distinct()
    products = store.table("products")
    categories = products.filter(products.category.notnull()).select("category").distinct()
    span = orders.aggregate(lo=orders.ordered_at.min(), hi=orders.ordered_at.max()).execute()
    lo, hi = span["lo"].iloc[0], span["hi"].iloc[0]
    return ShopOptions(
        channels=tuple(sorted(str(c) for c in channels.execute()["channel"])),
        categories=tuple(sorted(str(c) for c in categories.execute()["category"])),
        first=None if pd.isna(lo) else pd.Timestamp(lo).date(),
        last=None if pd.isna(hi) else pd.Timestamp(hi).date(),
        has_events=store.row_count("events") > 0,
    )


def cached_kpis(state: AppState, grain: str, by: str | None, start: dt.date | None,
                end: dt.date | None):
    """:func:`kpis` through the cache, under the JSON API's key."""
    return state.cached(("kpis", grain, by, start, end),
                        lambda: kpis(state.workspace.store, grain=grain, by=by,
                                     start=start, end=end))


def cached_summary(state: AppState, start: dt.date | None, end: dt.date | None) -> dict:
    return state.cached(("summary", start, end),
                        lambda: summary(state.workspace.store, start=start, end=end))


def latest_full_period(periods: list[dt.date], grain: str, last_day: dt.date | None,
                       end: dt.date | None) -> dt.date:
    """The last period that the data (and the range's end) cover to its last day.

    Examples
    --------
    >>> days = [dt.date(2011, 11, 1), dt.date(2011, 12, 1)]
    >>> latest_full_period(days, "month", dt.date(2011, 12, 9), None)
    datetime.date(2011, 11, 1)
    >>> latest_full_period(days, "month", dt.date(2011, 12, 31), None)
    datetime.date(2011, 12, 1)
    """
    covered = [d for d in (last_day + dt.timedelta(days=1) if last_day else None, end) if d]
    until = min(covered) if covered else None
    for p in reversed(periods):
        if until is None or until >= period_end(p, grain):
            return p
    return periods[-1]


def partial_periods(periods: list[dt.date], grain: str, last_day: dt.date | None,
                    start: dt.date | None = None, end: dt.date | None = None) -> set[dt.date]:
    """The periods that the data or the range cover only in part: the data's last day
    (``last_day``) or the range's exclusive ``end`` falls before the period's end, or the
    range's ``start`` after its first day.

    Examples
    --------
    >>> months = [dt.date(2011, 11, 1), dt.date(2011, 12, 1)]
    >>> partial_periods(months, "month", dt.date(2011, 12, 9))
    {datetime.date(2011, 12, 1)}
    >>> partial_periods(months, "month", dt.date(2011, 12, 31))
    set()
    >>> sorted(partial_periods(months, "month", dt.date(2011, 12, 31), dt.date(2011, 11, 2),
    ...                        dt.date(2011, 12, 31)))
    [datetime.date(2011, 11, 1), datetime.date(2011, 12, 1)]
    """
    return {p for p in periods if is_partial(p, grain, last_day, start, end)}


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


def _cards(t: Translator, rows: pd.DataFrame, metrics: list[str], grain: str,
           currency: str) -> list[dict]:
    by_metric = rows.set_index("metric")
    cards = []
    for name in metrics:
        row = by_metric.loc[name] if name in by_metric.index else None
        get = (lambda col, r=row: None if r is None or _missing(r[col]) else float(r[col]))
        cards.append({
            "name": name,
            "label": t.metric(name),
            "value": t.metric_value(name, get("value"), currency),
            "prev": _change(t, name, get("value"), get("previous"),
                            t("cards.pop", grain=t.grain_noun(grain)), currency),
            "year": _change(t, name, get("value"), get("yoy_value"), t("cards.yoy"),
                            currency),
        })
    return cards


def _breakdown_rows(state: AppState, f: Filters) -> list[dict]:
    """Net sales per breakdown value: the TOP largest, every negative value (credits beyond
    sales must stay visible), and one row for the rest, so the rows add up to the total."""
    wide = cached_kpis(state, "year", f.by, f.start, f.end_exclusive).wide()
    if wide.empty:
        return []
    sums = wide.groupby(f.by, as_index=False)[["gmv", "net_sales", "orders"]].sum()
    total = float(sums["net_sales"].sum())
    sums = sums.sort_values(["net_sales", f.by], ascending=[False, True])
    negative = sums["net_sales"] < 0
    shown = pd.concat([sums[~negative].head(TOP), sums[negative]])
    rest = sums.drop(shown.index)
    rows = [{"key": str(r[f.by]), "gmv": float(r["gmv"]), "net_sales": float(r["net_sales"]),
             "orders": float(r["orders"]), "share": r["net_sales"] / total if total else None}
            for r in shown.to_dict("records")]
    if len(rest):
        net = float(rest["net_sales"].sum())
        rows.append({"key": None, "others": len(rest), "gmv": float(rest["gmv"].sum()),
                     "net_sales": net, "orders": float(rest["orders"].sum()),
                     "share": net / total if total else None})
    return rows


def _options(t: Translator, f: Filters, options: ShopOptions, periods: list[dt.date],
             partial: set[dt.date]) -> dict:
    from shopscope.kpis.queries import BREAKDOWNS, GRAINS

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


def build_overview(state: AppState, t: Translator, f: Filters, options: ShopOptions) -> dict:
    """Everything the overview template shows, formatted for ``t``'s language."""
    currency = state.workspace.settings.currency
    segment = f.segment
    frame = cached_kpis(state, f.grain, segment[0] if segment else None, f.start,
                        f.end_exclusive).data
    if segment is not None:
        frame = frame[frame[segment[0]] == segment[1]]
    periods = sorted(pd.Timestamp(p).date() for p in frame["period"].unique())
    first = f.start or options.first
    last = f.end or options.last
    range_label = (t("overview.range", start=t.date(first), end=t.date(last))
                   if first and last else "")
    view: dict = {
        "empty": not periods,
        "range_label": range_label,
        "segment_label": (t("overview.segment", field=t(f"filters.{segment[0]}"),
                            value=t.value_label(segment[1]))
                          if segment else t("overview.all_shop")),
        "default_by": options.default_by,
        "dates": {"first": options.first.isoformat() if options.first else "",
                  "last": options.last.isoformat() if options.last else ""},
    }
    partial = partial_periods(periods, f.grain, options.last, f.start, f.end_exclusive)
    view["options"] = _options(t, f, options, periods, partial)
    if not periods:
        view.update(cards=[], totals=[], charts=[], card_period="")
        return view
    wide = frame.pivot(index="period", columns="metric", values="value")
    with_events = bool(options.has_events and "uv" in wide and wide["uv"].fillna(0).sum() > 0)
    shown = [m for m in CARD_METRICS if with_events or m != "conversion_rate"]
    period = (f.period if f.period in periods
              else latest_full_period(periods, f.grain, options.last, f.end_exclusive))
    rows = frame[frame["period"] == pd.Timestamp(period)]
    view["card_period"] = t.period(period, f.grain) + (
        t("cards.partial") if period in partial else "")
    view["cards"] = _cards(t, rows, shown, f.grain, currency)
    if segment is None:
        totals = cached_summary(state, f.start, f.end_exclusive)
        view["totals"] = [{"name": m, "label": t.metric(m),
                           "value": t.metric_value(m, totals.get(m), currency)} for m in shown]
    else:
        view["totals"] = []
    index = [pd.Timestamp(p) for p in periods]
    series = {m: [None if _missing(v) else float(v)
                  for v in wide.reindex(index)[m].tolist()] if m in wide else [None] * len(index)
              for m in TREND_METRICS}
    charts: list[Chart] = trend_charts(t, periods, series, f.grain, currency,
                                       with_events=with_events, partial=partial)
    rows_by = _breakdown_rows(state, f)
    if rows_by:
        charts.append(breakdown_chart(
            t, rows_by, f.by, currency, range_label=range_label,
            whole_shop=segment is not None and segment[0] != f.by,
            highlight=segment[1] if segment is not None and segment[0] == f.by else None,
            top=TOP))
    view["charts"] = [{"id": c.id, "figure": c.figure} for c in charts]
    return view


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """KPI cards, totals, trends and a breakdown for the filters in the query string."""
    t = translator_for(request, session)
    options = state.cached(("web-options",), lambda: shop_options(state.workspace.store))
    filters, problems = parse_filters(request.query_params, options)
    view = state.cached(("web-overview", t.lang, filters),
                        lambda: build_overview(state, t, filters, options))
    messages = [t(key, **{k: t(v) if k == "field" else v for k, v in args.items()})
                for key, args in problems]
    return render(request, "overview.html", t, session=session, view=view, filters=filters,
                  messages=messages,
                  plot_config={"displaylogo": False, "responsive": True,
                               "locale": t.html_lang})
