"""The customers pages: RFM segment map, lifecycle flow, CLV distribution and holdout fit
(``/customers``), and one customer's profile (``/customers/{id}``).

The numbers come from :mod:`shopscope.customers.service`, as the JSON API's do, so a
page and the API show the same numbers from one cached result (the lifecycle flow chart is
``/api/customers/lifecycle/flows``). The filters (``as_of``, ``scheme``,
``calibration_end``) live in the query string; a bad value is reported and ignored.
"""

from __future__ import annotations

import datetime as dt
from html import escape

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

import shopscope.products as products
from shopscope.core.periods import PeriodError, parse_date
from shopscope.customers import service as svc
from shopscope.customers.lifecycle import STAGES
from shopscope.customers.routing import ServiceErrors, viewer
from shopscope.customers.service import SEGMENTS, ClvReport, CustomersError, label
from shopscope.customers.tags import TAGS
from shopscope.ui.charts import COLORS, PLOT_CONFIG, Chart, layout
from shopscope.ui.deps import AppState, State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ServiceErrors)

STAGE_COLORS = {"prospect": "#9ca3af", "new": "#2563eb", "active": "#16a34a",
                "dormant": "#f97316", "churned": "#dc2626"}


# -- filters --------------------------------------------------------------------------------
def _date_param(t: Translator, params, name: str, field: str,
                problems: list[str]) -> dt.date | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return parse_date(raw, name)
    except PeriodError:
        problems.append(t("filters.bad_date", field=t(field), value=raw))
        return None


# -- view pieces ----------------------------------------------------------------------------
def segment_rows(t: Translator, frame: pd.DataFrame, scheme: str, currency: str) -> list[dict]:
    rows = []
    for r in frame.to_dict("records"):
        seg = SEGMENTS[scheme].get(r["segment"])
        if seg is None:
            continue
        n = int(r["customers"])
        rows.append({"key": seg.key, "label": label(seg, t.lang), "customers": n,
                     "monetary": float(r["monetary"]),
                     "avg": float(r["monetary"]) / n if n else None,
                     "share": r["share"], "revenue_share": r["revenue_share"],
                     "customers_text": t.count(n), "share_text": t.percent(r["share"]),
                     "monetary_text": t.currency(r["monetary"], currency),
                     "revenue_share_text": t.percent(r["revenue_share"])})
    return rows


def treemap_chart(t: Translator, rows: list[dict], currency: str, as_of: dt.date) -> Chart:
    """Segments sized by customers, coloured by net sales per customer."""
    labels = [escape(r["label"], quote=False) for r in rows]
    hover = [f"<b>{lab}</b><br>{t('cust.customers')}: {r['customers_text']} ({r['share_text']})"
             f"<br>{t('cust.net_sales')}: {r['monetary_text']} ({r['revenue_share_text']})"
             f"<br>{t('cust.avg_value')}: {t.currency(r['avg'], currency)}"
             for lab, r in zip(labels, rows, strict=True)]
    text = [f"{r['customers_text']} · {r['monetary_text']}" for r in rows]
    lay = layout(t("cust.chart_segments", date=t.date(as_of)), "", "", height=420)
    lay.pop("xaxis")
    lay.pop("yaxis")
    lay["margin"] = {"l": 8, "r": 8, "t": 52, "b": 8}
    data = [{
        "type": "treemap", "labels": labels, "parents": [""] * len(rows),
        "values": [r["customers"] for r in rows], "text": text,
        "texttemplate": "<b>%{label}</b><br>%{text}", "customdata": hover,
        "hovertemplate": "%{customdata}<extra></extra>",
        "marker": {"colors": [r["avg"] or 0.0 for r in rows], "colorscale": "Blues",
                   "showscale": True,
                   "colorbar": {"title": {"text": t("cust.avg_value_axis", currency=currency)},
                                "tickformat": ",.0f"}},
    }]
    return Chart("chart-segments", {"data": data, "layout": lay})


def _next_month(m: dt.date) -> dt.date:
    return (m + dt.timedelta(days=32)).replace(day=1)


