"""The marketing pages: the channel and campaign report (``/marketing``), cohort LTV and
payback (``/marketing/cohorts``) and attribution models side by side on an uploaded path
file, with a path explorer (``/marketing/attribution``).

A thin adapter: the query string or the form becomes the services' parameters (a bad value
is an error page naming it), :mod:`shopscope.marketing.service_channels`,
:mod:`~shopscope.marketing.service_cohorts` and :mod:`~shopscope.marketing.service` compute,
and this module formats the small results for the reader's language.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from shopscope.errors import ShopscopeError
from shopscope.marketing import service as svc
from shopscope.marketing import service_budget as bus
from shopscope.marketing import service_channels as chs
from shopscope.marketing import service_cohorts as cos
from shopscope.marketing import service_journeys as sj
from shopscope.ui.charts import COLORS, charts_payload, layout, time_axis
from shopscope.ui.deps import State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, query_params, render, same_token, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False)

NOT_SET = "(not set)"
#: The report's columns: measure and how it is shown.
COLUMNS = (("sessions", "count"), ("new_customers", "count"), ("returning_customers", "count"),
           ("orders", "count"), ("gmv", "money"), ("net_sales", "money"), ("spend", "money"),
           ("cpc", "money"), ("cpa", "money"), ("cac", "money"), ("roas", "ratio"),
           ("conversion", "percent"))
#: Measures whose change (环比/同比) has its own column.
CHANGES = ("sessions", "orders", "gmv", "spend", "cac", "roas")
#: Rows listed on the report page (the export holds them all).
MAX_ROWS = 500
#: Breakdown values drawn in the report chart (the largest by GMV + spend).
CHART_KEYS = len(COLORS)
#: The largest path file the attribution page takes (the app's body bound, 1 MiB by
#: default, comes first; PathData unpacked is 530 KB).
MAX_UPLOAD = 1 << 20
#: The largest path text sent back in the filter form (it must fit the body bound again).
MAX_KEPT = 900_000
#: Paths listed by the path explorer.
TOP_PATHS = 25


def _query(request: Request) -> dict[str, str]:
    query = dict(request.query_params)
    query.pop("lang", None)
    return query


def _finite(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fmt(t: Translator, v: object, kind: str, currency: str) -> str:
    f = _finite(v)
    if kind == "count":
        return t.count(f)
    if kind == "money":
        return t.currency(f, currency)
    if kind == "percent":
        return t.percent(f)
    return t.number(f)


def _change(t: Translator, v: object) -> str:
    f = _finite(v)
    return t.percent(f) if f is None or f <= 0 else "+" + t.percent(f)


def _key(t: Translator, v: object) -> str:
    return t("mkt.not_set") if str(v) == NOT_SET else str(v)


# -- /marketing: channels and campaigns ------------------------------------------------------
def _channel_chart(t: Translator, out: chs.ChannelReport, dim: str, currency: str) -> dict:
    """GMV (solid) and spend (dashed) per period of the largest breakdown values."""
    f = out.frame
    size = f.groupby(dim)[["gmv", "spend"]].sum().sum(axis=1).sort_values(ascending=False)
    keys = [k for k in size.index if size[k] > 0][:CHART_KEYS]
    periods = sorted(set(f["period"]))
    data = []
    for i, k in enumerate(keys):
        g = f[f[dim] == k].set_index("period")
        color = COLORS[i % len(COLORS)]
        for m, dash in (("gmv", "solid"), ("spend", "dash")):
            label = t(f"mkt.m.{m}")
            data.append({"type": "scatter", "mode": "lines+markers",
                         "name": f"{_key(t, k)} · {label}",
                         "x": [p.isoformat() for p in periods],
                         "y": [float(g.loc[p, m]) if p in g.index else 0.0 for p in periods],
                         "line": {"color": color, "dash": dash},
                         "hovertemplate": "%{x}: %{y:,.2f} " + currency + "<extra>"
                         + f"{_key(t, k)} · {label}" + "</extra>"})
    fig: dict[str, Any] = {"data": data, "layout": layout(
        t("mkt.chart.gmv_spend", by=t(f"mkt.by.{dim}")), "", currency, height=380)}
    if periods:
        fig["layout"]["xaxis"] = time_axis(t, periods, out.params.grain)
    return {"id": "chart-channels", "figure": fig}


def _roas_chart(t: Translator, out: chs.ChannelReport, dim: str) -> dict | None:
    """ROAS (GMV / spend) of each breakdown value with spend, over the whole range."""
    sums = out.frame.groupby(dim)[["gmv", "spend"]].sum()
    sums = sums[sums["spend"] > 0]
    if not len(sums):
        return None
    roas = (sums["gmv"] / sums["spend"]).sort_values(ascending=False)
    fig = {"data": [{"type": "bar", "x": [_key(t, k) for k in roas.index],
                     "y": [float(v) for v in roas], "marker": {"color": COLORS[0]},
                     "hovertemplate": "%{x}: %{y:.2f}<extra></extra>"}],
           "layout": layout(t("mkt.chart.roas", by=t(f"mkt.by.{dim}")), "", t("mkt.m.roas"),
                            y_format=",.2f")}
    return {"id": "chart-roas", "figure": fig}


def build_channels(t: Translator, out: chs.ChannelReport, currency: str) -> dict:
    """The report table, the cards and the charts, formatted for ``t``'s language."""
    p = out.params
    dim = p.by[0]
    compare = p.compare != "none"
    rows = []
    for r in out.frame.head(MAX_ROWS).to_dict("records"):
        rows.append({
            "id": f"{r['period'].isoformat()}|{r[dim]}", "period": t.period(r["period"], p.grain),
            "key": _key(t, r[dim]),
            "cells": [{"col": m, "text": _fmt(t, r[m], kind, currency)} for m, kind in COLUMNS],
            "changes": [{"col": m, "text": _change(t, r[f"{m}_change"])} for m in CHANGES]
            if compare else []})
    tot = out.totals[["sessions", "orders", "new_customers", "gmv", "spend"]].sum()
    spend, gmv, new = float(tot["spend"]), float(tot["gmv"]), float(tot["new_customers"])
    cards = [("sessions", t.count(int(tot["sessions"]))), ("orders", t.count(int(tot["orders"]))),
             ("new_customers", t.count(new)), ("gmv", t.currency(gmv, currency)),
             ("spend", t.currency(spend, currency)),
             ("roas", t.number(gmv / spend) if spend else t.number(None)),
             ("cac", t.currency(spend / new, currency) if new else t.number(None))]
    export = {"start": out.start.isoformat(), "end": out.end.isoformat(), "grain": p.grain,
              "by": dim, "compare": p.compare}
    charts = [_channel_chart(t, out, dim, currency)]
    roas = _roas_chart(t, out, dim)
    if roas:
        charts.append(roas)
    return {
        "range_label": t("mkt.range", start=t.date(out.start), end=t.date(out.end)),
        "dates": {"start": out.start.isoformat(), "end": out.end.isoformat()},
        "dim": dim, "compare": compare, "rows": rows, "cards": cards,
        "n_rows": t.count(len(out.frame)), "cut": len(out.frame) > MAX_ROWS,
        "no_spend": spend == 0, "no_sessions": int(tot["sessions"]) == 0,
        "export_csv": "/api/marketing/channels?" + urlencode({**export, "format": "csv"}),
        "charts": charts,
    }


