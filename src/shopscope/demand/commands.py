"""``shopscope demand …``: demand series, classes, forecasts and their backtest (thin
wrappers over :mod:`shopscope.demand.service`, the answers the API gives). Dates are days,
``--end`` included."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from shopscope.cli import (
    DEFAULT_WS,
    EndOpt,
    FormatOpt,
    OutputOpt,
    StartOpt,
    WorkspaceOpt,
    _emit,
    check_format,
    check_range,
    console,
    run_local,
)
from shopscope.core.periods import parse_date

demand_app = typer.Typer(
    help="Demand: SKU demand series, ABC-XYZ classes, forecasts per demand class.",
    no_args_is_help=True)

Fmt = FormatOpt
Out = OutputOpt
Start = StartOpt
End = EndOpt
Grain = Annotated[str, typer.Option(help="day | week")]
Level = Annotated[str, typer.Option(help="sku | category")]
ByChannel = Annotated[bool, typer.Option("--by-channel", help="One series per channel.")]
Skus = Annotated[list[str] | None, typer.Option("--sku", help="Only this SKU (repeatable).")]
Limit = Annotated[int, typer.Option(min=1, help="Rows to show in the table.")]
A = Annotated[float, typer.Option("--a", help="ABC: revenue share of class A.")]
B = Annotated[float, typer.Option("--b", help="ABC: revenue share of class B.")]
X = Annotated[float, typer.Option("--x", help="XYZ: highest CV of class X.")]
Y = Annotated[float, typer.Option("--y", help="XYZ: highest CV of class Y.")]
H = Annotated[int, typer.Option("--h", help="Periods to forecast (and per backtest window).")]
Windows = Annotated[int, typer.Option(help="Rolling origins of the backtest.")]
Interval = Annotated[int, typer.Option(help="Prediction interval, % (50..99).")]
Top = Annotated[int, typer.Option(help="Forecast the series with the highest revenue.")]

_KINDS = {"units": "count", "cancelled_units": "count", "returned_units": "count",
          "net_units": "count", "demand": "count", "net_sales": "money", "revenue": "money",
          "stockout_days": "count", "periods": "count", "nonzero": "count", "total": "count",
          "series": "count", "mean": "number", "std": "number", "cv": "number",
          "adi": "number", "cv2": "number", "forecast": "number", "lo": "number",
          "hi": "number", "mase": "number", "rmsse": "number", "wape": "rate",
          "bias": "rate", "mase_vs_naive": "number"}


def _base(start: str | None, end: str | None, grain: str, level: str, by_channel: bool,
          skus: list[str] | None) -> dict:
    check_range(start, end)
    return {"start": parse_date(start, "--start"), "end": parse_date(end, "--end"),
            "grain": grain, "level": level, "by_channel": by_channel,
            "skus": tuple(skus) if skus else None}


def _kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {c: k for c, k in _KINDS.items() if c in frame.columns}


@demand_app.command("series")
def series(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    grain: Grain = "day", level: Level = "sku", by_channel: ByChannel = False,
    sku: Skus = None, limit: Limit = 50, fmt: Fmt = "table", output: Out = None,
) -> None:
    """Demand per SKU (or category) and day (or week): units net of cancellations and
    returns, zero-filled, stock-out days marked censored."""
    from shopscope.demand import service as svc

    check_format(fmt)
    params = svc.make(svc.SeriesParams, **_base(start, end, grain, level, by_channel, sku))
    out, currency = run_local(workspace, lambda ctx: svc.series(ctx, params))
    frame = out.frame if fmt != "table" else out.frame.head(limit)
    _emit(frame, fmt, output, grain=grain, kinds=_kinds(frame), currency=currency,
          title=f"demand by {grain}, {out.start} to {out.end} ({len(out.frame):,} rows)")


@demand_app.command("classes")
def classes(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    grain: Grain = "day", level: Level = "sku", by_channel: ByChannel = False,
    sku: Skus = None, a: A = 0.80, b: B = 0.15, x: X = 0.5, y: Y = 1.0,
    limit: Limit = 30, fmt: Fmt = "table", output: Out = None,
) -> None:
    """ABC by revenue, XYZ by CV of demand, Syntetos-Boylan classes (ADI / CV²) and the
    ABC-XYZ matrix."""
    from shopscope.demand import service as svc

    check_format(fmt)
    params = svc.make(svc.ClassParams, **_base(start, end, grain, level, by_channel, sku),
                      a=a, b=b, x=x, y=y)
    out, currency = run_local(workspace, lambda ctx: svc.classes(ctx, params))
    cols = [*out.keys, "revenue", "total", "periods", "nonzero", "cv", "adi", "cv2", "abc",
            "xyz", "pattern"]
    if fmt != "table":
        _emit(out.frame[cols], fmt, output, kinds=_kinds(out.frame), currency=currency)
        return
    _emit(out.frame[cols].head(limit), fmt, None, kinds=_kinds(out.frame), currency=currency,
          title=f"classes by {grain}, {out.start} to {out.end} ({len(out.frame):,} series)")
    _emit(out.matrix, fmt, None, title="ABC-XYZ matrix", kinds=_kinds(out.matrix),
          currency=currency, footnote=f"total revenue {out.total_revenue:,.2f}")
    _emit(out.patterns, fmt, None, title="demand patterns (Syntetos-Boylan)",
          kinds=_kinds(out.patterns), currency=currency)


def _forecast(workspace: Path, start, end, grain, level, by_channel, sku, h, windows,
              interval, top) -> Any:
    from shopscope.demand import service as svc

    params = svc.make(svc.ForecastParams, **_base(start, end, grain, level, by_channel, sku),
                      h=h, windows=windows, interval=interval, top=top)
    return run_local(workspace, lambda ctx: svc.forecast(ctx, params))[0]


@demand_app.command("forecast")
def forecast(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    grain: Grain = "day", level: Level = "sku", by_channel: ByChannel = False,
    sku: Skus = None, h: H = 28, windows: Windows = 3, interval: Interval = 80,
    top: Top = 200, limit: Limit = 50, fmt: Fmt = "table", output: Out = None,
) -> None:
    """Forecasts with prediction intervals, the statsforecast model chosen per demand class
    by rolling-origin cross-validation on MASE."""
    check_format(fmt)
    out = _forecast(workspace, start, end, grain, level, by_channel, sku, h, windows,
                    interval, top)
    frame = out.forecast if fmt != "table" else out.forecast.head(limit)
    _emit(frame, fmt, output, grain=grain, kinds=_kinds(frame),
          title=f"forecast, {interval}% intervals, after {out.end}")
    if fmt == "table":
        chosen = ", ".join(f"{k}: {v}" for k, v in out.chosen.items()) or "none"
        console.print(f"models chosen: {chosen}", highlight=False)


@demand_app.command("backtest")
def backtest(
    workspace: WorkspaceOpt = DEFAULT_WS, start: Start = None, end: End = None,
    grain: Grain = "day", level: Level = "sku", by_channel: ByChannel = False,
    sku: Skus = None, h: H = 28, windows: Windows = 3, top: Top = 200,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """The backtest that chose the models: MASE, RMSSE, WAPE and bias per class and
    candidate, with MASE relative to seasonal naive."""
    check_format(fmt)
    out = _forecast(workspace, start, end, grain, level, by_channel, sku, h, windows, 80, top)
    _emit(out.backtest, fmt, output, kinds=_kinds(out.backtest),
          title=f"backtest: {windows} origins × {h} {grain}s, {out.start} to {out.end}")