def sankey_positions(flows: pd.DataFrame) -> tuple[list[dt.date], dict[tuple[dt.date, str],
                                                                        tuple[float, float]]]:
    """The month columns and each (month, stage) node's ``(x, y)`` in the plot (0–1).

    Plotly puts a node without incoming links in the first column, so a stage that first
    appears in a later month would jump to the left: every node is pinned to its month's
    column instead, stages stacked in lifecycle order by their size.

    Examples
    --------
    >>> flows = pd.DataFrame({"month": [dt.date(2011, 1, 1)] * 2,
    ...                       "from_stage": ["new", "active"], "to_stage": ["active"] * 2,
    ...                       "customers": [3, 1]})
    >>> months, pos = sankey_positions(flows)
    >>> months, pos[(dt.date(2011, 2, 1), "active")][0]
    ([datetime.date(2011, 1, 1), datetime.date(2011, 2, 1)], 0.999)
    >>> pos[(dt.date(2011, 1, 1), "new")][1] < pos[(dt.date(2011, 1, 1), "active")][1]
    True
    """
    months = sorted(set(flows.month) | {_next_month(m) for m in flows.month})
    # a node is as tall as the larger of what enters it and what leaves it
    inflow: dict[tuple[dt.date, str], float] = {}
    outflow: dict[tuple[dt.date, str], float] = {}
    for r in flows.to_dict("records"):
        k_out = (r["month"], r["from_stage"])
        k_in = (_next_month(r["month"]), r["to_stage"])
        outflow[k_out] = outflow.get(k_out, 0.0) + r["customers"]
        inflow[k_in] = inflow.get(k_in, 0.0) + r["customers"]
    value = {k: max(inflow.get(k, 0.0), outflow.get(k, 0.0)) for k in {*inflow, *outflow}}
    tallest = max((sum(v for (m, _), v in value.items() if m == month) for month in months),
                  default=1.0) or 1.0
    pos = {}
    span = max(len(months) - 1, 1)
    for i, month in enumerate(months):
        x = min(max(i / span, 0.001), 0.999)
        used, gap = 0.0, 0.04
        stages = [k for k in STAGES if (month, k) in value]
        scale = (1 - gap * max(len(stages) - 1, 0)) / tallest
        for key in stages:
            h = value[(month, key)] * scale
            pos[(month, key)] = (x, min(max(used + h / 2, 0.001), 0.999))
            used += h + gap
    return months, pos


def sankey_chart(t: Translator, flows: pd.DataFrame, start: dt.date, end: dt.date) -> Chart:
    """One column of stage nodes per month start, each labelled with its month; links are
    customers moving on."""
    months, pos = sankey_positions(flows)
    index: dict[tuple[dt.date, str], int] = {}
    labels: list[str] = []
    colors: list[str] = []
    hover: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    for m in months:
        for key, stage in STAGES.items():
            if (m, key) not in pos:
                continue  # no customer in that stage at that month: no node to draw
            index[(m, key)] = len(labels)
            labels.append(label(stage, t.lang))
            colors.append(STAGE_COLORS[key])
            hover.append(f"{label(stage, t.lang)} · {t.period(m, 'month')}")
            xs.append(pos[(m, key)][0])
            ys.append(pos[(m, key)][1])
    link_hover = [
        f"{t.period(r['month'], 'month')} → {t.period(_next_month(r['month']), 'month')}"
        f"<br>{label(STAGES[r['from_stage']], t.lang)} → {label(STAGES[r['to_stage']], t.lang)}"
        f": {t.count(r['customers'])} {t('cust.customers_unit')}"
        for r in flows.to_dict("records")]
    data = [{
        "type": "sankey", "arrangement": "snap", "valueformat": ",d",
        "domain": {"x": [0, 1], "y": [0, 0.92]},  # the month labels go above
        "node": {"label": labels, "color": colors, "pad": 12, "thickness": 14,
                 "x": xs, "y": ys,
                 "customdata": hover, "hovertemplate": "%{customdata}: %{value}<extra></extra>"},
        "link": {
            "source": [index[(r["month"], r["from_stage"])] for r in flows.to_dict("records")],
            "target": [index[(_next_month(r["month"]), r["to_stage"])]
                       for r in flows.to_dict("records")],
            "value": [int(v) for v in flows.customers],
            "color": [STAGE_COLORS[s] + "55" for s in flows.from_stage],
            "customdata": link_hover, "hovertemplate": "%{customdata}<extra></extra>"},
    }]
    title = t("cust.chart_flow", start=t.period(months[0], "month") if months else "",
              end=t.period(months[-1], "month") if months else "")
    lay = layout(title, "", "", height=480)
    lay.pop("xaxis")
    lay.pop("yaxis")
    lay["margin"] = {"l": 8, "r": 8, "t": 60, "b": 24}
    span = max(len(months) - 1, 1)
    lay["annotations"] = [
        {"x": i / span, "y": 0.94, "xref": "paper", "yref": "paper", "yanchor": "bottom",
         "xanchor": "left" if i == 0 else "right" if i == span else "center",
         "text": t.period(m, "month"), "showarrow": False, "font": {"size": 11}}
        for i, m in enumerate(months)]
    return Chart("chart-flow", {"data": data, "layout": lay})


