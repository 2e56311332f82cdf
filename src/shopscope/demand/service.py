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
