"""The products API: SKU and category performance, one product, association rules and
bundles. A thin adapter over :mod:`shopscope.products.service`; every table downloads
whole as CSV or Parquet with ``format=``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from shopscope.auth import User
from shopscope.products import recs_service as rsvc
from shopscope.products import service as svc
from shopscope.products.service import finite
from shopscope.ui.deps import ApiError, CurrentUser, State, download, require

router = APIRouter(tags=["products"])
Format = Literal["json", "csv", "parquet"]
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}}

#: The columns of a performance row, in the API's order.
PERF_COLUMNS = ("rank", "rank_change", "gmv", "discounts", "cancelled", "returned",
                "net_sales", "units", "orders", "buyers", "repeat_buyers", "repeat_share",
                "avg_price", "discount_rate", "return_rate", "returned_units",
                "returned_unit_rate", "views", "viewers", "carters", "purchasers",
                "view_to_cart", "view_to_purchase", "share", "cum_share")


class PerfRow(BaseModel):
    """One SKU (``product_id`` set) or category; ratios null when undefined."""

    product_id: str | None = None
    sku: str | None = None
    name: str | None = None
    category: str
    values: dict[str, float | None]
    share_of_category: float | None = None
    top_reasons: list[str | None]
    sparkline: list[float]


class PerfPage(BaseModel):
    start: dt.date | None
    end: dt.date | None
    level: str
    grain: str
    periods: list[dt.date]
    items: list[PerfRow]
    matched: int
    totals: dict[str, float]
    unattributed: dict[str, float]


class OverviewOut(BaseModel):
    start: dt.date | None
    end: dt.date | None
    pareto: list[float]
    skus_80: int | None
    sell_through: dict[str, Any]
    new_products: list[dict[str, Any]]


class DetailOut(BaseModel):
    product: dict[str, Any]
    performance: dict[str, Any] | None
    grain: str
    trend: list[dict[str, Any]]
    funnel: dict[str, int]
    return_reasons: list[dict[str, Any]]
    bought_with: list[dict[str, Any]]


class RuleOut(BaseModel):
    antecedents: list[str]
    consequents: list[str]
    antecedent_support: float
    consequent_support: float
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float | None  # null: infinite (confidence 1)
    count: int


class RulesOut(BaseModel):
    start: dt.date | None
    end: dt.date | None
    level: str
    baskets: int
    total: int
    rules: list[RuleOut]
    names: dict[str, str]


class BundleOut(BaseModel):
    items: list[str]
    count: int
    support: float
    co_rate: float | None
    aov: float | None
    added_value: float | None
    price: float | None


class BundlesOut(BaseModel):
    start: dt.date | None
    end: dt.date | None
    bundles: list[BundleOut]
    names: dict[str, str]


def _text(value: object) -> str | None:
    """A text cell for JSON: None for null (pandas gives NaN for a missing string)."""
    return value if isinstance(value, str) else None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in frame.to_dict("records"):
        row = {}
        for k, v in rec.items():
            if isinstance(v, pd.Timestamp):
                row[k] = v.isoformat()
            elif isinstance(v, str) or v is None:
                row[k] = v
            elif isinstance(v, (list, tuple)):
                row[k] = list(v)
            else:
                row[k] = finite(v) if not isinstance(v, dt.date) else v.isoformat()
        out.append(row)
    return out


def _export(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists become ``a|b`` text for CSV and Parquet."""
    out = frame.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (list, tuple))).any():
            out[col] = out[col].map(lambda v: "|".join("" if x is None else str(x) for x in v))
    return out


@router.get("/api/products", response_model=PerfPage, responses=_FILES)
def get_products(
    state: State, user: CurrentUser,
    start: dt.date | None = None, end: dt.date | None = None,
    level: svc.Level = "product", category: str | None = Query(None, max_length=200),
    search: str | None = Query(None, max_length=100), sort: svc.SortKey = "gmv",
    desc: bool = True, offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(50, ge=1, le=10_000), format: Format = "json",
):
    """Every SKU's (or category's) performance over ``start``..``end``, sorted and
    filtered, with GMV sparklines; ``format=csv|parquet`` downloads every matching row."""
    params = svc.make(svc.TableParams, start=start, end=end, level=level, category=category,
                      search=search, sort=sort, desc=desc, offset=offset, limit=limit)
    if format != "json":
        rows = svc.product_table(state, params.model_copy(update={"limit": 1})).filtered
        return download(_export(rows), format, f"products-{level}")
    table = svc.product_table(state, params)
    key = "product_id" if level == "product" else "category"
    items = []
    for rec in table.rows.to_dict("records"):
        items.append(PerfRow(
            product_id=_text(rec.get("product_id")), sku=_text(rec.get("sku")),
            name=_text(rec.get("name")),
            category=str(rec["category"]),
            values={c: finite(rec.get(c)) for c in PERF_COLUMNS},
            share_of_category=finite(rec.get("share_of_category")),
            top_reasons=[_text(r) for r in rec["top_reasons"]],
            sparkline=table.sparklines.get(str(rec[key]), [])))
    perf = table.performance
    return PerfPage(start=perf.range.start, end=perf.range.end, level=level, grain=table.grain,
                    periods=list(table.periods), items=items, matched=table.matched,
                    totals=perf.totals, unattributed=perf.unattributed)