def clv_histogram_chart(t: Translator, report: ClvReport, currency: str) -> Chart:
    bins = report.histogram
    x = [(b.lo + b.hi) / 2 for b in bins]
    hover = [f"{t.currency(b.lo, currency)} – "
             + (t("cust.and_more") if b.open_ended else t.currency(b.hi, currency))
             + f"<br>{t('cust.customers')}: {t.count(b.customers)}" for b in bins]
    title = t("cust.chart_clv", months=report.horizon_months,
              date=t.date(report.calibration_end))
    lay = layout(title, t("cust.clv_axis", months=report.horizon_months, currency=currency),
                 t("cust.customers_axis"))
    lay["bargap"] = 0.05
    lay["showlegend"] = False
    data = [{"type": "bar", "x": x, "y": [b.customers for b in bins],
             "width": [b.hi - b.lo for b in bins], "name": t("cust.customers"),
             "customdata": hover, "hovertemplate": "%{customdata}<extra></extra>",
             "marker": {"color": COLORS[0]}}]
    return Chart("chart-clv", {"data": data, "layout": lay})


def holdout_chart(t: Translator, report: ClvReport) -> Chart | None:
    h = report.holdout
    if h is None:
        return None
    labels = [r.label for r in h.rows]

    def freq(r) -> str:
        # the last bin ("7+") holds every customer with at least that many
        if r.label.endswith("+"):  # "3 or more": always plural, one form
            return t("cust.freq_label_more", n=t.count(r.frequency))
        return t.plural("cust.freq_label", r.frequency, n=t.count(r.frequency))

    def hover(kind: str, values: list[float | None]) -> list[str]:
        return [f"<b>{freq(r)}</b> ({t.count(r.customers)} "
                f"{t('cust.customers_unit')})<br>{t(kind)}: {t.number(v)}"
                for r, v in zip(h.rows, values, strict=True)]

    actual = [r.actual for r in h.rows]
    predicted = [r.predicted for r in h.rows]
    title = t("cust.chart_holdout", start=t.date(report.calibration_end),
              end=t.date(h.observation_end))
    lay = layout(title, t("cust.holdout_x"), t("cust.holdout_y"), y_format=",.1f")
    lay["xaxis"]["type"] = "category"
    data = [
        {"type": "bar", "x": labels, "y": actual, "name": t("cust.actual"),
         "customdata": hover("cust.actual", actual),
         "hovertemplate": "%{customdata}<extra></extra>", "marker": {"color": COLORS[0]}},
        {"type": "scatter", "mode": "lines+markers", "x": labels, "y": predicted,
         "name": t("cust.predicted"), "customdata": hover("cust.predicted", predicted),
         "hovertemplate": "%{customdata}<extra></extra>",
         "marker": {"color": COLORS[1]}, "line": {"color": COLORS[1], "width": 2}},
    ]
    return Chart("chart-holdout", {"data": data, "layout": lay})


def dropout_note(t: Translator, report: ClvReport) -> dict | None:
    """The too-little-dropout warning with the holdout error beside it (None when the
    model's dropout is plausible)."""
    d = report.dropout
    if not d.too_little_dropout:
        return None
    body = t("cust.dropout_body", alive=t.count(round(d.expected_alive)),
             customers=t.count(d.customers), p=t.percent(d.mean_probability_alive),
             churned=t.count(d.lifecycle_churned), buyers=t.count(d.lifecycle_buyers),
             share=t.percent(d.lifecycle_churned_share), days=t.count(d.churn_days))
    if d.holdout_error_pct is None:
        holdout = t("cust.dropout_no_holdout")
    else:
        holdout = t("cust.dropout_holdout", error=t.percent(d.holdout_error_pct / 100),
                    start=t.date(d.holdout_calibration_end), end=t.date(d.holdout_observation_end))
    return {"title": t("cust.dropout_title"), "body": body, "holdout": holdout,
            "holdout_error_pct": d.holdout_error_pct}


