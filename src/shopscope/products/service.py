"""The products area's service: the one entry point of its API, pages and CLI.

Each function takes a context (:class:`shopscope.core.service.Context`) and typed
parameters and returns a frozen result, cached under the parameters' key. Ranges are
:class:`~shopscope.core.periods.DateRange` days, ``start`` to ``end`` both included; an
open end takes the data's first or last day (the previous period of the rank change needs
a bounded range).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import ibis
import pandas as pd
from pydantic import Field, model_validator

from shopscope.core.periods import DateRange, data_span
from shopscope.core.service import Context, Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.errors import OptionError, ShopscopeError
from shopscope.products import baskets as bq
from shopscope.products import metrics as pq

if TYPE_CHECKING:
    pass

Level = Literal["product", "category"]
SortKey = Literal["gmv", "net_sales", "units", "orders", "buyers", "repeat_share",
                  "avg_price", "discount_rate", "return_rate", "views", "view_to_cart",
                  "view_to_purchase", "share_of_category", "rank_change", "rank"]
RuleSort = Literal["lift", "confidence", "support", "leverage", "conviction"]

#: Columns summed into the table's totals (they add up over SKUs and categories).
ADDITIVE = ("gmv", "discounts", "cancelled", "returned", "net_sales", "units")


class ProductNotFound(ShopscopeError, LookupError):
    """A product id the catalogue and the order lines do not know."""

    exit_code = 1




# -- ranges ------------------------------------------------------------------------------
class RangeParams(Params):
    """A range of days, both ends included (None: the data's first or last day)."""

    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _check(self) -> RangeParams:
        DateRange(self.start, self.end)  # start after end: PeriodError
        return self


def order_span(ctx: Context) -> tuple[dt.date, dt.date] | None:
    """The first and last day with orders."""
    return ctx.cached(("products.span",),
                      lambda: data_span(ctx.store, [("orders", "ordered_at")]))


def resolve(ctx: Context, params: RangeParams) -> DateRange:
    """The asked range with open ends closed by the data's span."""
    span = order_span(ctx)
    if span is None:
        return DateRange(params.start, params.end)
    return DateRange(params.start or span[0], params.end or span[1])


def _bounds(r: DateRange) -> tuple[dt.datetime | None, dt.datetime | None]:
    def at(d: dt.date | None) -> dt.datetime | None:
        return None if d is None else dt.datetime(d.year, d.month, d.day)

    return at(r.start), at(r.stop)


def previous(r: DateRange) -> DateRange | None:
    """The range of the same length just before ``r`` (None when ``r`` is open)."""
    if r.start is None or r.end is None:
        return None
    days = (r.end - r.start).days + 1
    return DateRange(r.start - dt.timedelta(days=days), r.start - dt.timedelta(days=1))


def trend_grain(r: DateRange) -> str:
    """The sparklines' grain: days for a month or less, weeks up to half a year, else
    months."""
    if r.start is None or r.end is None:
        return "month"
    days = (r.end - r.start).days + 1
    return "day" if days <= 31 else "week" if days <= 183 else "month"


# -- performance -------------------------------------------------------------------------
class PerfParams(RangeParams):
    """Performance of every SKU (``level="product"``) or category over a range."""

    level: Level = "product"


@dataclass(frozen=True, eq=False)
class Performance:
    """One row per SKU or category (``frame``, ranked by GMV, with ``rank_change`` vs the
    previous range of the same length: positive = moved up; null = not ranked before), the
    ``unattributed`` rest of the shop's money (order value beyond product lines, credits
    without a product) and the ``totals`` of the additive columns including that rest."""

    params: PerfParams
    range: DateRange
    frame: pd.DataFrame
    unattributed: dict[str, float]
    totals: dict[str, float]
    with_events: bool


def _frame(ctx: Context, r: DateRange, level: str) -> pd.DataFrame:
    start, stop = _bounds(r)
    frame = pq.performance(ctx.store, start, stop, level).execute()
    key = "product_id" if level == "product" else "category"
    reasons = pq.return_reasons(ctx.store, start, stop, level).execute()
    top = {k: [None if pd.isna(x) else str(x) for x in g.sort_values(
        ["returns", "reason"], ascending=[False, True])["reason"]]
        for k, g in reasons.groupby(key)} if len(reasons) else {}
    frame["top_reasons"] = [top.get(k, []) for k in frame[key]]
    return frame.sort_values(["rank", key]).reset_index(drop=True)


def _performance(ctx: Context, params: PerfParams) -> Performance:
    r = resolve(ctx, params)
    frame = _frame(ctx, r, params.level)
    key = "product_id" if params.level == "product" else "category"
    before = previous(r)
    if before is not None:
        start, stop = _bounds(before)
        prev = pq.performance(ctx.store, start, stop, params.level)
        prev = prev.filter(prev.gmv > 0).select(key, prev_rank="rank").execute()
        frame = frame.merge(prev, on=key, how="left")
        frame["rank_change"] = frame["prev_rank"] - frame["rank"]
    else:
        frame["prev_rank"] = float("nan")
        frame["rank_change"] = float("nan")
    start, stop = _bounds(r)
    rest = pq.unattributed(ctx.store, start, stop).execute().iloc[0]
    unattributed = {c: float(0 if pd.isna(rest[c]) else rest[c]) for c in rest.index}
    totals = {c: float(frame[c].sum()) + unattributed.get(c, 0.0) for c in ADDITIVE}
    return Performance(params=params, range=r, frame=frame, unattributed=unattributed,
                       totals=totals, with_events=bool(frame["views"].sum() > 0))


def performance(ctx: Context, params: PerfParams) -> Performance:
    """Every SKU's (category's) metrics over the range."""
    return ctx.cached(("products.performance", params.cache_key()),
                      lambda: _performance(ctx, params))


# -- the product table -------------------------------------------------------------------
class TableParams(PerfParams):
    """A page of the product table: ``category`` filter, ``search`` in id, SKU and name,
    ``sort`` column (``desc`` by default), ``offset``/``limit``."""

    category: str | None = None
    search: str | None = Field(None, max_length=100)
    sort: SortKey = "gmv"
    desc: bool = True
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=10_000)


