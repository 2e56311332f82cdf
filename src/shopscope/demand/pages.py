"""The demand pages: ABC-XYZ classes of every SKU with the matrix and the demand patterns
(``/demand``), the replenishment list and the SKUs about to stock out (``/demand/plan``),
and one SKU's history, forecast with its interval and stock-outs (``/demand/sku/{id}``).

A thin adapter: the query string becomes the service's parameters (a bad value is an
error page naming it), :mod:`shopscope.demand.service` computes, and this module formats
the small results for the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.demand import service as svc
from shopscope.ui.charts import COLORS, charts_payload, layout
from shopscope.ui.deps import State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, query_params, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False)

ABC = ("A", "B", "C")
XYZ = ("X", "Y", "Z")
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy", "no_demand")
#: SKUs listed on the classes page (the export holds them all).
TOP = 50


def _query(request: Request) -> dict[str, str]:
    query = dict(request.query_params)
    query.pop("lang", None)
    return query


def _num(t: Translator, v: object, digits: int = 2) -> str:
    return "–" if v is None or pd.isna(cast(float, v)) else t.number(float(cast(float, v)),
                                                                      digits)


def _matrix(t: Translator, out: svc.Classes, currency: str) -> dict:
    """The ABC × XYZ table (series and share of revenue per cell, totals that add up)
    and its heat map."""
    cells = {(r["abc"], r["xyz"]): r for r in out.matrix.to_dict("records")}
    total = out.total_revenue or 0.0
    rows = []
    for a in ABC:
        row = []
        for x in XYZ:
            c = cells.get((a, x))
            count = int(c["series"]) if c else 0
            rev = float(c["revenue"]) if c else 0.0
            row.append({"series": t.count(count), "revenue": t.currency(rev, currency),
                        "share": t.percent(rev / total) if total else "–",
                        "href": "?" + urlencode({"abc": a, "xyz": x})})
        rows.append({"abc": a, "cells": row})
    z = [[float(cells[(a, x)]["revenue"]) if (a, x) in cells else 0.0 for x in XYZ]
         for a in ABC]
    n = [[int(cells[(a, x)]["series"]) if (a, x) in cells else 0 for x in XYZ] for a in ABC]
    fig: dict[str, Any] = {"data": [{"type": "heatmap", "x": list(XYZ), "y": list(ABC), "z": z,
                     "customdata": n, "showscale": False,
                     "colorscale": [[0, "#f1f5f9"], [1, "#2563eb"]],
                     "text": [[t.count(v) for v in r] for r in n], "texttemplate": "%{text}",
                     "hovertemplate": "%{y}%{x}: %{customdata} · %{z:,.0f} " + currency
                     + "<extra></extra>"}],
           "layout": {**layout(t("dem.matrix_chart"), t("dem.xyz"), t("dem.abc")),
                      "height": 320}}
    fig["layout"]["yaxis"]["autorange"] = "reversed"
    return {"rows": rows, "chart": {"id": "chart-matrix", "figure": fig}}


def _patterns(t: Translator, out: svc.Classes, currency: str) -> tuple[list[dict], dict]:
    pat = out.patterns.set_index("pattern")
    total = out.total_revenue or 0.0
    rows = [{"pattern": t(f"dem.pattern.{p}"), "series": t.count(int(pat.loc[p, "series"])),
             "revenue": t.currency(float(pat.loc[p, "revenue"]), currency),
             "share": t.percent(float(pat.loc[p, "revenue"]) / total) if total else "–"}
            for p in PATTERNS if p in pat.index]
    fig = {"data": [{"type": "bar", "x": [t(f"dem.pattern.{p}") for p in PATTERNS],
                     "y": [int(pat.loc[p, "series"]) if p in pat.index else 0
                           for p in PATTERNS],
                     "marker": {"color": COLORS[0]},
                     "hovertemplate": "%{x}: %{y}<extra></extra>"}],
           "layout": layout(t("dem.patterns_chart"), "", t("dem.series"))}
    return rows, {"id": "chart-patterns", "figure": fig}


def build_classes(t: Translator, query: Mapping[str, str], out: svc.Classes,
                  currency: str) -> dict:
    """Everything the classes page shows, formatted for ``t``'s language."""
    frame = out.frame
    picked = frame
    abc, xyz = query.get("abc", ""), query.get("xyz", "")
    if abc in ABC:
        picked = picked[picked["abc"] == abc]
    if xyz in XYZ:
        picked = picked[picked["xyz"] == xyz]
    sku = "product_id" in out.keys
    rows = [{"key": str(r[out.keys[0]]), "sku": sku, "abc": r["abc"], "xyz": r["xyz"],
             "pattern": t(f"dem.pattern.{r['pattern']}"),
             "revenue": t.currency(float(r["revenue"]), currency),
             "total": _num(t, r["total"], 0), "cv": _num(t, r["cv"]), "adi": _num(t, r["adi"]),
             "cv2": _num(t, r["cv2"])} for r in picked.head(TOP).to_dict("records")]
    export = {k: v for k, v in query.items() if k in ("start", "end", "grain", "level") and v}
    matrix = _matrix(t, out, currency)
    pattern_rows, pattern_chart = _patterns(t, out, currency)
    return {
        "range_label": t("dem.range", start=t.date(out.start), end=t.date(out.end)),
        "dates": {"start": out.start.isoformat(), "end": out.end.isoformat()},
        "series": t.count(len(frame)), "revenue": t.currency(out.total_revenue, currency),
        "matrix": matrix["rows"], "patterns": pattern_rows, "rows": rows,
        "picked": t.count(len(picked)), "cell": f"{abc}{xyz}",
        "export_csv": "/api/demand/classes?" + urlencode({**export, "format": "csv"}),
        "export_parquet": "/api/demand/classes?" + urlencode({**export, "format": "parquet"}),
        "charts": [matrix["chart"], pattern_chart],
    }