def build_customers_page(state: AppState, t: Translator, as_of: dt.date, scheme: str,
                         calibration_end: dt.date) -> dict:
    """Everything the customers page shows, formatted for ``t``'s language."""
    currency = state.workspace.settings.currency
    rfm = svc.rfm_segments(state, svc.RfmParams(as_of=as_of, scheme=scheme))  # type: ignore[arg-type]
    rows = segment_rows(t, rfm.segments, scheme, currency)
    charts: list[Chart] = []
    if rows:
        charts.append(treemap_chart(t, rows, currency, as_of))
    moves = svc.flows(state, svc.MovesParams(end=as_of))
    if len(moves.frame):
        charts.append(sankey_chart(t, moves.frame, moves.start, moves.end))
    clv_error = None
    report = None
    try:
        report = svc.clv_report(state, svc.ClvParams(calibration_end=calibration_end))
    except CustomersError as exc:
        clv_error = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
    if report is not None:
        charts.append(clv_histogram_chart(t, report, currency))
        chart = holdout_chart(t, report)
        if chart is not None:
            charts.append(chart)
    clv_totals = None
    if report is not None:
        tot = report.totals
        clv_totals = [
            ("total_clv", t("cust.total_clv"), t.currency(tot["total_clv"], currency)),
            ("mean_clv", t("cust.mean_clv"), t.currency(tot["mean_clv"], currency)),
            ("median_clv", t("cust.median_clv"), t.currency(tot["median_clv"], currency)),
            ("expected_alive", t("cust.expected_alive"), t.count(tot["expected_alive"])),
            ("fitted_on", t("cust.fitted_on"), t("cust.fitted_on_value",
                                                 n=t.count(tot["customers"]),
                                                 r=t.count(tot["repeat_customers"]))),
            ("spend_excluded", t("cust.spend_excluded"), t.count(report.spend_excluded)),
        ]
        if report.holdout is not None:
            clv_totals.append(("holdout_error", t("cust.holdout_error"),
                               t.percent((report.holdout.total_error_pct or 0) / 100)))
    return {
        "segments": rows,
        "charts": [{"id": c.id, "figure": c.figure} for c in charts],
        "clv_error": clv_error,
        "clv_totals": clv_totals,
        "clv_dropout": dropout_note(t, report) if report is not None else None,
        "empty": not rows,
    }


# -- pages ----------------------------------------------------------------------------------
@router.get("/customers", response_class=HTMLResponse)
def customers_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """RFM segment map, lifecycle flow, CLV distribution and holdout fit."""
    t = translator_for(request, session)
    params = request.query_params
    problems: list[str] = []
    try:
        dates = svc.data_dates(state)
    except CustomersError:
        return render(request, "customers.html", t, session=session, view={"empty": True},
                      filters={}, messages=[], plot_config=PLOT_CONFIG)
    default_as_of = dates.default_as_of
    default_cal = dates.default_calibration_end
    as_of = _date_param(t, params, "as_of", "cust.as_of", problems) or default_as_of
    calibration_end = (_date_param(t, params, "calibration_end", "cust.calibration_end",
                                   problems) or default_cal)
    scheme = params.get("scheme") or "classic"
    if scheme not in SEGMENTS:
        problems.append(t("filters.bad_choice", field=t("cust.scheme"), value=scheme))
        scheme = "classic"
    view = build_customers_page(state, t, as_of, scheme, calibration_end)
    filters = {"as_of": as_of.isoformat(), "default_as_of": default_as_of.isoformat(),
               "calibration_end": calibration_end.isoformat(),
               "default_calibration_end": default_cal.isoformat(), "scheme": scheme,
               "as_of_label": t.date(as_of), "calibration_label": t.date(calibration_end),
               "schemes": [(s, t(f"cust.scheme_{s}")) for s in SEGMENTS]}
    return render(request, "customers.html", t, session=session, view=view, filters=filters,
                  messages=problems,
                  plot_config={**PLOT_CONFIG, "locale": t.html_lang})


def _tag_value(t: Translator, name: str, value: object, currency: str) -> str:
    if value is None:
        return t("cust.none")
    tag = TAGS[name]
    for key, en, zh in tag.values:
        if value == key:
            return zh if t.lang == "zh" else en
    if name in ("category_share", "discount_share"):
        return t.percent(float(value))  # type: ignore[arg-type]
    if name == "avg_unit_price":
        return t.currency(float(value), currency)  # type: ignore[arg-type]
    if name in ("typical_interval_days", "days_to_next_purchase"):
        return t.number(float(value), 0)  # type: ignore[arg-type]
    if name in ("expected_next_purchase", "last_purchase_date"):
        return t.date(pd.Timestamp(str(value)).date())
    return str(value)