#: The budget table's columns: name, kind (``money``, ``ratio``).
BUDGET_COLUMNS = (("spend", "money"), ("last_touch", "money"), ("attributed", "money"),
                  ("roas_last_touch", "ratio"), ("roas_attributed", "ratio"),
                  ("marginal_roas", "ratio"))


def _lift(t: Translator, r: dict) -> str:
    """``+0.50 [-0.14, 0.79] (id)``: the experiment's absolute lift and interval."""
    if not isinstance(r.get("experiment_id"), str):
        return t.number(None)
    lift, low, high = (_finite(r.get(k)) for k in ("lift", "lift_low", "lift_high"))
    sign = "+" if lift is not None and lift > 0 else ""
    return (f"{sign}{t.number(lift)} [{t.number(low)}, {t.number(high)}] "
            f"({r['experiment_id']})")


def build_budget(t: Translator, out: bus.BudgetResult, currency: str) -> dict:
    """The budget table (channels with spend or return) and its chart: spend against both
    returns per channel over the range."""
    f = out.channels
    f = f[(f["spend"] > 0) | (f["last_touch"] > 0) | (f["attributed"].fillna(0) > 0)]
    rows = []
    for r in f.to_dict("records"):
        reason = r.get("marginal_reason")
        cells = [{"col": m, "text": _fmt(t, r[m], kind, currency)} for m, kind in BUDGET_COLUMNS]
        if isinstance(reason, str):
            cells[-1]["text"] = t(f"mkt.budget.reason.{reason}")
        rec = r.get("recommendation")
        rows.append({"key": _key(t, r["channel"]), "cells": cells, "lift": _lift(t, r),
                     "rec": t(f"mkt.budget.rec.{rec}") if isinstance(rec, str) else ""})
    spent = f[f["spend"] > 0]
    names = [_key(t, c) for c in spent["channel"]]
    data = []
    for i, (m, label) in enumerate((("spend", t("mkt.m.spend")),
                                    ("last_touch", t("mkt.budget.last_touch")),
                                    ("attributed", t("mkt.budget.attributed")))):
        data.append({"type": "bar", "name": label, "x": names,
                     "y": [_finite(v) for v in spent[m]],
                     "marker": {"color": COLORS[i % len(COLORS)]},
                     "hovertemplate": "%{x}: %{y:,.2f} " + currency + f"<extra>{label}</extra>"})
    fig = {"data": data, "layout": {**layout(t("mkt.budget.chart"), "", currency),
                                    "barmode": "group"}}
    p = out.params
    export = {"start": out.start.isoformat(), "end": out.end.isoformat(), "grain": p.grain,
              "model": p.model, "window": p.window, "table": "channels", "format": "csv"}
    return {"rows": rows, "chart": {"id": "chart-budget", "figure": fig},
            "note": t("mkt.budget.note", model=out.model, window=p.window),
            "export_csv": "/api/marketing/budget?" + urlencode(export)}


