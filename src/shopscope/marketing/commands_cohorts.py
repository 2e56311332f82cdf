"""``shopscope cohorts …``: LTV, CAC and payback of acquisition cohorts (a thin wrapper over
:mod:`shopscope.marketing.service_cohorts`, the answer the API gives)."""

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

cohorts_app = typer.Typer(
    help="Acquisition cohorts: LTV by channel or campaign, CAC from spend, payback.",
    no_args_is_help=True)


def _horizons(text: str) -> tuple[int, ...]:
    from shopscope.errors import OptionError

    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise OptionError(f"--horizons: not a list of whole days ({text!r})",
                          hint="e.g. --horizons 7,30,90,180,365") from None


@cohorts_app.command("cohorts")
def ltv(
    workspace: WorkspaceOpt = DEFAULT_WS, start: StartOpt = None, end: EndOpt = None,
    by: Annotated[str, typer.Option(help="channel | campaign")] = "channel",
    margin: Annotated[float, typer.Option(
        help="Gross margin (0-1] applied to revenue for payback.")] = 1.0,
    horizons: Annotated[str, typer.Option(help="LTV horizons in days, comma-separated.")]
    = "7,30,90,180,365",
    projected: Annotated[bool, typer.Option(
        help="Add the projected 12-month LTV from the CLV model (fits it).")] = True,
    fmt: FormatOpt = "table", output: OutputOpt = None,
) -> None:
    """One row per acquisition channel (or campaign) and month of first order: customers,
    realised net LTV per customer at each horizon (empty while the cohort is too young),
    spend, CAC, LTV/CAC, payback, projected LTV."""
    from shopscope.marketing import service_cohorts as svc

    check_format(fmt)
    check_range(start, end)
    params = svc.make(svc.CohortParams, start=parse_date(start, "--start"),
                      end=parse_date(end, "--end"), by=by, margin=margin,
                      horizons=_horizons(horizons), projected=projected)
    out, currency = run_local(workspace, lambda ctx: svc.cohort_ltv(ctx, params))
    frame = out.cohorts
    kinds = {"customers": "count", "spend": "money", "cac": "money",
             "projected_ltv_12m": "money", "payback_days": "count",
             "payback_months": "count"}
    for h in params.horizons:
        kinds[f"ltv_{h}"] = "money"
        kinds[f"ltv_cac_{h}"] = "number"
    if fmt != "table":
        _emit(frame, fmt, output, kinds=kinds, currency=currency)
        return
    shown = ["key", "cohort", "customers", *[f"ltv_{h}" for h in params.horizons], "cac",
             f"ltv_cac_{90 if 90 in params.horizons else params.horizons[-1]}",
             "payback_days", "payback_months", "projected_ltv_12m"]
    _emit(frame[shown].rename(columns={"key": by}), fmt, None, kinds=kinds,
          currency=currency,
          title=f"cohort LTV by {by} (data to {out.data_end}, margin {params.margin:g})")
    _emit(out.by_key.rename(columns={"key": by}), fmt, None, kinds=kinds, currency=currency,
          title=f"by {by}, all cohorts")
    for note in out.notes:
        console.print(f"  note: {note}", highlight=False, markup=False)