@dataclass(frozen=True, eq=False)
class ProductTable:
    """The filtered, sorted ``rows`` of a page (``matched`` in all), with each row's
    GMV per ``grain`` period in ``sparklines`` (key → values over ``periods``)."""

    params: TableParams
    performance: Performance
    rows: pd.DataFrame
    matched: int
    grain: str
    periods: tuple[dt.date, ...] = ()
    sparklines: dict[str, list[float]] = field(default_factory=dict)

    @property
    def filtered(self) -> pd.DataFrame:
        return _filtered(self.performance.frame, self.params)


def _filtered(frame: pd.DataFrame, p: TableParams) -> pd.DataFrame:
    out = frame
    if p.category:
        out = out[out["category"] == p.category]
    if p.search and p.level == "product":
        needle = p.search.strip().casefold()
        text = (out["product_id"].astype(str) + " " + out["sku"].fillna("").astype(str) + " "
                + out["name"].fillna("").astype(str)).str.casefold()
        out = out[text.str.contains(needle, regex=False)]
    key = "product_id" if p.level == "product" else "category"
    if p.sort not in out.columns:
        raise OptionError(f"sort={p.sort!r} is not a column at level {p.level}",
                          hint="sort by gmv, net_sales, units, orders, buyers …")
    return out.sort_values([p.sort, key], ascending=[not p.desc, True], na_position="last")


def _sparklines(ctx: Context, r: DateRange, grain: str, keys: list[str],
                level: str) -> tuple[tuple[dt.date, ...], dict[str, list[float]]]:
    if not keys or r.start is None or r.end is None:
        return (), {}
    from shopscope.core.periods import period_start, shift

    periods = []
    p = period_start(r.start, grain)
    while p <= r.end:
        periods.append(p)
        p = shift(p, grain)
    start, stop = _bounds(r)
    data = pq.trend(ctx.store, start, stop, grain, keys, level).execute()
    key = "product_id" if level == "product" else "category"
    out = {k: [0.0] * len(periods) for k in keys}
    index = {d: i for i, d in enumerate(periods)}
    for row in data.itertuples(index=False):
        i = index.get(pd.Timestamp(row.period).date())
        if i is not None:
            out[getattr(row, key)][i] = float(row.gmv)
    return tuple(periods), out