@router.get("/api/products/overview", response_model=OverviewOut)
def get_overview(state: State, user: CurrentUser, start: dt.date | None = None,
                 end: dt.date | None = None):
    """The long tail (Pareto of GMV by SKU), 动销率 and the new SKUs' first-30-day sales."""
    over = svc.overview(state, svc.make(svc.RangeParams, start=start, end=end))
    return OverviewOut(start=over.range.start, end=over.range.end, pareto=over.pareto,
                       skus_80=over.skus_80, sell_through=over.sell_through,
                       new_products=_records(over.new_products))


def _rule_frame(out: svc.Rules) -> pd.DataFrame:
    return out.rules.drop(columns=["basket_value"])


@router.get("/api/products/rules", response_model=RulesOut, responses=_FILES)
def get_rules(
    state: State, user: CurrentUser, start: dt.date | None = None,
    end: dt.date | None = None, level: svc.Level = "product",
    min_support: float = Query(0.01, gt=0, le=1), min_confidence: float = Query(0.0, ge=0, le=1),
    min_lift: float = Query(1.0, ge=0), max_len: int = Query(3, ge=2, le=3),
    sort: svc.RuleSort = "lift", limit: int = Query(100, ge=1, le=100_000),
    format: Format = "json",
):
    """Frequently bought together: rules A → C over the baskets (non-cancelled orders) of
    the range, with support, confidence, lift, leverage and conviction (as mlxtend's
    ``association_rules``)."""
    out = svc.rules(state, svc.make(
        svc.RuleParams, start=start, end=end, level=level, min_support=min_support,
        min_confidence=min_confidence, min_lift=min_lift, max_len=max_len, sort=sort,
        limit=limit))
    if format != "json":
        return download(_export(_rule_frame(out)), format, "product-rules")
    rules = [RuleOut(antecedents=list(r["antecedents"]), consequents=list(r["consequents"]),
                     antecedent_support=r["antecedent_support"],
                     consequent_support=r["consequent_support"], support=r["support"],
                     confidence=r["confidence"], lift=r["lift"], leverage=r["leverage"],
                     conviction=finite(r["conviction"]), count=int(r["count"]))
             for r in out.top.to_dict("records")]
    return RulesOut(start=out.range.start, end=out.range.end, level=level,
                    baskets=out.baskets, total=out.total, rules=rules, names=out.names)


@router.get("/api/products/bundles", response_model=BundlesOut, responses=_FILES)
def get_bundles(state: State, user: CurrentUser, start: dt.date | None = None,
                end: dt.date | None = None, min_support: float = Query(0.005, gt=0, le=1),
                max_len: int = Query(3, ge=2, le=3), limit: int = Query(50, ge=1, le=10_000),
                format: Format = "json"):
    """Bundle suggestions: pairs and triples by expected added basket value, with their
    co-purchase rate and the AOV of the baskets holding them."""
    out = svc.bundles(state, svc.make(svc.BundleParams, start=start, end=end,
                                      min_support=min_support, max_len=max_len, limit=limit))
    if format != "json":
        return download(_export(out.bundles), format, "product-bundles")
    items = [BundleOut(items=list(r["items"]), count=int(r["count"]), support=r["support"],
                       co_rate=finite(r["co_rate"]), aov=finite(r["aov"]),
                       added_value=finite(r["added_value"]), price=finite(r["price"]))
             for r in out.bundles.to_dict("records")]
    return BundlesOut(start=out.range.start, end=out.range.end, bundles=items, names=out.names)


class RecItem(BaseModel):
    product_id: str
    name: str | None
    category: str | None
    score: float | None
    bought: int  # times the customer bought it (orders)


class RecsOut(BaseModel):
    customer_id: str  # a pseudonym for non-admins when the id is personal data
    model: str
    filter_bought: bool
    fallback: bool  # no history in the model: the most popular items
    stale: bool  # the data changed since the model was trained
    items: list[RecItem]


class SimilarItem(BaseModel):
    product_id: str
    name: str | None
    category: str | None
    similarity: float | None


class AlsoBoughtItem(BaseModel):
    product_id: str
    name: str | None
    category: str | None
    buyers: int
    share: float | None


class SimilarOut(BaseModel):
    product_id: str
    name: str | None
    model: str
    buyers: int
    similar: list[SimilarItem]
    also_bought: list[AlsoBoughtItem]


def _recs_error(exc: Exception) -> ApiError:
    """The service's lookup failures as API errors (404 unknown / no model, 403 PII)."""
    assert isinstance(exc, svc.ShopscopeError)
    if isinstance(exc, rsvc.PiiRefused):
        return ApiError(403, "pii_id", exc.message, exc.hint)
    code = "no_model" if isinstance(exc, rsvc.NoModel) else "not_found"
    return ApiError(404, code, exc.message, exc.hint)


