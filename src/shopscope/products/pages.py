"""The products pages: the product table with sparklines, category treemap and Pareto
curve (``/products``), one product (``/products/{id}``), frequently bought together
with bundle suggestions (``/products/bundles``) and the recommendation model: its holdout
evaluation and a customer's top N (``/products/recommendations``).

A thin adapter: the query string becomes the service's parameters (a bad value is an
error page naming it), :mod:`shopscope.products.service` computes, and this module formats
the small results for the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.products import recs_service as rsvc
from shopscope.products import service as svc
from shopscope.ui.charts import COLORS, charts_payload, layout
from shopscope.ui.deps import State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, query_params, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False)

#: The table's sortable columns, in display order.
COLUMNS = ("gmv", "net_sales", "units", "orders", "buyers", "repeat_share", "avg_price",
           "discount_rate", "return_rate", "view_to_purchase", "share_of_category",
           "rank_change")
_MONEY = {"gmv", "net_sales", "avg_price", "first_gmv", "aov", "added_value", "price"}
_RATE = {"repeat_share", "discount_rate", "return_rate", "view_to_cart", "view_to_purchase",
         "share_of_category", "support", "confidence", "co_rate", "share"}
PAGE_SIZE = 50


def _fmt(t: Translator, col: str, value: object, currency: str) -> str:
    v = svc.finite(value)
    if v is None:
        return "–"
    if col in _MONEY:
        return t.currency(v, currency)
    if col in _RATE:
        return t.percent(v)
    if col in ("lift", "leverage", "conviction"):
        return t.number(v, 2)
    if col == "rank_change":
        return f"+{int(v)}" if v > 0 else str(int(v)) if v < 0 else "0"
    return t.count(v)


def _sparkline(values: list[float], width: int = 96, height: int = 24) -> str:
    """The SVG polyline points of a sparkline (empty when there is no trend)."""
    if len(values) < 2:
        return ""
    top = max(*values, 1e-9)
    step = width / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
                    for i, v in enumerate(values))


def _range_label(t: Translator, r) -> str:
    if r.start is None or r.end is None:
        return ""
    return t("prod.range", start=t.date(r.start), end=t.date(r.end))


def _overview_charts(t: Translator, over: svc.Overview, currency: str) -> list[dict]:
    tree = over.tree
    charts = []
    if len(tree):
        cats = tree.groupby("category", as_index=False)["gmv"].sum()
        top = tree.sort_values("gmv", ascending=False).groupby("category").head(15)
        labels = [str(c) for c in cats["category"]] + [
            f"{p} {n}" if isinstance(n, str) else str(p)
            for p, n in zip(top["product_id"], top["name"], strict=True)]
        ids = [f"c:{c}" for c in cats["category"]] + [f"p:{p}" for p in top["product_id"]]
        parents = [""] * len(cats) + [f"c:{c}" for c in top["category"]]
        values = [float(v) for v in cats["gmv"]] + [float(v) for v in top["gmv"]]
        fig: dict[str, Any] = {"data": [{
                         "type": "treemap", "ids": ids, "labels": labels, "parents": parents,
                         "values": values, "branchvalues": "remainder",
                         "hovertemplate": "%{label}<br>%{value:,.2f} " + currency
                         + "<extra></extra>"}],
               "layout": {**layout(t("prod.treemap"), "", ""), "height": 420,
                          "margin": {"l": 8, "r": 8, "t": 52, "b": 8}}}
        charts.append({"id": "chart-treemap", "figure": fig})
    if over.pareto:
        n = len(over.pareto)
        x = [(i + 1) / n for i in range(n)]
        fig = {"data": [{"type": "scatter", "mode": "lines", "x": x, "y": over.pareto,
                         "name": t("prod.pareto"), "line": {"color": COLORS[0]},
                         "hovertemplate": "%{x:.1%} → %{y:.1%}<extra></extra>"}],
               "layout": layout(t("prod.pareto"), t("prod.pareto_x"), t("prod.pareto_y"),
                                y_format=".0%")}
        fig["layout"]["xaxis"]["tickformat"] = ".0%"
        charts.append({"id": "chart-pareto", "figure": fig})
    return charts


def build_products(t: Translator, query: Mapping[str, str], table: svc.ProductTable,
                   over: svc.Overview, categories: tuple[str, ...], currency: str) -> dict:
    """Everything the products page shows, formatted for ``t``'s language."""
    p = table.params
    perf = table.performance
    key = "product_id" if p.level == "product" else "category"
    rows = []
    for rec in table.rows.to_dict("records"):
        rows.append({
            "key": str(rec[key]), "name": rec.get("name") if p.level == "product" else "",
            "category": str(rec["category"]), "rank": int(rec["rank"]),
            "cells": [(c, _fmt(t, c, rec.get(c), currency)) for c in COLUMNS
                      if p.level == "product" or c != "share_of_category"],
            "spark": _sparkline(table.sparklines.get(str(rec[key]), [])),
            "reasons": ", ".join(r if r else t("prod.no_reason")
                                 for r in rec["top_reasons"]),
        })
    base = {k: v for k, v in query.items() if k != "offset" and v}
    pages = {}
    if p.offset > 0:
        pages["prev"] = "?" + urlencode({**base, "offset": max(0, p.offset - p.limit)})
    if p.offset + p.limit < table.matched:
        pages["next"] = "?" + urlencode({**base, "offset": p.offset + p.limit})
    export = {k: v for k, v in base.items() if k in ("start", "end", "level", "category",
                                                      "search", "sort", "desc")}
    st = over.sell_through
    cards = [
        ("gmv", t("prod.card.gmv"), t.currency(perf.totals["gmv"], currency)),
        ("net_sales", t("prod.card.net_sales"), t.currency(perf.totals["net_sales"], currency)),
        ("sell_through", t("prod.card.sell_through"), t.percent(st["rate"])
         if st["rate"] is not None else "–"),
        ("skus_80", t("prod.card.skus_80"), t.count(over.skus_80)
         if over.skus_80 is not None else "–"),
    ]
    new = [{"key": str(r["product_id"]), "name": r.get("name") or "",
            "launch": t.date(r["launch"].date()) if hasattr(r["launch"], "date") else "",
            "gmv": _fmt(t, "first_gmv", r["first_gmv"], currency),
            "units": t.count(r["first_units"])}
           for r in over.new_products.head(10).to_dict("records")]
    return {
        "range_label": _range_label(t, perf.range),
        "rows": rows, "matched": table.matched, "pages": pages,
        "columns": [c for c in COLUMNS if p.level == "product" or c != "share_of_category"],
        "cards": cards,
        "sell_through_note": t("prod.sell_through_note", sold=t.count(st["sold"]),
                               listed=t.count(st["listed"])),
        "unattributed": t.currency(perf.unattributed["gmv"], currency)
        if abs(perf.unattributed["gmv"]) > 0.005 else "",
        "new": new,
        "categories": categories,
        "export_csv": "/api/products?" + urlencode({**export, "format": "csv"}),
        "export_parquet": "/api/products?" + urlencode({**export, "format": "parquet"}),
        "dates": {"start": perf.range.start.isoformat() if perf.range.start else "",
                  "end": perf.range.end.isoformat() if perf.range.end else ""},
        "charts": _overview_charts(t, over, currency),
    }