@router.get("/demand", response_class=HTMLResponse)
def classes_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """ABC-XYZ matrix, demand patterns and the SKUs with their classes."""
    t = translator_for(request, session)
    query = _query(request)
    params = query_params(svc.ClassParams, query)
    out = svc.classes(state, params)
    view = build_classes(t, query, out, state.workspace.settings.currency)
    return render(request, "demand.html", t, session=session, view=view, params=params,
                  charts=charts_payload(view["charts"], t))


def _sku_chart(t: Translator, history: pd.DataFrame, fc: pd.DataFrame, interval: int,
               grain: str) -> dict:
    """History, forecast and its interval band; periods with stock-outs marked (their
    demand is censored: sales lost, not demand absent)."""
    x_hist = [p.isoformat() for p in history["period"]]
    x_fc = [p.isoformat() for p in fc["period"]]
    data: list[dict] = [
        {"type": "scatter", "mode": "lines", "name": t("dem.history"), "x": x_hist,
         "y": [float(v) for v in history["demand"]], "line": {"color": COLORS[0]}},
        {"type": "scatter", "mode": "lines", "name": t("dem.interval", p=interval),
         "x": x_fc + x_fc[::-1],
         "y": [float(v) for v in fc["hi"]] + [float(v) for v in fc["lo"]][::-1],
         "fill": "toself", "fillcolor": "rgba(234,88,12,0.15)",
         "line": {"color": "rgba(0,0,0,0)"}, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "name": t("dem.forecast"), "x": x_fc,
         "y": [float(v) for v in fc["forecast"]],
         "line": {"color": COLORS[1], "dash": "dash"}},
    ]
    out = history[history["stockout_days"] > 0]
    if len(out):
        data.append({"type": "scatter", "mode": "markers", "name": t("dem.stockouts"),
                     "x": [p.isoformat() for p in out["period"]],
                     "y": [float(v) for v in out["demand"]],
                     "marker": {"color": "#dc2626", "symbol": "x", "size": 9}})
    axes = layout(t("dem.sku_chart"), t(f"dem.grain.{grain}"), t("dem.units"), height=380)
    fig: dict[str, Any] = {"data": data, "layout": axes}
    fig["layout"]["xaxis"]["type"] = "date"
    return {"id": "chart-sku", "figure": fig}