_LOOKUP = (rsvc.NoModel, rsvc.CustomerNotFound, svc.ProductNotFound, rsvc.PiiRefused)


@router.get("/api/products/recommendations", response_model=RecsOut)
def get_recommendations(state: State, user: CurrentUser,
                        customer_id: str = Query(min_length=1, max_length=200),
                        k: int = Query(10, ge=1, le=100),
                        filter_bought: bool | None = None):
    """The stored model's top ``k`` items for a customer (``shopscope recommend train``
    stores it); ``filter_bought`` leaves out what they bought (default: as trained)."""
    params = svc.make(rsvc.RecsForParams, customer_id=customer_id, k=k,
                      filter_bought=filter_bought)
    try:
        r = rsvc.recommend_for(state, params, rsvc.Viewer(admin=user.can("admin"),
                                                        pseudonym_key=state.pseudonym_key))
    except _LOOKUP as exc:
        raise _recs_error(exc) from None
    items = [RecItem(product_id=str(x["product_id"]), name=_text(x["name"]),
                     category=_text(x["category"]), score=finite(x["score"]),
                     bought=int(x["bought"])) for x in r.items.to_dict("records")]
    return RecsOut(customer_id=r.customer_id, model=r.model, filter_bought=r.filter_bought,
                   fallback=r.fallback, stale=r.stale, items=items)


@router.get("/api/products/recommendations/audience/{name}", response_class=Response,
            responses=_FILES)
def export_audience_recs(name: str, state: State,
                         user: User = Depends(require("analyst")),
                         k: int = Query(10, ge=1, le=100), as_of: dt.date | None = None,
                         filter_bought: bool | None = None,
                         format: Literal["csv", "parquet"] = "csv",
                         pii: Literal["mask", "raw"] = "mask") -> Response:
    """The stored model's top ``k`` for every member of a saved audience (analyst or
    admin): customer_id, rank, product_id, name, category, score, fallback. Ids that are
    e-mails or phone numbers leave as pseudonyms unless an admin asks ``raw``."""
    params = svc.make(rsvc.AudienceRecsParams, audience=name, k=k, as_of=as_of,
                      filter_bought=filter_bought, pii=pii)
    try:
        with state.lock:  # the audience is computed in the engine, one writer at a time
            r = rsvc.audience_recs(state, params, rsvc.Viewer(
                admin=user.can("admin"), pseudonym_key=state.pseudonym_key))
    except (LookupError, PermissionError) as exc:
        raise _recs_error(exc) from None
    return download(r.frame, format, f"recommendations-{name}")


@router.get("/api/products/similar", response_model=SimilarOut)
def get_similar(state: State, user: CurrentUser,
                product_id: str = Query(min_length=1, max_length=200),
                k: int = Query(10, ge=1, le=100)):
    """Items similar to a product by the stored model, and what its buyers also bought."""
    try:
        r = rsvc.similar_items(state, svc.make(rsvc.SimilarParams, product_id=product_id, k=k))
    except _LOOKUP as exc:
        raise _recs_error(exc) from None
    similar = [SimilarItem(product_id=str(x["product_id"]), name=_text(x["name"]),
                           category=_text(x["category"]), similarity=finite(x["similarity"]))
               for x in r.similar.to_dict("records")]
    also = [AlsoBoughtItem(product_id=str(x["product_id"]), name=_text(x["name"]),
                           category=_text(x["category"]), buyers=int(x["buyers"]),
                           share=finite(x["share"])) for x in r.also_bought.to_dict("records")]
    return SimilarOut(product_id=product_id, name=r.name, model=r.model, buyers=r.buyers,
                      similar=similar, also_bought=also)


@router.get("/api/products/{product_id}", response_model=DetailOut)
def get_product(state: State, user: CurrentUser, product_id: str,
                start: dt.date | None = None, end: dt.date | None = None):
    """One SKU: its performance, trend, funnel, return reasons and what is bought with it."""
    try:
        d = svc.product_detail(state, svc.make(svc.DetailParams, product_id=product_id,
                                               start=start, end=end))
    except svc.ProductNotFound as exc:
        raise ApiError(404, "not_found", exc.message, exc.hint) from None
    row = None if d.row is None else {
        k: (v if isinstance(v, str) or v is None else
            list(v) if isinstance(v, (list, tuple)) else finite(v))
        for k, v in d.row.items()}
    info = {k: (None if v is None or (not isinstance(v, str) and pd.isna(v)) else
                v.isoformat() if isinstance(v, (pd.Timestamp, dt.date)) else v)
            for k, v in d.info.items()}
    return DetailOut(product=info, performance=row, grain=d.grain,
                     trend=_records(d.trend), funnel=d.funnel,
                     return_reasons=_records(d.reasons), bought_with=_records(d.bought_with))