def product_table(ctx: Context, params: TableParams) -> ProductTable:
    """A sorted, filtered page of the performance table with sparkline trends."""
    perf = performance(ctx, PerfParams(start=params.start, end=params.end,
                                       level=params.level))

    def build() -> ProductTable:
        matched = _filtered(perf.frame, params)
        rows = matched.iloc[params.offset: params.offset + params.limit].reset_index(drop=True)
        key = "product_id" if params.level == "product" else "category"
        grain = trend_grain(perf.range)
        periods, lines = _sparklines(ctx, perf.range, grain, [str(k) for k in rows[key]],
                                     params.level)
        return ProductTable(params=params, performance=perf, rows=rows, matched=len(matched),
                            grain=grain, periods=periods, sparklines=lines)

    return ctx.cached(("products.table", params.cache_key()), build)


# -- the overview: treemap, Pareto, 动销率, new SKUs -------------------------------------
@dataclass(frozen=True, eq=False)
class Overview:
    """Category → SKU GMV for the treemap (``tree``), the Pareto curve (``pareto``: SKU
    rank → cumulative share of GMV), how many SKUs make 80% of GMV (``skus_80``), 动销率
    (``sell_through``: listed, sold, rate, by_inventory) and the new SKUs with their
    first-30-day sales."""

    params: RangeParams
    range: DateRange
    tree: pd.DataFrame
    pareto: list[float]
    skus_80: int | None
    sell_through: dict[str, float | int | bool | None]
    new_products: pd.DataFrame


def _overview(ctx: Context, params: RangeParams) -> Overview:
    perf = performance(ctx, PerfParams(start=params.start, end=params.end))
    frame = perf.frame
    sold = frame[frame["gmv"] > 0].sort_values(["rank", "product_id"])
    pareto = [float(x) for x in sold["cum_share"]]
    skus_80 = next((i + 1 for i, x in enumerate(pareto) if x >= 0.8 - 1e-12), None)
    tree = sold[["product_id", "name", "category", "gmv", "net_sales", "units"]]
    start, stop = _bounds(perf.range)
    by_inventory = int(pq.in_stock_rows(ctx.store, start, stop).execute()) > 0
    st = pq.sell_through(ctx.store, start, stop, by_inventory).execute().iloc[0]
    rate = None if pd.isna(st["rate"]) else float(st["rate"])
    new = pq.new_products(ctx.store, start, stop).execute()
    new = new.sort_values(["first_gmv", "product_id"], ascending=[False, True])
    return Overview(params=params, range=perf.range, tree=tree.reset_index(drop=True),
                    pareto=pareto, skus_80=skus_80,
                    sell_through={"listed": int(st["listed"]), "sold": int(st["sold"]),
                                  "rate": rate, "by_inventory": by_inventory},
                    new_products=new.reset_index(drop=True))


def overview(ctx: Context, params: RangeParams) -> Overview:
    """The whole-catalogue views of the products page."""
    return ctx.cached(("products.overview", params.cache_key()),
                      lambda: _overview(ctx, params))


# -- one product -------------------------------------------------------------------------
class DetailParams(RangeParams):
    product_id: str = Field(min_length=1, max_length=200)


@dataclass(frozen=True, eq=False)
class ProductDetail:
    """One SKU: its catalogue ``info`` and performance ``row`` (None when it did not sell
    in the range), the ``trend`` per ``grain`` period, the ``funnel`` (visitors who viewed,
    carted, purchased; buyers from orders), ``reasons`` of its returns and the items
    ``bought_with`` it (count, confidence, lift)."""

    params: DetailParams
    range: DateRange
    info: dict[str, object]
    row: dict[str, object] | None
    grain: str
    trend: pd.DataFrame
    funnel: dict[str, int]
    reasons: pd.DataFrame
    bought_with: pd.DataFrame