#: Weeks the weekly default needs: 14 of history, then 2 windows of 8 (forecast.min_periods).
_WEEKS = 30


def _sku_defaults(state: State, query: Mapping[str, str]) -> dict[str, str]:
    """8 weeks ahead, backtested on 2 windows, when the range holds enough weeks for it;
    else 14 days ahead on daily demand (a young shop's first months)."""
    start, end = svc.resolve(state, query_params(svc.SeriesParams, query))
    if query.get("grain") == "day" or (end - start).days // 7 < _WEEKS:
        return {"grain": "day", "h": "14", "windows": "2"}
    return {"grain": "week", "h": "8", "windows": "2"}


@router.get("/demand/sku/{product_id}", response_class=HTMLResponse)
def sku_page(product_id: str, request: Request, state: State,
             session: PageSession) -> HTMLResponse:
    """One SKU: demand history with stock-outs, the forecast and interval, the model
    chosen for its class and the backtest that chose it."""
    t = translator_for(request, session)
    query = _query(request)
    defaults = _sku_defaults(state, query)
    params = query_params(svc.ForecastParams, {**defaults, **query}, skus=(product_id,),
                     level="sku", by_channel=False)
    classes = svc.classes(state, svc.make(svc.ClassParams, **{
        f: getattr(params, f) for f in svc.ClassParams.model_fields}))
    if not len(classes.frame):
        raise svc.NoData(f"no sales of SKU {product_id!r} in the range",
                         hint="SKUs with demand are listed on /demand")
    row = classes.frame.iloc[0]
    out = svc.forecast(state, params)
    fc = out.forecast
    history = svc.series(state, params).frame
    if len(fc):  # a last partial week is left out of the fit: out of the chart too
        history = history[history["period"] < fc["period"].min()]
    currency = state.workspace.settings.currency
    pattern = str(row["pattern"])
    points = [{"period": t.date(r["period"]), "forecast": _num(t, r["forecast"], 1),
               "lo": _num(t, r["lo"], 1), "hi": _num(t, r["hi"], 1)}
              for r in fc.to_dict("records")]
    bt = out.backtest
    backtest = [{"model": str(r["model"]), "chosen": bool(r["chosen"]),
                 "mase": _num(t, r["mase"]), "wape": t.percent(float(r["wape"]))
                 if pd.notna(r["wape"]) else "–", "bias": _num(t, r["bias"]),
                 "vs_naive": _num(t, r["mase_vs_naive"])} for r in bt.to_dict("records")]
    stockouts = int((history["stockout_days"] > 0).sum())
    base = {k: v for k, v in {**defaults, **query}.items() if v}
    view = {
        "sku": product_id, "range_label": t("dem.range", start=t.date(out.start),
                                             end=t.date(out.end)),
        "dates": {"start": out.start.isoformat(), "end": out.end.isoformat()},
        "abc": row["abc"], "xyz": row["xyz"], "pattern": t(f"dem.pattern.{pattern}"),
        "revenue": t.currency(float(row["revenue"]), currency),
        "model": out.chosen.get(pattern) or t("dem.no_model"),
        "stockouts": t.count(stockouts), "points": points, "backtest": backtest,
        "export_csv": "/api/demand/forecast?" + urlencode(
            {**base, "sku": product_id, "format": "csv"}),
        "charts": [_sku_chart(t, history, fc, params.interval, params.grain)],
    }
    return render(request, "demand_sku.html", t, session=session, view=view, params=params,
                  charts=charts_payload(view["charts"], t))


#: What the plan page takes from the query string. Not ``policy``: that is a file path,
#: which only the CLI may name (a page must not read the server's files).
_PLAN_FIELDS = ("as_of", "csl", "review", "history_days", "lead_time", "within")
#: Alerts listed (the export holds the whole plan).
ALERTS = 50


def _day(t: Translator, v: object) -> str:
    return t.date(v) if hasattr(v, "isoformat") else "–"  # type: ignore[arg-type]