@router.get("/products", response_class=HTMLResponse)
def products_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """The product table (sort, filter, search, sparklines), treemap and Pareto curve."""
    t = translator_for(request, session)
    query = dict(request.query_params)
    query.pop("lang", None)
    params = query_params(svc.TableParams, query, limit=PAGE_SIZE)
    currency = state.workspace.settings.currency
    table = svc.product_table(state, params)
    over = svc.overview(state, svc.RangeParams(start=params.start, end=params.end))
    view = build_products(t, query, table, over, svc.categories(state), currency)
    return render(request, "products.html", t, session=session, view=view, params=params,
                  charts=charts_payload(view["charts"], t))


def _items_label(items: tuple[str, ...], names: dict[str, str]) -> list[dict]:
    return [{"id": i, "name": names.get(i, "")} for i in items]


@router.get("/products/bundles", response_class=HTMLResponse)
def bundles_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """Frequently bought together (rules) and bundle suggestions."""
    t = translator_for(request, session)
    query = dict(request.query_params)
    query.pop("lang", None)
    rp = query_params(svc.RuleParams, query, limit=50)
    bp = svc.make(svc.BundleParams, start=rp.start, end=rp.end, max_len=rp.max_len,
                          min_support=rp.min_support, limit=30)
    currency = state.workspace.settings.currency
    out = svc.rules(state, rp)
    bund = svc.bundles(state, bp)
    rules = [{"ante": _items_label(r["antecedents"], out.names),
              "cons": _items_label(r["consequents"], out.names),
              "cells": [(c, _fmt(t, c, r[c], currency))
                        for c in ("support", "confidence", "lift", "leverage", "conviction")],
              "count": t.count(r["count"])}
             for r in out.top.to_dict("records")]
    bundles = [{"members": _items_label(r["items"], bund.names),
                "cells": [(c, _fmt(t, c, r[c], currency))
                          for c in ("added_value", "co_rate", "aov", "price")],
                "count": t.count(r["count"])}
               for r in bund.bundles.to_dict("records")]
    export = {k: v for k, v in query.items() if v}
    view = {"range_label": _range_label(t, out.range), "rules": rules, "bundles": bundles,
            "baskets": t.count(out.baskets), "total": t.count(out.total),
            "level": rp.level,
            "export_csv": "/api/products/rules?" + urlencode({**export, "format": "csv"}),
            "export_parquet": "/api/products/rules?" + urlencode({**export,
                                                                   "format": "parquet"}),
            "dates": {"start": out.range.start.isoformat() if out.range.start else "",
                      "end": out.range.end.isoformat() if out.range.end else ""}}
    return render(request, "product_bundles.html", t, session=session, view=view, params=rp)