def _detail(ctx: Context, params: DetailParams) -> ProductDetail:
    products = ctx.store.table("products")
    info = products.filter(products.product_id == params.product_id).execute()
    perf = performance(ctx, PerfParams(start=params.start, end=params.end))
    rows = perf.frame[perf.frame["product_id"] == params.product_id]
    if info.empty and rows.empty:
        raise ProductNotFound(f"no product {params.product_id!r}",
                              hint="product ids are listed by `shopscope products table`")
    r = perf.range
    start, stop = _bounds(r)
    grain = trend_grain(r)
    trend = pq.trend(ctx.store, start, stop, grain, [params.product_id]).execute()
    trend = trend.sort_values("period").reset_index(drop=True)
    reasons = pq.return_reasons(ctx.store, start, stop, top=10).execute()
    reasons = reasons[reasons["product_id"] == params.product_id].drop(columns="product_id")
    with_ = bq.bought_with(ctx.store, params.product_id, start, stop).execute()
    with_ = with_.sort_values(["count", "lift", "item"], ascending=[False, False, True])
    names = products.select("product_id", "name").filter(
        products.product_id.isin([str(i) for i in with_["item"].head(20)])).execute()
    with_ = with_.head(20).merge(names.rename(columns={"product_id": "item"}), on="item",
                                 how="left")
    row = rows.iloc[0].to_dict() if len(rows) else None
    funnel = {k: int(row[k]) if row else 0 for k in ("viewers", "carters", "purchasers",
                                                    "buyers")}
    meta = info.iloc[0].to_dict() if len(info) else {"product_id": params.product_id}
    return ProductDetail(params=params, range=r, info=meta, row=row, grain=grain,
                         trend=trend, funnel=funnel, reasons=reasons.reset_index(drop=True),
                         bought_with=with_.reset_index(drop=True))


def product_detail(ctx: Context, params: DetailParams) -> ProductDetail:
    """Everything the product page shows about one SKU."""
    return ctx.cached(("products.detail", params.cache_key()), lambda: _detail(ctx, params))


@dataclass(frozen=True, eq=False)
class BuyerSegments:
    """The product's buyers in the range (with a customer id) by their RFM segment
    (classic scheme) on the range's last day: ``frame`` (segment, buyers, share; the
    buyers add up to ``buyers``)."""

    as_of: dt.date
    buyers: int
    frame: pd.DataFrame


def _buyer_segments(ctx: Context, params: DetailParams) -> BuyerSegments:
    from shopscope.customers import service as customers

    r = resolve(ctx, params)
    start, stop = _bounds(r)
    ids = pq.buyers(ctx.store, params.product_id, start, stop).execute()["customer_id"]
    as_of = r.stop or dt.date.today()  # RFM of the orders before the day after the range
    seg = customers.rfm_customers(ctx, customers.RfmParams(as_of=as_of)).segments
    got = seg[seg["customer_id"].isin(set(ids.astype(str)))]
    counts = got.groupby("segment").size().rename("buyers").reset_index()
    missing = len(ids) - len(got)  # buyers without an RFM score: their own row, so the
    if missing:                    # segments add up to the buyers
        counts.loc[len(counts)] = ["unscored", missing]
    counts = counts.sort_values(["buyers", "segment"], ascending=[False, True])
    counts["share"] = counts["buyers"] / len(ids) if len(ids) else 0.0
    return BuyerSegments(as_of=as_of, buyers=len(ids), frame=counts.reset_index(drop=True))


def buyer_segments(ctx: Context, params: DetailParams) -> BuyerSegments:
    """Who buys the product: its buyers by RFM segment."""
    return ctx.cached(("products.buyer_segments", params.cache_key()),
                      lambda: _buyer_segments(ctx, params))


# -- frequently bought together ----------------------------------------------------------
class RuleParams(RangeParams):
    """Association rules over the range's baskets: thresholds, ``level`` (SKUs or
    categories), itemsets up to ``max_len`` items, the ``limit`` best by ``sort``."""

    level: Level = "product"
    min_support: float = Field(0.01, gt=0, le=1)
    min_confidence: float = Field(0.0, ge=0, le=1)
    min_lift: float = Field(1.0, ge=0)
    max_len: int = Field(3, ge=2, le=3)
    sort: RuleSort = "lift"
    limit: int = Field(100, ge=1, le=100_000)


