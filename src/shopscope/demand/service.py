"""The demand area's service: the one entry point of its API and CLI.

Each function takes a context (:class:`shopscope.core.service.Context`) and typed
parameters and returns a frozen result, cached under the parameters' key. Ranges are days,
``start`` to ``end`` both included; an open end takes the first or last day with orders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from shopscope.core.periods import DateRange, data_span
from shopscope.core.service import Context, Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.demand import abcxyz as cl
from shopscope.demand import forecast as fc
from shopscope.demand import series as sq
from shopscope.errors import OptionError, ShopscopeError

Grain = Literal["day", "week"]
Level = Literal["sku", "category"]


class NoData(ShopscopeError, LookupError):
    """No orders to build demand series from."""

    exit_code = 1




class SeriesParams(Params):
    """Demand series over ``start``..``end`` (None: the data's first or last day)."""

    start: dt.date | None = None
    end: dt.date | None = None
    grain: Grain = "day"
    level: Level = "sku"
    by_channel: bool = False
    skus: tuple[str, ...] | None = Field(None, max_length=10_000)

    @model_validator(mode="after")
    def _check(self) -> SeriesParams:
        DateRange(self.start, self.end)  # start after end: PeriodError
        if self.skus is not None and self.level != "sku":
            raise ValueError("skus filter SKU series: use level=sku")
        return self


class ClassParams(SeriesParams):
    """Classes of the series: ABC shares ``a``, ``b`` (C takes the rest), XYZ limits of CV
    ``x``, ``y``."""

    a: float = Field(0.80, gt=0, le=1)
    b: float = Field(0.15, ge=0, le=1)
    x: float = Field(0.5, ge=0)
    y: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _shares(self) -> ClassParams:
        if self.a + self.b > 1 + 1e-12:
            raise ValueError(f"a + b = {self.a + self.b:g} exceeds 1 (C takes 1 - a - b)")
        if self.x > self.y:
            raise ValueError(f"x = {self.x:g} is above y = {self.y:g}")
        return self


class ForecastParams(ClassParams):
    """Forecasts ``h`` periods ahead for the ``top`` series by revenue (or the ``skus``),
    the model per class chosen over ``windows`` rolling origins, ``interval``% bounds."""

    h: int = Field(28, ge=1, le=366)
    windows: int = Field(3, ge=1, le=12)
    interval: int = Field(80, ge=50, le=99)
    top: int = Field(200, ge=1, le=100_000)


def _span(ctx: Context) -> tuple[dt.date, dt.date] | None:
    """The first and last day observed: orders, credits or stock counts (None: no
    orders)."""
    def build() -> tuple[dt.date, dt.date] | None:
        if data_span(ctx.store, [("orders", "ordered_at")]) is None:
            return None
        return data_span(ctx.store, [("orders", "ordered_at"), ("returns", "returned_at"),
                                     ("inventory", "date")])

    return ctx.cached(("demand.span",), build)


def resolve(ctx: Context, params: SeriesParams) -> tuple[dt.date, dt.date]:
    """The asked range within the data's span (open ends: the span's), at most
    :data:`~shopscope.core.periods.MAX_PERIODS` periods."""
    span = _span(ctx)
    if span is None:
        raise NoData("no orders in the workspace", hint="load data first (shopscope ingest)")
    # days before the first or after the last order are not observed: no zeros for them
    start = max(params.start or span[0], span[0])
    end = min(params.end or span[1], span[1])
    if start > end:
        raise OptionError(f"the range {params.start} to {params.end} holds no orders",
                          hint=f"the data run from {span[0]} to {span[1]}")
    # one series per SKU and period: a range of centuries would build billions of rows
    DateRange(start, end).check_span(params.grain)
    return start, end


def keys(level: str, by_channel: bool) -> list[str]:
    return (["product_id"] if level == "sku" else ["category"]) + (
        ["channel"] if by_channel else [])


@dataclass(frozen=True, eq=False)
class Series:
    """``frame``: one row per series and period (keys, ``period``, the netted units and
    money, ``demand``, ``stockout_days``, ``censored``), sorted."""

    params: SeriesParams
    start: dt.date
    end: dt.date
    keys: tuple[str, ...]
    frame: pd.DataFrame


def _series(ctx: Context, params: SeriesParams) -> Series:
    start, end = resolve(ctx, params)
    k = keys(params.level, params.by_channel)
    expr = sq.demand_series(ctx.store, start, end, params.grain, params.level,
                            params.by_channel, list(params.skus) if params.skus else None)
    frame = expr.execute()
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    frame = frame.sort_values([*k, "period"]).reset_index(drop=True)
    return Series(params=params, start=start, end=end, keys=tuple(k), frame=frame)


def _series_params(params: SeriesParams) -> SeriesParams:
    return SeriesParams(start=params.start, end=params.end, grain=params.grain,
                        level=params.level, by_channel=params.by_channel, skus=params.skus)


def series(ctx: Context, params: SeriesParams) -> Series:
    """The zero-filled demand series."""
    params = _series_params(params)
    return ctx.cached(("demand.series", params.cache_key()), lambda: _series(ctx, params))


@dataclass(frozen=True, eq=False)
class Classes:
    """``frame``: one row per series with its statistics, ``cv``, ``adi``, ``cv2`` and
    classes (``abc``, ``xyz``, ``pattern``), by revenue; ``matrix``: the ABC × XYZ cells
    with series and revenue; ``patterns``: series and revenue per Syntetos-Boylan class;
    ``total_revenue`` of every series (the cells add up to it)."""

    params: ClassParams
    start: dt.date
    end: dt.date
    keys: tuple[str, ...]
    frame: pd.DataFrame
    matrix: pd.DataFrame
    patterns: pd.DataFrame
    total_revenue: float


def _classes(ctx: Context, params: ClassParams) -> Classes:
    start, end = resolve(ctx, params)
    k = keys(params.level, params.by_channel)
    expr = sq.demand_series(ctx.store, start, end, params.grain, params.level,
                            params.by_channel, list(params.skus) if params.skus else None)
    stats = sq.series_stats(expr, k).execute()
    frame = cl.classify(stats, params.a, params.b, params.x, params.y)
    frame = frame.sort_values(["revenue", *k], ascending=[False, *[True] * len(k)])
    frame = frame.reset_index(drop=True)
    pat = frame.groupby("pattern").agg(series=("revenue", "size"), revenue=("revenue", "sum"))
    pat = pat.reindex(list(cl.PATTERNS), fill_value=0).reset_index()
    return Classes(params=params, start=start, end=end, keys=tuple(k), frame=frame,
                   matrix=cl.matrix(frame), patterns=pat,
                   total_revenue=float(frame["revenue"].sum()))


def classes(ctx: Context, params: ClassParams) -> Classes:
    """ABC, XYZ and Syntetos-Boylan classes of every series, and the ABC-XYZ matrix."""
    return ctx.cached(("demand.classes", params.cache_key()), lambda: _classes(ctx, params))


@dataclass(frozen=True, eq=False)
class Forecast:
    """``forecast``: one row per series and future period (keys, ``period``,
    ``forecast``, ``lo``, ``hi``, ``pattern``, ``model``); ``chosen``: the model per class;
    ``backtest``: per class and candidate the mean MASE and RMSSE, WAPE, bias and
    ``mase_vs_naive`` (MASE / seasonal naive's); ``skipped``: series without demand or too
    short (forecast 0, no model)."""

    params: ForecastParams
    start: dt.date
    end: dt.date
    keys: tuple[str, ...]
    season: int
    forecast: pd.DataFrame
    chosen: dict[str, str]
    backtest: pd.DataFrame
    skipped: tuple[str, ...]


def _uid(frame: pd.DataFrame, k: list[str]) -> pd.Series:
    out = frame[k[0]].astype(str)
    for col in k[1:]:
        out = out + " · " + frame[col].astype(str)
    return out


def _whole_weeks(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """The weeks wholly inside the range: a first week that starts before ``start`` and a
    last one that ends after ``end`` hold part of a week's demand, which the models would
    read as a drop."""
    first = start + dt.timedelta(days=(7 - start.weekday()) % 7)  # the first Monday
    last = end - dt.timedelta(days=(end.weekday() + 1) % 7 + 6)  # Monday of the last Sunday
    return frame[(frame["period"] >= first) & (frame["period"] <= last)]


def _forecast(ctx: Context, params: ForecastParams) -> Forecast:
    start, end = resolve(ctx, params)  # one cache entry for an open and a closed end
    params = params.model_copy(update={"start": start, "end": end})
    cls = classes(ctx, ClassParams(**{f: getattr(params, f) for f in ClassParams.model_fields}))
    k = list(cls.keys)
    top = cls.frame.head(params.top).copy()
    # only the forecast SKUs' series leave the engine
    wanted = tuple(str(x) for x in top["product_id"].unique()) if params.level == "sku" \
        else None
    s = series(ctx, params.model_copy(update={"skus": wanted}))
    data = _whole_weeks(s.frame, cls.start, cls.end) if params.grain == "week" else s.frame
    n_periods = int(data.groupby(k).size().max()) if len(data) else 0
    season = fc.season_length(params.grain, n_periods, params.h, params.windows)
    need = fc.min_periods(season, params.h, params.windows)
    if n_periods < need:
        raise OptionError(
            f"the range has {n_periods} {params.grain}s; {params.windows} backtest windows of "
            f"{params.h} need at least {need}",
            hint="widen the range, or lower --h or --windows")
    top["unique_id"] = _uid(top, k)
    data = data.assign(unique_id=_uid(data, k))
    data = data[data["unique_id"].isin(set(top["unique_id"]))]
    panel = pd.DataFrame({"unique_id": data["unique_id"].to_numpy(),
                          "ds": pd.to_datetime(data["period"]),
                          "y": data["demand"].astype("float64").to_numpy()})
    pattern = dict(zip(top["unique_id"], top["pattern"], strict=True))
    skipped = tuple(sorted(u for u, p in pattern.items() if p == "no_demand"))
    out, chosen, tables = [], {}, []
    for cls_name, names in fc.CANDIDATES.items():
        ids = [u for u, p in pattern.items() if p == cls_name]
        if not ids:
            continue
        part = panel[panel["unique_id"].isin(ids)]
        cv = fc.cross_validate(part, names, season, params.grain, params.h, params.windows)
        scored = fc.scores(cv, part, names, season)
        chosen[cls_name] = fc.choose(scored, names)
        summary = fc.summarise(scored)
        naive = summary.set_index("model")["mase"].get(fc.NAIVE, float("nan"))
        summary["mase_vs_naive"] = summary["mase"] / naive if naive and naive > 0 else None
        summary.insert(0, "pattern", cls_name)
        summary["chosen"] = summary["model"] == chosen[cls_name]
        tables.append(summary)
        pred = fc.predict(part, chosen[cls_name], season, params.grain, params.h,
                          params.interval)
        pred["pattern"] = cls_name
        pred["model"] = chosen[cls_name]
        out.append(pred)
    if skipped:
        last = pd.Timestamp(panel["ds"].max())
        step = pd.Timedelta(days=1 if params.grain == "day" else 7)
        future = [last + step * (i + 1) for i in range(params.h)]
        out.append(pd.DataFrame({
            "unique_id": [u for u in skipped for _ in future], "ds": future * len(skipped),
            "forecast": 0.0, "lo": 0.0, "hi": 0.0, "pattern": "no_demand", "model": None}))
    frame = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["unique_id", "ds", "forecast", "lo", "hi", "pattern", "model"])
    ids = top.set_index("unique_id")[k]
    frame = frame.join(ids, on="unique_id")
    frame["period"] = pd.to_datetime(frame["ds"]).dt.date
    frame = frame[[*k, "period", "forecast", "lo", "hi", "pattern", "model"]]
    frame = frame.sort_values([*k, "period"]).reset_index(drop=True)
    backtest = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=["pattern", "model", "series", "mase", "rmsse", "wape", "bias",
                 "mase_vs_naive", "chosen"])
    return Forecast(params=params, start=cls.start, end=cls.end, keys=tuple(k), season=season,
                    forecast=frame, chosen=chosen, backtest=backtest, skipped=skipped)