def _when(t: Translator, value: str | None) -> str:
    if not value:
        return t("cust.none")
    ts = pd.Timestamp(value)
    return t.date(ts.date()) if ts.time() == dt.time(0) else t.datetime(ts.to_pydatetime())


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, state: State, session: PageSession,
                  customer_id: str) -> HTMLResponse:
    """One customer's profile: attributes (PII by role), stage, segments, tags, CLV,
    P(alive) and the last orders."""
    t = translator_for(request, session)
    admin = session.user.can("admin")
    try:
        p = svc.profile(state, svc.ProfileParams(customer_id=customer_id),
                        viewer(state, admin))
    except CustomersError as exc:
        if exc.status != 404:
            raise
        return render(request, "error.html", t, session=session, status_code=404,
                      title=t("cust.not_found_title"),
                      message=t("cust.not_found", id=customer_id))
    currency = state.workspace.settings.currency
    none = t("cust.none")
    rfm = p.rfm
    segment = {scheme: none if key is None else label(SEGMENTS[scheme][key], t.lang)
               for scheme, key in p.segments.items()}
    facts = [
        (t("cust.stage"), label(STAGES[p.stage], t.lang) if p.stage and p.stage in STAGES
         else none),
        (t("cust.segment_classic"), segment["classic"]),
        (t("cust.segment_eleven"), segment["eleven"]),
        (t("cust.recency"), none if rfm["recency_days"] is None
         else t.plural("cust.days", rfm["recency_days"], n=t.count(rfm["recency_days"]))),
        (t("cust.frequency"), none if rfm["frequency"] is None else t.count(rfm["frequency"])),
        (t("cust.monetary"), none if rfm["monetary"] is None
         else t.currency(rfm["monetary"], currency)),
        (t("cust.scores"), none if rfm["r_score"] is None
         else f"R{rfm['r_score']} F{rfm['f_score']} M{rfm['m_score']}"),
        (t("cust.first_order"), _when(t, rfm["first_order_at"])),
        (t("cust.last_order"), _when(t, rfm["last_order_at"])),
        (t("cust.clv", months=12), none if p.clv is None
         else t.currency(p.clv["clv"], currency)),
        (t("cust.p_alive"), none if p.clv is None else t.percent(p.clv["probability_alive"])),
    ]
    attributes = [(t(f"cust.attr_{k}"), none if v is None else
                   (_when(t, v) if k == "first_seen_at"
                    else t.country(str(v)) if k == "country" else str(v)))
                  for k, v in p.customer.items()]
    tags = [(label(TAGS[k], t.lang), _tag_value(t, k, v, currency)) for k, v in p.tags.items()]
    orders = [{"order_id": o.order_id, "when": _when(t, o.ordered_at),
               "channel": o.channel or none,
               "status": t(f"cust.status_{o.status}") if o.status else none,
               "amount": t.currency(o.net_amount, o.currency or currency)}
              for o in p.orders]
    view = {"id": customer_id, "facts": facts, "attributes": attributes, "tags": tags,
            "orders": orders,
            "orders_note": t.plural("cust.orders_shown", p.orders_total,
                                    shown=t.count(len(orders)), total=t.count(p.orders_total)),
            "masked": not admin, "as_of": t.date(p.as_of),
            "recs": _recommendations(state, customer_id, viewer(state, admin))}
    return render(request, "customer_profile.html", t, session=session, view=view)


def _recommendations(state: AppState, customer_id: str, who: svc.Viewer) -> dict | None:
    """The stored recommendation model's top 5 for this customer (None: no model trained,
    or the customer is not in it): what to show them next, from the products area."""
    try:
        r = products.recommend_for(
            state, products.RecsForParams(customer_id=customer_id, k=5), who)
    except (products.NoModel, products.CustomerNotFound, products.PiiRefused):
        return None
    return {"model": r.model, "fallback": r.fallback, "stale": r.stale,
            "items": [{"product_id": str(x["product_id"]),
                       "name": "" if x["name"] is None or x["name"] != x["name"] else x["name"],
                       "bought": int(x["bought"])} for x in r.items.to_dict("records")]}
