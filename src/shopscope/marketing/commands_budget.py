"""``shopscope marketing budget``: spend against last-touch and attributed return per channel,
marginal ROAS and experiment lift (a thin wrapper over
:mod:`shopscope.marketing.service_budget`, the answer the API gives)."""

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
    console,
    run_local,
)
from shopscope.core.periods import parse_date

budget_app = typer.Typer(help="Marketing: budget view (spend, return, marginal ROAS).",
                         no_args_is_help=True)

_KINDS = {"spend": "money", "last_touch": "money", "attributed": "money",
          "roas_last_touch": "number", "roas_attributed": "number",
          "marginal_roas": "number", "lift": "number", "lift_low": "number",
          "lift_high": "number", "lift_rel": "rate", "lift_p": "number"}


@budget_app.command("budget")
def budget(
    workspace: WorkspaceOpt = DEFAULT_WS, start: StartOpt = None, end: EndOpt = None,
    grain: Annotated[str, typer.Option(help="week | month")] = "month",
    model: Annotated[str, typer.Option(
        help="Attribution model of the attributed return (markov, last_touch, linear, ...).")]
    = "markov",
    window: Annotated[int, typer.Option(
        help="Marginal ROAS: slope of return on spend over the last N periods.")] = 6,
    basis: Annotated[str, typer.Option(
        help="Return the marginal ROAS is fitted on: attributed | last_touch")] = "attributed",
    lookback_days: Annotated[int, typer.Option(help="Journey lookback in days.")] = 30,
    periods: Annotated[bool, typer.Option(
        "--periods", help="One row per period and channel instead of per channel.")] = False,
    fmt: FormatOpt = "table", output: OutputOpt = None,
) -> None:
    """Per channel: spend, last-touch and attributed net return, their ROAS, the marginal
    ROAS of the recent trend (or why there is none), a recommendation, and the lift of an
    experiment whose definition names the channel."""
    from shopscope.marketing import service_budget as svc

    check_format(fmt)
    check_range(start, end)
    params = svc.make(svc.BudgetParams, start=parse_date(start, "--start"),
                      end=parse_date(end, "--end"), grain=grain, model=model, window=window,
                      basis=basis, lookback_days=lookback_days)
    out, currency = run_local(workspace, lambda ctx: svc.budget(ctx, params))
    frame = out.rows if periods else out.channels
    if fmt == "table":  # the columns that fit a terminal; exports hold them all
        keep = (["period", "channel", "spend", "last_touch", "attributed", "roas_last_touch",
                 "roas_attributed"] if periods else
                ["channel", "spend", "last_touch", "attributed", "roas_attributed",
                 "marginal_roas", "marginal_reason", "lift", "recommendation"])
        frame = frame[keep]
    kinds = {c: k for c, k in _KINDS.items() if c in frame.columns}
    what = "period and channel" if periods else "channel"
    _emit(frame, fmt, output, grain=params.grain, kinds=kinds, currency=currency,
          title=f"budget by {what}, {out.start} to {out.end}, attributed: {out.model}")
    if fmt == "table":
        for note in out.notes:
            console.print(f"[dim]{note}[/dim]")