def forecast(ctx: Context, params: ForecastParams) -> Forecast:
    """Forecasts with intervals for the top series, the model chosen per demand class by
    rolling-origin cross-validation, and the backtest that chose it."""
    return ctx.cached(("demand.forecast", params.cache_key()), lambda: _forecast(ctx, params))


# -- inventory policy: the replenishment plan and its simulation (issue 17, points 4, 5) --

Source = Literal["history", "forecast"]
#: At most this many SKUs are passed to the engine as a filter; beyond, all are read.
_SKU_FILTER = 10_000


class PolicyParams(Params):
    """The policy's settings: target cycle service level ``csl``; ``review`` 0 for a
    continuous review (s, Q) checked daily, else the days between reviews (R, S);
    demand statistics over the ``history_days`` up to the plan's day; fallbacks
    ``lead_time`` (days), ``order_cost`` (per order), ``holding_rate`` (per year, of the
    unit cost), ``cover_days`` (Q without a unit cost); ``min_sales`` sale days to set
    levels; ``policy``: a .toml or .csv file of lead times, MOQ, packs and costs."""

    csl: float = Field(0.95, ge=0.5, lt=1)
    review: int = Field(0, ge=0, le=365)
    history_days: int = Field(90, ge=7, le=1_000)
    lead_time: int = Field(7, ge=0, le=365)
    order_cost: float = Field(50.0, ge=0)
    holding_rate: float = Field(0.25, ge=0, le=10)
    cover_days: int = Field(28, ge=1, le=365)
    min_sales: int = Field(2, ge=1, le=365)
    policy: str | None = None


