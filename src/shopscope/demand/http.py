"""The demand API: series, classes, forecasts and their backtest. A thin adapter over
:mod:`shopscope.demand.service`; bad parameters answer 422 naming the parameter, a
workspace without orders 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
from fastapi import APIRouter, Query
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