def _budget_view(t: Translator, state: Any, params: chs.ChannelParams,
                 currency: str) -> dict | None:
    """The budget section under a report by channel, week or month; None otherwise or when
    it cannot be computed (the report above still shows)."""
    if params.by[:1] != ("channel",) or params.grain == "day":
        return None
    try:
        out = bus.budget(state, bus.make(bus.BudgetParams, start=params.start, end=params.end,
                                         grain=params.grain))
    except ShopscopeError:
        return None
    return build_budget(t, out, currency)


@router.get("/marketing", response_class=HTMLResponse)
def channels_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """Sessions, customers, orders, sales, spend and their ratios per period and channel,
    source, medium or campaign, with 环比/同比."""
    t = translator_for(request, session)
    query = _query(request)
    by = query.pop("by", "") or "channel"
    params = query_params(chs.ChannelParams, query, by=(by,))
    try:
        out = chs.channel_report(state, params)
    except chs.NoData:  # an empty workspace: say what to load
        return render(request, "marketing.html", t, session=session, view=None,
                      params=params, charts=charts_payload([], t))
    currency = state.workspace.settings.currency
    view = build_channels(t, out, currency)
    view["budget"] = budget = _budget_view(t, state, params, currency)
    charts = view["charts"] + ([budget["chart"]] if budget else [])
    return render(request, "marketing.html", t, session=session, view=view, params=params,
                  charts=charts_payload(charts, t))


# -- /marketing/cohorts: LTV and payback -----------------------------------------------------
def channel_curves(out: cos.CohortLtv) -> dict[str, list[tuple[int, float]]]:
    """Per channel/campaign: month -> cumulative net revenue per customer × margin, the
    customer-weighted mean over its cohorts that have reached that month (month 0: 0)."""
    sizes = out.cohorts[["key", "cohort", "customers"]]
    c = out.curves.merge(sizes, on=["key", "cohort"])
    res: dict[str, list[tuple[int, float]]] = {}
    for key, g in c.groupby("key", sort=True):
        w = g.assign(v=g["cum_revenue"] * g["customers"]).groupby("month")[
            ["v", "customers"]].sum()
        res[str(key)] = [(0, 0.0)] + [
            (int(m), float(r["v"] / r["customers"]) * out.params.margin)
            for m, r in w.iterrows()]
    return res