class PlanParams(PolicyParams):
    """A plan on ``as_of`` (None: the data's last day): the demand from ``source``
    (history, or the chosen forecast ``h`` days ahead with ``interval``% bounds for the
    ``top`` SKUs); flags ``overstock_days`` of cover; ``within``: list too the SKUs that
    reach their reorder point within so many days."""

    as_of: dt.date | None = None
    source: Source = "history"
    h: int = Field(28, ge=1, le=366)
    interval: int = Field(80, ge=50, le=99)
    top: int = Field(200, ge=1, le=100_000)
    overstock_days: float = Field(180.0, gt=0)
    within: int = Field(0, ge=0, le=365)


class SimulateParams(PolicyParams):
    """Levels set on the ``history_days`` up to ``cutoff``, replayed day by day on the
    real demand after it (to ``end``, None: the data's last day), next to a naive policy
    that orders up to ``naive_weeks`` weeks of mean demand every ``naive_review`` days."""

    cutoff: dt.date
    end: dt.date | None = None
    naive_weeks: float = Field(4.0, gt=0, le=52)
    naive_review: int = Field(7, ge=1, le=365)

    @model_validator(mode="after")
    def _order(self) -> SimulateParams:
        if self.end is not None and self.end <= self.cutoff:
            raise ValueError(f"end {self.end} is not after cutoff {self.cutoff}")
        return self