def _text(v: object) -> str:
    return v if isinstance(v, str) else ""


def _similar(state: State, t: Translator, product_id: str) -> dict:
    """Similar items by the stored model, or why there are none (no model trained, or the
    product is newer than the model)."""
    try:
        r = rsvc.similar_items(state, rsvc.SimilarParams(product_id=product_id, k=8))
    except rsvc.NoModel:
        return {"rows": [], "why": t("prod.recs.no_model")}
    except svc.ProductNotFound:
        return {"rows": [], "why": t("prod.recs.not_in_model")}
    return {"model": r.model, "why": "" if len(r.similar) else t("prod.none"),
            "rows": [{"id": str(x["product_id"]), "name": _text(x["name"]),
                      "similarity": t.number(float(x["similarity"]), 3)}
                      for x in r.similar.to_dict("records")]}


def _segments(state: State, t: Translator, params: svc.DetailParams) -> dict:
    """The product's buyers by RFM segment, labelled in the reader's language."""
    from shopscope.customers import service as customers

    out = svc.buyer_segments(state, params)
    labels = customers.SEGMENTS["classic"]
    rows = [{"key": str(r["segment"]),
             "label": customers.label(labels[r["segment"]], t.lang)
             if r["segment"] in labels else t("prod.segments.unscored"),
             "buyers": t.count(int(r["buyers"])), "share": t.percent(float(r["share"]))}
            for r in out.frame.to_dict("records")]
    return {"rows": rows, "buyers": t.count(out.buyers), "as_of": t.date(out.as_of)}


#: The holdout's measures, in the order the page shows them.
RECS_METRICS = ("ndcg", "recall", "precision", "map", "hit_rate", "coverage", "novelty")


def build_recs(t: Translator, stored: rsvc.StoredModel, data_version: str) -> dict:
    """The stored model and its holdout evaluation, formatted for ``t``'s language."""
    info = stored.info
    ev = info.get("evaluation") or {}
    table = ev.get("table") or []
    k = info.get("k", 10)
    rows = [{"model": str(r["model"]), "best": str(r["model"]) == info.get("model"),
             "cells": [(m, t.number(float(r[m]), 2) if m == "novelty"
                        else t.percent(float(r[m]))) for m in RECS_METRICS if m in r]}
            for r in table]
    fig: dict[str, Any] = {"data": [{
        "type": "bar", "x": [str(r["model"]) for r in table],
        "y": [float(r["ndcg"]) for r in table], "marker": {"color": [
            COLORS[1] if str(r["model"]) == info.get("model") else COLORS[0] for r in table]},
        "hovertemplate": "%{x}: %{y:.1%}<extra></extra>"}],
        "layout": layout(t("prod.recs.ndcg_chart", k=k), "", f"NDCG@{k}", y_format=".0%")}
    return {
        "model": str(info.get("model")),
        "chosen": t("prod.recs.chosen_asked") if info.get("chosen") == "asked"
        else t("prod.recs.chosen_best", k=info.get("k", 10)),
        "trained_at": str(info.get("trained_at", ""))[:19].replace("T", " "),
        "customers": t.count(int(info.get("customers", 0))),
        "n_items": t.count(int(info.get("items", 0))),
        "stale": info.get("data_version") != data_version, "k": k,
        "split": t("prod.recs.split", cutoff=ev.get("cutoff", "?"),
                   end=ev.get("test_end", "?"), n=t.count(int(ev.get("customers", 0)))),
        "metrics": [m for m in RECS_METRICS if table and m in table[0]], "rows": rows,
        "charts": [{"id": "chart-ndcg", "figure": fig}] if table else [],
    }