def _payback_chart(t: Translator, out: cos.CohortLtv, currency: str) -> dict:
    curves = channel_curves(out)
    cac = {str(r["key"]): _finite(r["cac"]) for r in out.by_key.to_dict("records")}
    data: list[dict] = []
    # a channel with spend but no cohort a month old yet still shows its CAC line
    keys = sorted(set(curves) | {k for k, v in cac.items() if v is not None})
    for i, key in enumerate(keys):
        points = curves.get(key, [(0, 0.0)])
        color = COLORS[i % len(COLORS)]
        data.append({"type": "scatter", "mode": "lines+markers", "name": _key(t, key),
                     "x": [m for m, _ in points], "y": [v for _, v in points],
                     "line": {"color": color}, "legendgroup": key,
                     "hovertemplate": "%{x}: %{y:,.2f} " + currency + "<extra>"
                     + _key(t, key) + "</extra>"})
        if cac.get(key) is not None:
            last = max(m for m, _ in points)
            data.append({"type": "scatter", "mode": "lines", "legendgroup": key,
                         "name": t("mkt.co.cac_line", name=_key(t, key)),
                         "x": [0, max(last, 1)], "y": [cac[key], cac[key]],
                         "line": {"color": color, "dash": "dot"}})
    fig = {"data": data, "layout": layout(t("mkt.co.chart"), t("mkt.co.months"), currency,
                                          y_format=",.2f", height=380)}
    return {"id": "chart-payback", "figure": fig}


def build_cohorts(t: Translator, out: cos.CohortLtv, currency: str) -> dict:
    p = out.params
    hs = p.horizons
    rows = []
    for r in out.cohorts.to_dict("records"):
        known = [h for h in hs if _finite(r[f"ltv_cac_{h}"]) is not None]
        ratio = (t("mkt.co.ratio", x=t.number(r[f"ltv_cac_{known[-1]}"]), h=known[-1])
                 if known else t.number(None))
        pb_days = _finite(r["payback_days"])
        pb_months = _finite(r["payback_months"])
        # without spend there is no CAC to pay back: a dash, not "not yet"
        waiting = t("mkt.co.not_yet") if _finite(r["cac"]) is not None else t.number(None)
        rows.append({
            "id": f"{r['key']}|{r['cohort'].isoformat()}", "key": _key(t, r["key"]),
            "cohort": t.period(r["cohort"], "month"),
            "cells": [{"col": "customers", "text": t.count(r["customers"])},
                      {"col": "spend", "text": t.currency(_finite(r["spend"]), currency)},
                      {"col": "cac", "text": t.currency(_finite(r["cac"]), currency)},
                      *({"col": f"ltv_{h}", "text": t.currency(_finite(r[f"ltv_{h}"]),
                                                                currency)} for h in hs),
                      {"col": "ltv_cac", "text": ratio},
                      {"col": "payback_days", "text": t("mkt.co.days", n=int(pb_days))
                       if pb_days is not None else waiting},
                      {"col": "payback_months", "text": t("mkt.co.months_n", n=int(pb_months))
                       if pb_months is not None else waiting},
                      {"col": "projected", "text": t.currency(
                          _finite(r["projected_ltv_12m"]), currency)}]})
    keys = [{"key": _key(t, r["key"]), "customers": t.count(r["customers"]),
             "spend": t.currency(_finite(r["spend"]), currency),
             "cac": t.currency(_finite(r["cac"]), currency),
             "ltv": [t.currency(_finite(r[f"ltv_{h}"]), currency) for h in hs]}
            for r in out.by_key.to_dict("records")]
    customers = int(out.by_key["customers"].sum()) if len(out.by_key) else 0
    spend = float(out.by_key["spend"].sum()) if len(out.by_key) else 0.0
    export = {k: v for k, v in {"start": p.start, "end": p.end, "by": p.by,
                                "margin": p.margin}.items() if v is not None}
    return {
        "horizons": hs, "rows": rows, "totals": keys, "notes": list(out.notes),
        "customers": t.count(customers), "spend": t.currency(spend, currency),
        "cac": t.currency(spend / customers, currency) if customers and spend else
        t.number(None),
        # data_end is exclusive (the day after the last order): show the last day
        "data_end": t.date(out.data_end - dt.timedelta(days=1)) if out.data_end
        else t.number(None),
        "export_csv": "/api/marketing/cohorts?" + urlencode({**export, "format": "csv"}),
        "charts": [_payback_chart(t, out, currency)] if rows else [],
    }