def _policy_file(params: PolicyParams) -> dict | None:
    from pathlib import Path

    from shopscope.demand import plan as pl

    return pl.load_policy(Path(params.policy)) if params.policy else None


def _counts(ctx: Context, as_of: dt.date) -> pd.DataFrame:
    """The latest stock count per SKU and location on or before ``as_of``."""
    inv = ctx.store.table("inventory")
    inv = inv.filter(inv.date <= as_of)
    last = inv.group_by(["product_id", "location"]).agg(_last=inv.date.max())
    j = inv.join(last, [inv.product_id == last.product_id, inv.location == last.location,
                        inv.date == last._last])
    frame = j.select(inv.product_id, inv.location, inv.date, inv.on_hand, inv.on_order,
                     inv.lead_time_days).execute()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


def _catalog(ctx: Context) -> pd.DataFrame:
    p = ctx.store.table("products")
    return p.select("product_id", "category", "cost").execute()


def _history(ctx: Context, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per SKU sold over ``start``..``end``: ``days`` in stock (not censored), ``mean`` and
    population ``std`` of daily demand on them, ``sale_days``, ``sold`` (every day) and
    ``stockout_days``."""
    s = series(ctx, make(SeriesParams, start=start, end=end)).frame
    kept = s[~s["censored"].astype(bool)]
    g = kept.groupby("product_id")["demand"]
    out = pd.DataFrame({"days": g.size(), "mean": g.mean(), "std": g.std(ddof=0),
                        "sale_days": kept[kept["demand"] > 0].groupby("product_id").size()})
    all_ = s.groupby("product_id")
    out = out.reindex(all_.size().index)
    out["sold"] = all_["demand"].sum()
    out["stockout_days"] = all_["stockout_days"].sum()
    return out.fillna({"days": 0, "sale_days": 0}).reset_index()


def _stats(ctx: Context, hist: pd.DataFrame, skus: list[str]) -> pd.DataFrame:
    """``hist`` for every SKU of ``skus`` (a SKU without a sale in the window: zeros,
    noted), with its category and cost."""
    base = pd.DataFrame({"product_id": skus})
    f = base.merge(hist, on="product_id", how="left").merge(_catalog(ctx), on="product_id",
                                                            how="left")
    no_sale = f["sold"].isna()
    f = f.fillna({"days": 0, "sale_days": 0, "sold": 0, "stockout_days": 0})
    # no sale, or out of stock every day (``days`` 0): no demand seen, the levels say so
    f[["mean", "std"]] = f[["mean", "std"]].fillna(0.0)
    f["notes"] = [["no sale in the window"] if n else [] for n in no_sale]
    f["demand_source"] = "history"
    return f


@dataclass(frozen=True, eq=False)
class Plan:
    """``frame``: one row per SKU with a stock count (see docs/demand.md for every
    column); ``orders``: its replenishment list (``reorder``), by order-by day;
    ``alerts``: the SKUs about to stock out, fewest days of cover first;
    ``uncounted``: SKUs sold in the window without any stock count (not planned)."""

    params: PlanParams
    as_of: dt.date
    start: dt.date
    frame: pd.DataFrame
    orders: pd.DataFrame
    uncounted: int
    alerts: pd.DataFrame


def _alerts(frame: pd.DataFrame) -> pd.DataFrame:
    """SKUs whose stock runs out before an order placed today could arrive: days of cover
    at most the lead time (and some demand), fewest days first."""
    cover = pd.to_numeric(frame["days_of_cover"], errors="coerce")
    lead = pd.to_numeric(frame["lead_time_days"], errors="coerce")
    hit = frame[(cover <= lead) & (pd.to_numeric(frame["mean"], errors="coerce") > 0)]
    return hit.assign(_c=cover[hit.index]).sort_values(["_c", "product_id"]).drop(
        columns="_c").reset_index(drop=True)


PLAN_COLUMNS = (
    "product_id", "category", "location", "counted_on", "on_hand", "on_order", "position",
    "demand_source", "mean", "std", "days", "sold", "sell_through", "stockout_days",
    "days_of_cover", "overstock", "dead_stock", "lead_time_days", "lead_time_source",
    "safety_stock", "reorder_point", "order_up_to", "eoq", "moq", "pack", "fill_rate",
    "reorder", "order_qty", "order_by", "arrives", "note")


def _plan(ctx: Context, params: PlanParams) -> Plan:
    from shopscope.demand import plan as pl

    policy = _policy_file(params)
    span = _span(ctx)
    if span is None:
        raise NoData("no orders in the workspace", hint="load data first (shopscope ingest)")
    as_of = min(params.as_of or span[1], span[1])
    start = max(as_of - dt.timedelta(days=params.history_days - 1), span[0])
    if start > as_of:
        raise OptionError(f"as_of {as_of} is before the first order ({span[0]})",
                          hint="pick a later day")
    counts = _counts(ctx, as_of)
    if counts.empty:
        raise NoData(f"no stock count on or before {as_of}: nothing to plan from",
                     hint="load the inventory table (date, product_id, location, on_hand)")
    stock = pl.stock_rows(counts)
    skus = list(stock["product_id"])
    sold = _history(ctx, start, as_of)  # every SKU: the uncounted ones are counted
    stats = _stats(ctx, sold[sold["product_id"].isin(set(skus))], skus)
    if params.source == "forecast":
        stats = _with_forecast(ctx, params, as_of, stats, skus)
    stats = stats.merge(stock[["product_id", "lead_time_days", "notes"]].rename(
        columns={"notes": "stock_notes"}), on="product_id")
    stats["notes"] = [a + b for a, b in zip(stats["stock_notes"], stats["notes"],
                                            strict=True)]
    lv = pl.policy_rows(stats, csl=params.csl, review=params.review,
                        default_lead=params.lead_time, order_cost=params.order_cost,
                        holding_rate=params.holding_rate, cover_days=params.cover_days,
                        min_sales=params.min_sales, policy=policy)
    frame = pl.replenishment(stock, stats.drop(columns=["stock_notes"]), lv, as_of,
                             overstock_days=params.overstock_days, within=params.within)
    frame = frame[list(PLAN_COLUMNS)].sort_values("product_id").reset_index(drop=True)
    for col in frame.columns:  # a value that does not apply is None (the note says why)
        if frame[col].dtype.kind == "f" and frame[col].isna().any():
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    orders = frame[frame["reorder"]].sort_values(["order_by", "product_id"])
    uncounted = int((~sold["product_id"].isin(set(skus)) & (sold["sold"] > 0)).sum())
    return Plan(params=params, as_of=as_of, start=start, frame=frame,
                orders=orders.reset_index(drop=True), uncounted=uncounted,
                alerts=_alerts(frame))


def _with_forecast(ctx: Context, params: PlanParams, as_of: dt.date, stats: pd.DataFrame,
                   skus: list[str]) -> pd.DataFrame:
    """Mean and σ of daily demand from the chosen forecast: the mean forecast over ``h``
    days, σ = the mean half-width of the interval / its z (normal errors)."""
    from scipy.stats import norm

    wanted = tuple(skus) if len(skus) <= _SKU_FILTER else None
    fc_ = forecast(ctx, make(ForecastParams, end=as_of, h=params.h,
                             interval=params.interval, top=params.top, skus=wanted)).forecast
    z = float(norm.ppf(0.5 + params.interval / 200))
    g = fc_.assign(sd=(fc_["hi"] - fc_["lo"]) / (2 * z)).groupby("product_id")
    got = pd.DataFrame({"f_mean": g["forecast"].mean(), "f_std": g["sd"].mean(),
                        "model": g["model"].first()}).reset_index()
    f = stats.merge(got, on="product_id", how="left")
    has = f["f_mean"].notna()
    f.loc[has, "mean"] = f.loc[has, "f_mean"]
    f.loc[has, "std"] = f.loc[has, "f_std"]
    f.loc[has, "demand_source"] = f.loc[has, "model"].fillna("no demand").map(
        lambda m: f"forecast ({m})")
    f["notes"] = [n if h else [*n, f"not forecast (outside the top {params.top}): history"]
                  for n, h in zip(f["notes"], has, strict=True)]
    return f.drop(columns=["f_mean", "f_std", "model"])


def plan(ctx: Context, params: PlanParams) -> Plan:
    """The replenishment plan per SKU and its list of orders (what, how much, by when)."""
    return ctx.cached(("demand.plan", params.cache_key()), lambda: _plan(ctx, params))


@dataclass(frozen=True, eq=False)
class Simulation:
    """``frame``: per SKU the levels and, for the policy (``policy_…``) and the naive
    cover (``naive_…``), fill rate, CSL, stock-out days, average inventory, turns and
    orders; ``totals``: one row per policy with ``target_csl``; ``skipped``: SKUs without
    enough sales before the cutoff to set levels."""

    params: SimulateParams
    train_start: dt.date
    start: dt.date
    end: dt.date
    frame: pd.DataFrame
    totals: pd.DataFrame
    skipped: int


def _simulate(ctx: Context, params: SimulateParams) -> Simulation:
    import numpy as np

    from shopscope.demand import plan as pl
    from shopscope.demand import simulate as sim

    policy = _policy_file(params)
    span = _span(ctx)
    if span is None:
        raise NoData("no orders in the workspace", hint="load data first (shopscope ingest)")
    end = min(params.end or span[1], span[1])
    start = params.cutoff + dt.timedelta(days=1)
    train = max(params.cutoff - dt.timedelta(days=params.history_days - 1), span[0])
    if start > end or params.cutoff < span[0]:
        raise OptionError(f"cutoff {params.cutoff} leaves no days to train on or to replay",
                          hint=f"pick a day between {span[0]} and {span[1]}")
    hist = _history(ctx, train, params.cutoff)
    stats = _stats(ctx, hist, list(hist["product_id"]))
    counts = _counts(ctx, params.cutoff)
    lead = counts.groupby("product_id")["lead_time_days"].max().rename("lead_time_days")
    stats = stats.merge(lead, on="product_id", how="left")
    lv = pl.policy_rows(stats, csl=params.csl, review=params.review,
                        default_lead=params.lead_time, order_cost=params.order_cost,
                        holding_rate=params.holding_rate, cover_days=params.cover_days,
                        min_sales=params.min_sales, policy=policy)
    lv = lv[lv["reorder_point"].notna()].reset_index(drop=True)
    skipped = len(stats) - len(lv)
    if lv.empty:
        raise OptionError(f"no SKU has {params.min_sales} sale days in the "
                          f"{params.history_days} days up to {params.cutoff}",
                          hint="move the cutoff later or lower --min-sales")
    held = series(ctx, make(SeriesParams, start=start, end=end)).frame
    days = sq.calendar(start, end, "day")
    mat = held.pivot_table(index="product_id", columns="period", values="demand",
                           aggfunc="sum").reindex(index=lv["product_id"], columns=days)
    demand = mat.fillna(0).to_numpy(dtype="float64")
    mean = lv[["product_id"]].merge(stats[["product_id", "mean"]])["mean"].to_numpy()
    lead_days = np.ceil(lv["lead_time_days"].to_numpy(dtype="float64"))
    s_ = lv["reorder_point"].to_numpy(dtype="float64")
    big_s = lv["order_up_to"].to_numpy(dtype="float64")
    common = {"lead": lead_days, "moq": lv["moq"].to_numpy(dtype="float64"),
              "pack": lv["pack"].to_numpy(dtype="float64")}
    ours = sim.replay(demand, reorder=s_, target=big_s, start=big_s, review=params.review,
                      **common)
    naive_s = mean * 7 * params.naive_weeks
    naive = sim.replay(demand, reorder=naive_s, target=naive_s, start=naive_s,
                       review=params.naive_review, **common)
    frame = lv[["product_id", "lead_time_days", "safety_stock", "reorder_point",
                "order_up_to", "note"]].copy()
    frame.insert(1, "mean", mean)
    for name, r in (("policy", ours), ("naive", naive)):
        part = sim.per_sku(r).add_prefix(f"{name}_")
        frame = pd.concat([frame, part.drop(columns=[f"{name}_demand"]) if name == "naive"
                           else part], axis=1)
    frame = frame.rename(columns={"policy_demand": "demand"})
    kind = "(s, Q) daily" if params.review == 0 else f"(R, S) every {params.review} d"
    totals = pd.DataFrame([
        {"policy": kind, "target_csl": params.csl, **sim.total(ours)},
        {"policy": f"naive {params.naive_weeks:g} weeks every {params.naive_review} d",
         "target_csl": None, **sim.total(naive)}])
    return Simulation(params=params, train_start=train, start=start, end=end, frame=frame,
                      totals=totals, skipped=skipped)


def simulate(ctx: Context, params: SimulateParams) -> Simulation:
    """Replay the policy set before ``cutoff`` on the real demand after it, next to the
    naive weeks-of-cover policy."""
    return ctx.cached(("demand.simulate", params.cache_key()),
                      lambda: _simulate(ctx, params))