@router.get("/products/recommendations", response_class=HTMLResponse)
def recs_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """The stored recommendation model: what it is, its holdout evaluation against the
    baselines, and a customer's top 10 (``?customer_id=``)."""
    t = translator_for(request, session)
    customer = request.query_params.get("customer_id", "").strip()
    try:
        stored = rsvc.stored_model(state)
    except rsvc.NoModel:
        return render(request, "product_recs.html", t, session=session, view=None,
                      customer=customer, lookup=None, charts=charts_payload([], t))
    view = build_recs(t, stored, state.store.data_version())
    lookup: dict[str, Any] | None = None
    if customer:
        who = rsvc.Viewer(admin=session.user.can("admin"), pseudonym_key=state.pseudonym_key)
        try:
            r = rsvc.recommend_for(state, rsvc.make(rsvc.RecsForParams, customer_id=customer,
                                                    k=10), who)
            lookup = {"id": r.customer_id, "fallback": r.fallback, "rows": [
                {"id": str(x["product_id"]), "name": _text(x["name"]),
                 "category": _text(x["category"]), "score": t.number(float(x["score"]), 3),
                 "bought": t.count(int(x["bought"]))} for x in r.items.to_dict("records")]}
        except (rsvc.CustomerNotFound, rsvc.PiiRefused) as exc:
            lookup = {"error": exc.message, "hint": exc.hint or ""}
    return render(request, "product_recs.html", t, session=session, view=view,
                  customer=customer, lookup=lookup, charts=charts_payload(view["charts"], t))


# last: /products/{product_id} would take /products/recommendations first
@router.get("/products/{product_id}", response_class=HTMLResponse)
def product_page(product_id: str, request: Request, state: State,
                 session: PageSession) -> HTMLResponse:
    """One product: cards, trend, funnel, returns and what is bought with it."""
    t = translator_for(request, session)
    query = dict(request.query_params)
    query.pop("lang", None)
    params = query_params(svc.DetailParams, query, product_id=product_id)
    currency = state.workspace.settings.currency
    try:
        d = svc.product_detail(state, params)
    except svc.ProductNotFound:
        return render(request, "error.html", t, session=session, status_code=404,
                      title=t("prod.not_found_title"),
                      message=t("prod.not_found", id=product_id))
    row = d.row or {}
    cards = [(c, t(f"prod.col.{c}"), _fmt(t, c, row.get(c), currency))
             for c in ("gmv", "net_sales", "units", "buyers", "repeat_share", "avg_price",
                       "return_rate", "share_of_category", "rank_change")]
    charts = []
    if len(d.trend):
        periods = [str(p)[:10] for p in d.trend["period"]]
        fig = {"data": [{"type": "bar", "x": periods, "y": [float(v) for v in d.trend["gmv"]],
                         "name": t("prod.col.gmv"), "marker": {"color": COLORS[0]}}],
               "layout": layout(t("prod.trend", grain=t(f"grain.{d.grain}")), "",
                                f"{t('prod.col.gmv')} ({currency})")}
        charts.append({"id": "chart-trend", "figure": fig})
    f = d.funnel
    if f["viewers"]:
        steps = [t("prod.funnel.viewers"), t("prod.funnel.carters"),
                 t("prod.funnel.purchasers")]
        fig = {"data": [{"type": "funnel", "y": steps,
                         "x": [f["viewers"], f["carters"], f["purchasers"]],
                         "marker": {"color": COLORS[1]}}],
               "layout": {**layout(t("prod.funnel"), "", ""), "height": 300}}
        charts.append({"id": "chart-funnel", "figure": fig})
    reasons = [{"reason": r["reason"] if isinstance(r["reason"], str) else t("prod.no_reason"),
                "returns": t.count(r["returns"]), "units": t.count(r["units"]),
                "amount": t.currency(r["amount"], currency)}
               for r in d.reasons.to_dict("records")]
    with_ = [{"id": str(r["item"]), "name": r.get("name") if isinstance(r.get("name"), str)
              else "", "count": t.count(r["count"]),
              "confidence": t.percent(r["confidence"]), "lift": t.number(r["lift"], 2)}
             for r in d.bought_with.to_dict("records")]
    name = d.info.get("name")
    view = {"id": product_id, "name": name if isinstance(name, str) else "",
            "similar": _similar(state, t, product_id),
            "segments": _segments(state, t, params),
            "category": str(d.info.get("category") or ""),
            "range_label": _range_label(t, d.range), "cards": cards,
            "sold": d.row is not None, "funnel": f, "reasons": reasons, "with": with_,
            "charts": charts,
            "dates": {"start": d.range.start.isoformat() if d.range.start else "",
                      "end": d.range.end.isoformat() if d.range.end else ""}}
    return render(request, "product.html", t, session=session, view=view, params=params,
                  charts=charts_payload(charts, t))