@router.get("/marketing/cohorts", response_class=HTMLResponse)
def cohorts_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """Acquisition cohorts by channel or campaign and month: LTV at the horizons, CAC,
    LTV/CAC, payback, and the payback curves against CAC."""
    t = translator_for(request, session)
    query = {k: v for k, v in _query(request).items() if k in ("start", "end", "by", "margin")}
    params = query_params(cos.CohortParams, query)
    out = cos.cohort_ltv(state, params)
    view = build_cohorts(t, out, state.workspace.settings.currency)
    return render(request, "marketing_cohorts.html", t, session=session, view=view,
                  params=params, charts=charts_payload(view["charts"], t))


# -- /marketing/attribution: models side by side, path explorer ------------------------------
def _model_label(t: Translator, model: str) -> str:
    if model.startswith("markov_"):
        return t("mkt.model.markov", order=model.removeprefix("markov_"))
    return t(f"mkt.model.{model}")


def build_attribution(t: Translator, out: svc.AttributionResult, paths: pd.DataFrame,
                      channel: str | None) -> dict:
    conv = out.conversions
    models = list(conv.columns)
    removal = (out.removal_effects.set_index("channel")["removal_effect"]
               if out.removal_effects is not None else None)
    rows = [{"channel": str(ch), "cells": [{"col": m, "text": t.number(_finite(conv.loc[ch, m]), 1)}
                                           for m in models],
             "removal": t.percent(_finite(removal.get(ch))) if removal is not None else None}
            for ch in conv.index]
    data = [{"type": "bar", "name": _model_label(t, m), "x": [str(c) for c in conv.index],
             "y": [float(v) for v in conv[m]], "marker": {"color": COLORS[i % len(COLORS)]}
             if i < len(COLORS) else {},
             "hovertemplate": "%{x}: %{y:,.1f}<extra>" + _model_label(t, m) + "</extra>"}
            for i, m in enumerate(models)]
    fig: dict[str, Any] = {"data": data, "layout": {
        **layout(t("mkt.at.chart"), t("mkt.at.channel"), t("mkt.at.conversions"),
                 y_format=",.1f", height=400), "barmode": "group"}}
    top = [{"path": r["path"], "touches": t.count(r["touches"]),
            "journeys": t.count(r["journeys"]), "conversions": t.number(r["conversions"], 0),
            "rate": t.percent(_finite(r["conversion_rate"])), "value": t.number(r["value"])}
           for r in paths.head(TOP_PATHS).to_dict("records")]
    return {
        "paths": t.count(out.paths), "channels": t.count(out.channels),
        "conversions": t.number(out.total_conversions, 0),
        "value": t.number(out.total_value), "models": [(m, _model_label(t, m)) for m in models],
        "rows": rows, "has_removal": removal is not None, "notes": list(out.notes),
        "top": top, "matched": t.count(len(paths)), "channel": channel,
        "channel_list": [str(c) for c in conv.index],
        "charts": [{"id": "chart-models", "figure": fig}],
    }


class _Refused(Exception):
    """A path upload the page refuses, with the message to show."""

    def __init__(self, message: str, hint: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.hint, self.status = message, hint, status


def _decode(t: Translator, data: bytes, name: str) -> str:
    """The text of an uploaded path file, bounded in size. Plain CSV only: the app refuses
    NUL bytes in the bodies of its pages (see shopscope.ui.security), and gzip has them."""
    if len(data) > MAX_UPLOAD:
        raise _Refused(t("mkt.at.too_large", name=name, mb=f"{MAX_UPLOAD / 1e6:.1f}"),
                       t("mkt.at.too_large_hint"), 413)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Refused(t("mkt.at.not_text", name=name)) from None


async def _upload(request: Request, t: Translator, csrf: str) -> tuple[str, str, dict]:
    """The path file's name and text and the form's other fields."""
    try:
        form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_UPLOAD)
    except (HTTPException, MultiPartException):  # a malformed body, or too many parts
        raise _Refused(t("mkt.at.bad_form"), t("mkt.at.choose")) from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not same_token(fields.get("csrf"), csrf):
        raise _Refused(t("mkt.at.csrf"), None, 403)
    file = form.get("file")
    if isinstance(file, UploadFile) and file.filename:
        data = await file.read(MAX_UPLOAD + 1)
        name = file.filename
    elif fields.get("paths"):  # the paths of the previous answer, sent back to filter them
        data = fields["paths"].encode()
        name = fields.get("name") or "paths.csv"
    else:
        raise _Refused(t("mkt.at.no_file"), t("mkt.at.choose"))
    return name, _decode(t, data, name), fields