def _cover(t: Translator, v: object) -> str:
    if v is None or pd.isna(cast(float, v)):
        return "–"
    f = float(cast(float, v))
    return "∞" if f == float("inf") else t.number(f, 1)


def _alert_chart(t: Translator, alerts: pd.DataFrame) -> dict | None:
    top = alerts.head(20)
    if not len(top):
        return None
    ids = [str(p) for p in top["product_id"]][::-1]
    fig: dict[str, Any] = {"data": [
        {"type": "bar", "orientation": "h", "y": ids, "name": t("dem.plan.cover"),
         "x": [float(v) for v in top["days_of_cover"]][::-1], "marker": {"color": "#dc2626"}},
        {"type": "scatter", "mode": "markers", "y": ids, "name": t("dem.plan.lead"),
         "x": [float(v) for v in top["lead_time_days"]][::-1],
         "marker": {"color": COLORS[0], "symbol": "line-ns-open", "size": 14}}],
        "layout": {**layout(t("dem.plan.alert_chart"), t("dem.plan.days"), ""),
                   "height": 120 + 22 * len(ids)}}
    fig["layout"]["yaxis"]["type"] = "category"
    return {"id": "chart-alerts", "figure": fig}


def build_plan(t: Translator, query: Mapping[str, str], out: svc.Plan) -> dict:
    """The replenishment list and the alerts, formatted for ``t``'s language."""
    def num(v: object, digits: int = 0) -> str:
        return _num(t, v, digits)

    orders = [{"key": str(r["product_id"]), "location": str(r["location"]),
               "on_hand": num(r["on_hand"]), "position": num(r["position"]),
               "reorder_point": num(r["reorder_point"], 1), "qty": num(r["order_qty"]),
               "order_by": _day(t, r["order_by"]), "arrives": _day(t, r["arrives"]),
               "cover": _cover(t, r["days_of_cover"]), "note": "; ".join(r["note"])
               if isinstance(r["note"], list) else str(r["note"] or "")}
              for r in out.orders.to_dict("records")]
    alerts = out.alerts
    alert_rows = [{"key": str(r["product_id"]), "on_hand": num(r["on_hand"]),
                   "cover": _cover(t, r["days_of_cover"]),
                   "lead": num(r["lead_time_days"]), "mean": num(r["mean"], 2),
                   "reorder": bool(r["reorder"])}
                  for r in alerts.head(ALERTS).to_dict("records")]
    export = {k: v for k, v in query.items() if k in _PLAN_FIELDS and v}
    chart = _alert_chart(t, alerts)
    return {
        "as_of": t.date(out.as_of), "dates": {"as_of": out.as_of.isoformat()},
        "range_label": t("dem.plan.scope", day=t.date(out.as_of), start=t.date(out.start)),
        "skus": t.count(len(out.frame)), "to_order": t.count(len(out.orders)),
        "alerts_n": t.count(len(alerts)), "uncounted": t.count(out.uncounted),
        "orders": orders, "alerts": alert_rows,
        "export_csv": "/api/demand/plan/export?" + urlencode(export),
        "export_all": "/api/demand/plan/export?" + urlencode({**export, "all": "true"}),
        "charts": [chart] if chart else [],
    }


@router.get("/demand/plan", response_class=HTMLResponse)
def plan_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """What to order, how much and by when; the SKUs about to stock out."""
    t = translator_for(request, session)
    query = {k: v for k, v in _query(request).items() if k in _PLAN_FIELDS}
    params = query_params(svc.PlanParams, query)
    try:
        out = svc.plan(state, params)
    except svc.NoData as exc:  # no stock count yet: say what to load, on the page
        return render(request, "demand_plan.html", t, session=session, view=None,
                      params=params, missing=exc.message, hint=exc.hint,
                      charts=charts_payload([], t))
    view = build_plan(t, query, out)
    return render(request, "demand_plan.html", t, session=session, view=view, params=params,
                  missing=None, hint=None, charts=charts_payload(view["charts"], t))
