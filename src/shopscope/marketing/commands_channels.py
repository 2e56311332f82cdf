"""``shopscope marketing channels``: the channel and campaign report (a thin wrapper over
:mod:`shopscope.marketing.service_channels`, the answer the API gives)."""

from __future__ import annotations

from typing import Annotated

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
    run_local,
)
from shopscope.core.periods import parse_date

marketing_app = typer.Typer(
    help="Marketing: channel and campaign reports (spend, CAC, ROAS, 环比/同比).",
    no_args_is_help=True)

_KINDS = {"sessions": "count", "new_customers": "count", "returning_customers": "count",
          "orders": "count", "clicks": "count", "impressions": "count", "gmv": "money",
          "net_sales": "money", "spend": "money", "cpc": "money", "cpa": "money",
          "cac": "money", "roas": "number", "roas_net": "number", "conversion": "rate"}


@marketing_app.command("channels")
def channels(
    workspace: WorkspaceOpt = DEFAULT_WS, start: StartOpt = None, end: EndOpt = None,
    grain: Annotated[str, typer.Option(help="day | week | month")] = "month",
    by: Annotated[str, typer.Option(
        help="Comma-separated breakdown: channel, source, medium, campaign ('' for totals).")]
    = "channel",
    compare: Annotated[str, typer.Option(
        help="none | previous (环比) | year (同比, 52 weeks for weeks)")] = "none",
    fmt: FormatOpt = "table", output: OutputOpt = None,
) -> None:
    """Sessions, new and returning customers, orders, GMV, net sales, spend, clicks,
    impressions, CPC, CPA, CAC, ROAS and conversion per period and breakdown."""
    from shopscope.marketing import service_channels as svc

    check_format(fmt)
    check_range(start, end)
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    params = svc.make(svc.ChannelParams, start=parse_date(start, "--start"),
                      end=parse_date(end, "--end"), grain=grain, by=dims, compare=compare)
    out, currency = run_local(workspace, lambda ctx: svc.channel_report(ctx, params))
    frame = out.frame
    kinds = {c: k for c, k in _KINDS.items() if c in frame.columns}
    kinds.update({f"{c}_ref": k for c, k in _KINDS.items() if f"{c}_ref" in frame.columns})
    kinds.update({f"{c}_change": "rate" for c in _KINDS if f"{c}_change" in frame.columns})
    if fmt == "table":
        keep = ["period", *dims, "sessions", "new_customers", "orders", "gmv", "spend", "cac",
                "roas", "conversion"]
        if params.compare != "none":
            keep += ["orders_change", "gmv_change", "spend_change"]
        frame = frame[keep]
    _emit(frame, fmt, output, grain=grain, kinds=kinds, currency=currency,
          title=f"channels by {grain}, {out.start} to {out.end} ({len(out.frame):,} rows)")
