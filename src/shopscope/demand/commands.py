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


# -- the replenishment plan and its simulation -------------------------------------------------
Csl = Annotated[float, typer.Option(help="Target cycle service level (0.95 for 95%).")]
Review = Annotated[int, typer.Option(
    help="Days between reviews, (R, S); 0: continuous review, (s, Q), checked daily.")]
HistoryDays = Annotated[int, typer.Option(help="Days of history for mean and σ of demand.")]
LeadTime = Annotated[int, typer.Option(help="Lead time (days) where neither the inventory "
                                            "nor the policy file gives one.")]
OrderCost = Annotated[float, typer.Option(help="Cost per order (EOQ), fallback.")]
HoldingRate = Annotated[float, typer.Option(help="Holding cost per year, share of unit cost.")]
CoverDays = Annotated[int, typer.Option(help="Q in days of demand for SKUs without a cost.")]
MinSales = Annotated[int, typer.Option(help="Sale days needed to set a SKU's levels.")]
PolicyFile = Annotated[Path | None, typer.Option(
    "--policy", help="policy.toml or .csv: lead_time_days, moq, pack, order_cost, "
                     "holding_rate per SKU or category.")]
_PLAN_KINDS = {"on_hand": "count", "on_order": "count", "position": "count",
               "mean": "number", "std": "number", "sold": "count", "days": "count",
               "sell_through": "rate", "stockout_days": "count", "days_of_cover": "number",
               "lead_time_days": "number", "safety_stock": "number",
               "reorder_point": "number", "order_up_to": "number", "eoq": "number",
               "moq": "number", "pack": "number", "fill_rate": "rate", "order_qty": "number",
               "target_csl": "rate", "csl": "rate", "demand": "number", "lost": "number",
               "avg_inventory": "number", "turns": "number", "orders": "count",
               "cycles": "count", "skus": "count"}


def _policy(csl, review, history_days, lead_time, order_cost, holding_rate, cover_days,
            min_sales, policy) -> dict:
    return {"csl": csl, "review": review, "history_days": history_days,
            "lead_time": lead_time, "order_cost": order_cost, "holding_rate": holding_rate,
            "cover_days": cover_days, "min_sales": min_sales,
            "policy": str(policy) if policy else None}


def _plan_kinds(frame: pd.DataFrame) -> dict[str, str]:
    kinds = {c: k for c, k in _PLAN_KINDS.items() if c in frame.columns}
    for c in frame.columns:  # the simulation's policy_… and naive_… columns
        base = c.split("_", 1)[-1]
        if c not in kinds and base in _PLAN_KINDS:
            kinds[c] = _PLAN_KINDS[base]
    return kinds


@demand_app.command("plan")
def plan(
    workspace: WorkspaceOpt = DEFAULT_WS,
    as_of: Annotated[str | None, typer.Option(help="Plan on this day (YYYY-MM-DD); "
                                                   "default the data's last day.")] = None,
    source: Annotated[str, typer.Option(help="history | forecast")] = "history",
    csl: Csl = 0.95, review: Review = 0, history_days: HistoryDays = 90,
    lead_time: LeadTime = 7, order_cost: OrderCost = 50.0, holding_rate: HoldingRate = 0.25,
    cover_days: CoverDays = 28, min_sales: MinSales = 2, policy: PolicyFile = None,
    h: H = 28, interval: Interval = 80, top: Top = 200,
    overstock_days: Annotated[float, typer.Option(help="Cover above this is overstock.")]
    = 180.0,
    within: Annotated[int, typer.Option(help="List too SKUs due to reorder within days.")]
    = 0,
    all_skus: Annotated[bool, typer.Option("--all", help="Every counted SKU, not only the "
                                                         "replenishment list.")] = False,
    limit: Limit = 50, fmt: Fmt = "table", output: Out = None,
) -> None:
    """The replenishment plan: per SKU stock, demand, cover, flags, safety stock, reorder
    point and order-up-to level; the list of what to order, how much and by when."""
    from shopscope.demand import service as svc

    check_format(fmt)
    params = svc.make(svc.PlanParams, as_of=parse_date(as_of, "--as-of"), source=source,
                      h=h, interval=interval, top=top, overstock_days=overstock_days,
                      within=within, **_policy(csl, review, history_days, lead_time,
                                               order_cost, holding_rate, cover_days,
                                               min_sales, policy))
    out, currency = run_local(workspace, lambda ctx: svc.plan(ctx, params))
    frame = out.frame if all_skus else out.orders
    if fmt != "table":
        _emit(frame, fmt, output, kinds=_plan_kinds(frame), currency=currency)
        return
    # the table keeps to what to order; --format csv/json has every column and the notes
    cols = ["product_id", "position", "mean", "reorder_point", "order_up_to", "order_qty",
            "order_by"]
    shown = frame[cols].head(limit)
    what = "counted SKUs" if all_skus else "SKUs to order"
    _emit(shown, fmt, None, kinds=_plan_kinds(shown), currency=currency,
          title=f"plan on {out.as_of} ({len(frame):,} {what}; demand {out.start} to "
                f"{out.as_of})",
          footnote=f"{int(out.frame['dead_stock'].sum())} dead stock, "
                   f"{int(out.frame['overstock'].sum())} overstock; {out.uncounted} SKUs "
                   "sold without a stock count (not planned); every column and the notes "
                   "with --format csv")


@demand_app.command("simulate")
def simulate(
    cutoff: Annotated[str, typer.Option(help="Last day of training (YYYY-MM-DD); the "
                                             "replay starts the day after.")],
    workspace: WorkspaceOpt = DEFAULT_WS,
    end: End = None, csl: Csl = 0.95, review: Review = 0, history_days: HistoryDays = 90,
    lead_time: LeadTime = 7, order_cost: OrderCost = 50.0, holding_rate: HoldingRate = 0.25,
    cover_days: CoverDays = 28, min_sales: MinSales = 2, policy: PolicyFile = None,
    naive_weeks: Annotated[float, typer.Option(help="Naive policy: weeks of cover.")] = 4.0,
    naive_review: Annotated[int, typer.Option(help="Naive policy: days between orders.")]
    = 7,
    per_sku: Annotated[bool, typer.Option("--per-sku", help="One row per SKU instead of "
                                                             "the totals.")] = False,
    fmt: Fmt = "table", output: Out = None,
) -> None:
    """Replay the policy set on the history up to --cutoff over the real demand after it
    (lost sales), next to a naive weeks-of-cover policy: fill rate, cycle service level,
    stock-out days, average inventory, turns, orders."""
    from shopscope.demand import service as svc

    check_format(fmt)
    params = svc.make(svc.SimulateParams, cutoff=parse_date(cutoff, "--cutoff"),
                      end=parse_date(end, "--end"), naive_weeks=naive_weeks,
                      naive_review=naive_review,
                      **_policy(csl, review, history_days, lead_time, order_cost,
                                holding_rate, cover_days, min_sales, policy))
    out, currency = run_local(workspace, lambda ctx: svc.simulate(ctx, params))
    frame = out.frame if per_sku else out.totals
    _emit(frame, fmt, output, kinds=_plan_kinds(frame), currency=currency,
          title=f"replay {out.start} to {out.end}, levels from {out.train_start} to "
                f"{out.params.cutoff}",
          footnote=f"{out.skipped} SKUs with fewer than {min_sales} sale days before the "
                   "cutoff left out")
