"""The demand API: series, classes, forecasts and their backtest. A thin adapter over
:mod:`shopscope.demand.service`; bad parameters answer 422 naming the parameter, a
workspace without orders 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from shopscope.demand import service as svc
from shopscope.ui.deps import ApiError, CurrentUser, State, download

router = APIRouter(tags=["demand"])
#: Tables also download whole: ``format=csv`` or ``parquet`` instead of JSON.
Format = Literal["json", "csv", "parquet"]
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}}
T = TypeVar("T")
Skus = Annotated[list[str] | None, Query(max_length=10_000,
                                         description="Only these SKUs (repeat the parameter).")]


def _num(value: object) -> float | None:
    """A number for JSON: None for null, NaN and ±inf."""
    import math

    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _key(rec: dict, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: str(rec[k]) for k in keys}


def _call(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except svc.NoData as exc:
        raise ApiError(404, "no_data", exc.message, exc.hint) from None


class SeriesPoint(BaseModel):
    key: dict[str, str]
    period: dt.date
    units: int
    cancelled_units: int
    returned_units: int
    net_units: int
    demand: int
    net_sales: float
    stockout_days: int
    censored: bool


class SeriesOut(BaseModel):
    start: dt.date
    end: dt.date
    grain: str
    keys: list[str]
    series: int  # series in all; ``points`` holds those from ``offset``, ``limit`` of them
    offset: int
    points: list[SeriesPoint]


class ClassRow(BaseModel):
    key: dict[str, str]
    revenue: float
    total: float | None
    periods: int
    nonzero: int
    cv: float | None
    adi: float | None
    cv2: float | None
    abc: str
    xyz: str
    pattern: str


class Cell(BaseModel):
    abc: str
    xyz: str
    series: int
    revenue: float


class PatternRow(BaseModel):
    pattern: str
    series: int
    revenue: float


class ClassesOut(BaseModel):
    start: dt.date
    end: dt.date
    keys: list[str]
    series: list[ClassRow]
    matrix: list[Cell]
    patterns: list[PatternRow]
    total_revenue: float


class ForecastPoint(BaseModel):
    key: dict[str, str]
    period: dt.date
    forecast: float
    lo: float
    hi: float
    pattern: str
    model: str | None


class ForecastOut(BaseModel):
    start: dt.date
    end: dt.date
    keys: list[str]
    interval: int
    season: int
    chosen: dict[str, str]
    points: list[ForecastPoint]
    skipped: list[str]


class BacktestRow(BaseModel):
    pattern: str
    model: str
    series: int
    mase: float | None
    rmsse: float | None
    wape: float | None
    bias: float | None
    mase_vs_naive: float | None
    chosen: bool


class BacktestOut(BaseModel):
    start: dt.date
    end: dt.date
    h: int
    windows: int
    season: int
    rows: list[BacktestRow]


def _base(start, end, grain, level, by_channel, sku) -> dict:
    return {"start": start, "end": end, "grain": grain, "level": level,
            "by_channel": by_channel, "skus": tuple(sku) if sku else None}


@router.get("/api/demand/series", response_model=SeriesOut)
def get_series(state: State, user: CurrentUser, start: dt.date | None = None,
               end: dt.date | None = None, grain: svc.Grain = "day", level: svc.Level = "sku",
               by_channel: bool = False, sku: Skus = None,
               offset: int = Query(0, ge=0, le=10_000_000),
               limit: int = Query(50, ge=1, le=1_000)):
    """Demand per SKU (or category) and day (or week): units net of cancellations and
    returns by the KPI rules, zero-filled within the data's span, stock-out periods
    ``censored``; the series ``offset`` to ``offset + limit`` in key order."""
    params = svc.make(svc.SeriesParams, **_base(start, end, grain, level, by_channel, sku))
    out = _call(lambda: svc.series(state, params))
    ids = out.frame[list(out.keys)].drop_duplicates()
    page = ids.iloc[offset: offset + limit]
    frame = out.frame.merge(page, on=list(out.keys))
    points = [SeriesPoint(key=_key(r, out.keys), period=r["period"], units=r["units"],
                          cancelled_units=r["cancelled_units"],
                          returned_units=r["returned_units"], net_units=r["net_units"],
                          demand=r["demand"], net_sales=float(r["net_sales"]),
                          stockout_days=r["stockout_days"], censored=bool(r["censored"]))
              for r in frame.to_dict("records")]
    return SeriesOut(start=out.start, end=out.end, grain=grain, keys=list(out.keys),
                     series=len(ids), offset=offset, points=points)


@router.get("/api/demand/classes", response_model=ClassesOut, responses=_FILES)
def get_classes(state: State, user: CurrentUser, start: dt.date | None = None,
                end: dt.date | None = None, grain: svc.Grain = "day",
                level: svc.Level = "sku", by_channel: bool = False, sku: Skus = None,
                a: float = Query(0.80, gt=0, le=1), b: float = Query(0.15, ge=0, le=1),
                x: float = Query(0.5, ge=0), y: float = Query(1.0, ge=0),
                format: Format = "json"):
    """ABC by revenue (shares ``a``, ``b``), XYZ by CV of demand (limits ``x``, ``y``),
    Syntetos-Boylan classes (ADI 1.32, CV² 0.49) and the ABC-XYZ matrix; ``format`` csv or
    parquet: the series table as a file."""
    params = svc.make(svc.ClassParams, **_base(start, end, grain, level, by_channel, sku),
                      a=a, b=b, x=x, y=y)
    out = _call(lambda: svc.classes(state, params))
    if format != "json":
        return download(out.frame, format, "demand-classes")
    rows = [ClassRow(key=_key(r, out.keys), revenue=float(r["revenue"]), total=_num(r["total"]),
                     periods=int(r["periods"]), nonzero=int(r["nonzero"]), cv=_num(r["cv"]),
                     adi=_num(r["adi"]), cv2=_num(r["cv2"]), abc=r["abc"], xyz=r["xyz"],
                     pattern=r["pattern"]) for r in out.frame.to_dict("records")]
    cells = [Cell(abc=r["abc"], xyz=r["xyz"], series=int(r["series"]),
                  revenue=float(r["revenue"])) for r in out.matrix.to_dict("records")]
    pats = [PatternRow(pattern=r["pattern"], series=int(r["series"]),
                       revenue=float(r["revenue"])) for r in out.patterns.to_dict("records")]
    return ClassesOut(start=out.start, end=out.end, keys=list(out.keys), series=rows,
                      matrix=cells, patterns=pats, total_revenue=out.total_revenue)


def _forecast(state, start, end, grain, level, by_channel, sku, h, windows, interval,
              top) -> svc.Forecast:
    params = svc.make(svc.ForecastParams, **_base(start, end, grain, level, by_channel, sku),
                      h=h, windows=windows, interval=interval, top=top)
    return _call(lambda: svc.forecast(state, params))


@router.get("/api/demand/forecast", response_model=ForecastOut, responses=_FILES)
def get_forecast(state: State, user: CurrentUser, start: dt.date | None = None,
                 end: dt.date | None = None, grain: svc.Grain = "day",
                 level: svc.Level = "sku", by_channel: bool = False, sku: Skus = None,
                 h: int = Query(28, ge=1, le=366), windows: int = Query(3, ge=1, le=12),
                 interval: int = Query(80, ge=50, le=99), top: int = Query(200, ge=1, le=5000),
                 format: Format = "json"):
    """Forecasts ``h`` periods after ``end`` with ``interval``% prediction intervals for the
    ``top`` series by revenue, the statsforecast model chosen per demand class by
    rolling-origin cross-validation on MASE; ``format`` csv or parquet: the points as a
    file."""
    out = _forecast(state, start, end, grain, level, by_channel, sku, h, windows, interval,
                    top)
    if format != "json":
        return download(out.forecast, format, "demand-forecast")
    points = [ForecastPoint(key=_key(r, out.keys), period=r["period"],
                            forecast=float(r["forecast"]), lo=float(r["lo"]),
                            hi=float(r["hi"]), pattern=r["pattern"],
                            model=r["model"] if isinstance(r["model"], str) else None)
              for r in out.forecast.to_dict("records")]
    return ForecastOut(start=out.start, end=out.end, keys=list(out.keys), interval=interval,
                       season=out.season, chosen=out.chosen, points=points,
                       skipped=list(out.skipped))


@router.get("/api/demand/backtest", response_model=BacktestOut)
def get_backtest(state: State, user: CurrentUser, start: dt.date | None = None,
                 end: dt.date | None = None, grain: svc.Grain = "day",
                 level: svc.Level = "sku", by_channel: bool = False, sku: Skus = None,
                 h: int = Query(28, ge=1, le=366), windows: int = Query(3, ge=1, le=12),
                 top: int = Query(200, ge=1, le=5000)):
    """The backtest that chose the models: per demand class and candidate the mean MASE
    and RMSSE, WAPE, bias and MASE relative to seasonal naive."""
    out = _forecast(state, start, end, grain, level, by_channel, sku, h, windows, 80, top)
    frame: pd.DataFrame = out.backtest
    rows = [BacktestRow(pattern=r["pattern"], model=r["model"], series=int(r["series"]),
                        mase=_num(r["mase"]), rmsse=_num(r["rmsse"]), wape=_num(r["wape"]),
                        bias=_num(r["bias"]), mase_vs_naive=_num(r["mase_vs_naive"]),
                        chosen=bool(r["chosen"])) for r in frame.to_dict("records")]
    return BacktestOut(start=out.start, end=out.end, h=h, windows=windows, season=out.season,
                       rows=rows)


# -- the replenishment plan and its simulation ------------------------------------------------
class PlanRow(BaseModel):
    product_id: str
    category: str | None
    location: str
    counted_on: dt.date
    on_hand: float
    on_order: float
    position: float
    demand_source: str
    mean: float
    std: float
    days: int
    sold: float
    sell_through: float | None
    stockout_days: int
    days_of_cover: float | None  # None: no demand (stock lasts indefinitely)
    overstock: bool
    dead_stock: bool
    lead_time_days: float
    lead_time_source: str
    safety_stock: float | None  # None: no levels, ``note`` says why
    reorder_point: float | None
    order_up_to: float | None
    eoq: float | None
    moq: float
    pack: float
    fill_rate: float | None
    reorder: bool
    order_qty: float
    order_by: dt.date | None
    arrives: dt.date | None
    note: str


class PlanOut(BaseModel):
    as_of: dt.date
    start: dt.date
    csl: float
    review: int
    skus: int
    uncounted: int
    orders: list[PlanRow]  # the replenishment list (all counted SKUs with all=true)


class SimTotal(BaseModel):
    policy: str
    target_csl: float | None
    skus: int
    demand: float
    sold: float
    lost: float
    fill_rate: float | None
    cycles: int
    csl: float | None
    stockout_days: int
    avg_inventory: float
    turns: float | None
    orders: int


class SimulateOut(BaseModel):
    train_start: dt.date
    cutoff: dt.date
    start: dt.date
    end: dt.date
    skipped: int
    totals: list[SimTotal]
    skus: list[dict[str, str | float | None]]  # per SKU, with per_sku=true


def _policy_q(csl, review, history_days, lead_time, order_cost, holding_rate, cover_days,
              min_sales) -> dict:
    return {"csl": csl, "review": review, "history_days": history_days,
            "lead_time": lead_time, "order_cost": order_cost, "holding_rate": holding_rate,
            "cover_days": cover_days, "min_sales": min_sales}


def _plan(state, as_of, source, csl, review, history_days, lead_time, order_cost,
          holding_rate, cover_days, min_sales, h, interval, top, overstock_days,
          within) -> svc.Plan:
    params = svc.make(svc.PlanParams, as_of=as_of, source=source, h=h, interval=interval,
                      top=top, overstock_days=overstock_days, within=within,
                      **_policy_q(csl, review, history_days, lead_time, order_cost,
                                  holding_rate, cover_days, min_sales))
    return _call(lambda: svc.plan(state, params))


def _plan_row(r: dict) -> PlanRow:
    def opt(v):
        return _num(v)

    return PlanRow(
        product_id=str(r["product_id"]),
        category=r["category"] if isinstance(r["category"], str) else None,
        location=r["location"], counted_on=r["counted_on"], on_hand=float(r["on_hand"]),
        on_order=float(r["on_order"]), position=float(r["position"]),
        demand_source=r["demand_source"], mean=float(r["mean"]), std=float(r["std"]),
        days=int(r["days"]), sold=float(r["sold"]), sell_through=opt(r["sell_through"]),
        stockout_days=int(r["stockout_days"]), days_of_cover=opt(r["days_of_cover"]),
        overstock=bool(r["overstock"]), dead_stock=bool(r["dead_stock"]),
        lead_time_days=float(r["lead_time_days"]), lead_time_source=r["lead_time_source"],
        safety_stock=opt(r["safety_stock"]), reorder_point=opt(r["reorder_point"]),
        order_up_to=opt(r["order_up_to"]), eoq=opt(r["eoq"]), moq=float(r["moq"]),
        pack=float(r["pack"]), fill_rate=opt(r["fill_rate"]), reorder=bool(r["reorder"]),
        order_qty=float(r["order_qty"]),
        order_by=r["order_by"] if isinstance(r["order_by"], dt.date) else None,
        arrives=r["arrives"] if isinstance(r["arrives"], dt.date) else None, note=r["note"])


Csl = Query(0.95, ge=0.5, lt=1, description="Target cycle service level.")
Review = Query(0, ge=0, le=365, description="Days between reviews; 0: continuous (s, Q).")


@router.get("/api/demand/plan", response_model=PlanOut)
def get_plan(state: State, user: CurrentUser, as_of: dt.date | None = None,
             source: svc.Source = "history", csl: float = Csl, review: int = Review,
             history_days: int = Query(90, ge=7, le=1_000), lead_time: int = Query(7, ge=0,
                                                                                   le=365),
             order_cost: float = Query(50.0, ge=0), holding_rate: float = Query(0.25, ge=0,
                                                                                le=10),
             cover_days: int = Query(28, ge=1, le=365), min_sales: int = Query(2, ge=1,
                                                                               le=365),
             h: int = Query(28, ge=1, le=366), interval: int = Query(80, ge=50, le=99),
             top: int = Query(200, ge=1, le=5000), overstock_days: float = Query(180.0, gt=0),
             within: int = Query(0, ge=0, le=365), all: bool = False):
    """The replenishment list on ``as_of`` (what to order, how much, by when) with each
    SKU's stock, demand, cover, flags and levels; ``all=true``: every counted SKU. Lead
    times come from the inventory, else ``lead_time`` (a policy file is a CLI option)."""
    out = _plan(state, as_of, source, csl, review, history_days, lead_time, order_cost,
                holding_rate, cover_days, min_sales, h, interval, top, overstock_days, within)
    frame = out.frame if all else out.orders
    return PlanOut(as_of=out.as_of, start=out.start, csl=csl, review=review,
                   skus=len(out.frame), uncounted=out.uncounted,
                   orders=[_plan_row(r) for r in frame.to_dict("records")])


@router.get("/api/demand/plan/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def get_plan_export(state: State, user: CurrentUser, as_of: dt.date | None = None,
                    source: svc.Source = "history", csl: float = Csl, review: int = Review,
                    history_days: int = Query(90, ge=7, le=1_000),
                    lead_time: int = Query(7, ge=0, le=365),
                    order_cost: float = Query(50.0, ge=0),
                    holding_rate: float = Query(0.25, ge=0, le=10),
                    cover_days: int = Query(28, ge=1, le=365),
                    min_sales: int = Query(2, ge=1, le=365), h: int = Query(28, ge=1, le=366),
                    interval: int = Query(80, ge=50, le=99),
                    top: int = Query(200, ge=1, le=5000),
                    overstock_days: float = Query(180.0, gt=0),
                    within: int = Query(0, ge=0, le=365), all: bool = False):
    """The replenishment list (``all=true``: the whole plan) as a CSV download."""
    from shopscope.ui.deps import download

    out = _plan(state, as_of, source, csl, review, history_days, lead_time, order_cost,
                holding_rate, cover_days, min_sales, h, interval, top, overstock_days, within)
    return download(out.frame if all else out.orders, "csv", f"replenishment-{out.as_of}")


@router.get("/api/demand/simulate", response_model=SimulateOut)
def get_simulate(state: State, user: CurrentUser, cutoff: dt.date,
                 end: dt.date | None = None, csl: float = Csl, review: int = Review,
                 history_days: int = Query(90, ge=7, le=1_000),
                 lead_time: int = Query(7, ge=0, le=365),
                 order_cost: float = Query(50.0, ge=0),
                 holding_rate: float = Query(0.25, ge=0, le=10),
                 cover_days: int = Query(28, ge=1, le=365),
                 min_sales: int = Query(2, ge=1, le=365),
                 naive_weeks: float = Query(4.0, gt=0, le=52),
                 naive_review: int = Query(7, ge=1, le=365), per_sku: bool = False):
    """Replay the policy set on the ``history_days`` up to ``cutoff`` over the real demand
    after it (lost sales), next to the naive weeks-of-cover policy: achieved fill rate and
    cycle service level against the target, stock-out days, average inventory, turns."""
    params = svc.make(svc.SimulateParams, cutoff=cutoff, end=end, naive_weeks=naive_weeks,
                      naive_review=naive_review,
                      **_policy_q(csl, review, history_days, lead_time, order_cost,
                                  holding_rate, cover_days, min_sales))
    out = _call(lambda: svc.simulate(state, params))
    totals = [SimTotal.model_validate({k: (_num(v) if isinstance(v, float) or v is None else v)
                                       for k, v in r.items()})
              for r in out.totals.to_dict("records")]
    skus = [{k: v if isinstance(v, str) else _num(v) for k, v in r.items()}
            for r in out.frame.to_dict("records")] if per_sku else []
    return SimulateOut(train_start=out.train_start, cutoff=params.cutoff, start=out.start,
                       end=out.end, skipped=out.skipped, totals=totals, skus=skus)