@dataclass(frozen=True, eq=False)
class Rules:
    """``rules`` (the rules over the thresholds, best first by ``params.sort``, at most
    :data:`MAX_RULES` of ``total``; items as tuples, names in ``names``) and the basket
    count ``baskets``."""

    params: RuleParams
    range: DateRange
    baskets: int
    rules: pd.DataFrame
    names: dict[str, str]
    total: int = 0  # rules over the thresholds (``rules`` keeps at most MAX_RULES)

    @property
    def top(self) -> pd.DataFrame:
        return self.rules.head(self.params.limit)


def _names(ctx: Context, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    p = ctx.store.table("products")
    got = p.filter(p.product_id.isin(sorted(ids))).select("product_id", "name").execute()
    return {str(a): str(b) for a, b in zip(got["product_id"], got["name"], strict=True)
            if b is not None and not pd.isna(b)}


#: Rules kept (the best by the asked order) when thresholds let through more: a few
#: baskets and a low support give millions of triple rules.
MAX_RULES = 20_000


def _rules(ctx: Context, params: RuleParams) -> Rules:
    r = resolve(ctx, params)
    start, stop = _bounds(r)
    n = bq.baskets(ctx.store, start, stop, params.level)
    count = int(n.order_id.nunique().execute())
    expr = bq.rules(ctx.store, start, stop, min_support=params.min_support,
                    min_confidence=params.min_confidence, min_lift=params.min_lift,
                    level=params.level, max_len=params.max_len)
    total = int(expr.count().execute())
    if total > MAX_RULES:
        expr = expr.order_by([ibis.desc(params.sort), ibis.desc("support")]).limit(MAX_RULES)
    frame = expr.execute()
    for col in ("antecedents", "consequents"):
        frame[col] = [tuple(str(x) for x in v) for v in frame[col]]
    frame = frame.sort_values([params.sort, "support", "antecedents", "consequents"],
                              ascending=[False, False, True, True]).reset_index(drop=True)
    ids = {i for col in ("antecedents", "consequents") for v in frame[col] for i in v}
    names = _names(ctx, ids) if params.level == "product" else {}
    return Rules(params=params, range=r, baskets=count, rules=frame, names=names,
                 total=total)


def rules(ctx: Context, params: RuleParams) -> Rules:
    """Frequently-bought-together rules (pairs and triples) with their measures."""
    return ctx.cached(("products.rules", params.cache_key()), lambda: _rules(ctx, params))


class BundleParams(RangeParams):
    min_support: float = Field(0.005, gt=0, le=1)
    max_len: int = Field(3, ge=2, le=3)
    limit: int = Field(50, ge=1, le=10_000)


@dataclass(frozen=True, eq=False)
class Bundles:
    """Bundle suggestions, highest ``added_value`` first (see
    :func:`shopscope.products.baskets.bundles`)."""

    params: BundleParams
    range: DateRange
    bundles: pd.DataFrame
    names: dict[str, str]


def _bundles(ctx: Context, params: BundleParams) -> Bundles:
    r = resolve(ctx, params)
    start, stop = _bounds(r)
    frame = bq.bundles(ctx.store, start, stop, min_support=params.min_support,
                       max_len=params.max_len).execute()
    frame["items"] = [tuple(str(x) for x in v) for v in frame["items"]]
    frame = frame.sort_values(["added_value", "count", "items"],
                              ascending=[False, False, True]).head(params.limit)
    ids = {i for v in frame["items"] for i in v}
    return Bundles(params=params, range=r, bundles=frame.reset_index(drop=True),
                   names=_names(ctx, ids))


def bundles(ctx: Context, params: BundleParams) -> Bundles:
    """Pairs and triples of SKUs worth selling as a bundle."""
    return ctx.cached(("products.bundles", params.cache_key()), lambda: _bundles(ctx, params))


def finite(value: object) -> float | None:
    """A number for JSON: None for null, NaN and ±inf."""
    if value is None:
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def categories(ctx: Context) -> tuple[str, ...]:
    """The catalogue's categories, for the filters."""
    def build() -> tuple[str, ...]:
        p = ctx.store.table("products")
        got = p.select(c=p.category.fill_null(pq.UNKNOWN)).distinct().execute()
        return tuple(sorted(str(c) for c in got["c"]))

    return ctx.cached(("products.categories",), build)