@router.get("/marketing/attribution", response_class=HTMLResponse)
def attribution_form(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """The forms: this shop's own journeys (``?source=workspace``: their attribution and
    path explorer, the answer of ``GET /api/attribution/journeys``) or an uploaded file."""
    t = translator_for(request, session)
    query = _query(request)
    if query.pop("source", "") != "workspace":
        return render(request, "marketing_attribution.html", t, session=session, view=None,
                      error=None, kept=None, order=1, ws=None, charts=charts_payload([], t))
    order_text = query.pop("order", "") or "1"
    order = int(order_text) if order_text in ("1", "2", "3") else 1
    channel = query.pop("channel", "") or None
    jp = query_params(sj.JourneyParams, query)
    try:
        out = sj.attribute_workspace(state, jp, svc.make(svc.AttributionParams, order=order))
        paths = svc.top_paths(out.paths, channel)
    except ShopscopeError as exc:  # no journeys, or a channel not in them
        return render(request, "marketing_attribution.html", t, session=session, view=None,
                      error={"message": t.error(exc), "hint": exc.hint}, kept=None,
                      order=order, ws=jp, status_code=404 if isinstance(exc, LookupError)
                      else 422, charts=charts_payload([], t))
    view = build_attribution(t, out.result, paths, channel)
    view["workspace"] = {"journeys": t.count(out.journeys),
                         "unattributed": t.count(out.unattributed),
                         "unattributed_value": t.number(out.unattributed_value)}
    return render(request, "marketing_attribution.html", t, session=session, view=view,
                  error=None, kept=None, order=order, ws=jp,
                  charts=charts_payload(view["charts"], t))


@router.post("/marketing/attribution", response_class=HTMLResponse)
async def attribution_page(request: Request, state: State,
                           session: PageSession) -> HTMLResponse:
    """Every model's credit per channel on the uploaded paths; the top paths, optionally
    those through one channel."""
    t = translator_for(request, session)
    order = 1
    try:
        name, text, fields = await _upload(request, t, session.csrf)
        order_text = fields.get("order") or "1"
        order = int(order_text) if order_text in ("1", "2", "3") else 1
        channel = fields.get("channel") or None

        def compute() -> tuple[svc.AttributionResult, pd.DataFrame]:
            params = svc.make(svc.AttributionParams, order=order)
            journeys = svc.read_paths(io.StringIO(text), name=name)
            out = svc.attribute(journeys, params)
            return out, svc.top_paths(journeys, channel)

        out, paths = await run_in_threadpool(compute)
    except _Refused as exc:
        return render(request, "marketing_attribution.html", t, session=session, view=None,
                      error={"message": exc.message, "hint": exc.hint}, kept=None,
                      order=order, ws=None, status_code=exc.status,
                      charts=charts_payload([], t))
    except ShopscopeError as exc:  # the service's message names the file, row and column
        return render(request, "marketing_attribution.html", t, session=session, view=None,
                      error={"message": t.error(exc), "hint": exc.hint}, kept=None,
                      order=order, ws=None, status_code=422, charts=charts_payload([], t))
    view = build_attribution(t, out, paths, channel)
    # The paths go back in the filter form (no server-side state) while they fit a request.
    kept = {"name": name, "text": text} if len(text.encode()) <= MAX_KEPT else None
    return render(request, "marketing_attribution.html", t, session=session, view=view,
                  error=None, kept=kept, order=order, ws=None,
                  charts=charts_payload(view["charts"], t))
