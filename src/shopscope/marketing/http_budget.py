"""``GET /api/marketing/budget``: the budget view (a thin adapter over
:mod:`shopscope.marketing.service_budget`); ``format=csv|parquet`` downloads the per-period
table (``table=channels``: the per-channel one)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel

from shopscope.marketing import channels as ch
from shopscope.marketing import service_budget as svc
from shopscope.marketing.service import Model
from shopscope.ui.deps import ApiError, CurrentUser, State, download

router = APIRouter(tags=["marketing"])
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}}


class BudgetRow(BaseModel):
    period: dt.date
    channel: str
    spend: float
    last_touch: float  # net return of the orders whose touch is the channel
    attributed: float | None  # the model's credit (None: no journeys to attribute)
    roas_last_touch: float | None  # None: no spend
    roas_attributed: float | None


class BudgetChannel(BaseModel):
    channel: str
    spend: float
    last_touch: float
    attributed: float | None
    roas_last_touch: float | None
    roas_attributed: float | None
    marginal_roas: float | None  # slope of return on spend over the last `window` periods
    marginal_reason: str | None  # why it is None: too_few_periods, spend_constant, no_spend
    recommendation: str | None  # increase | decrease | None
    experiment_id: str | None  # an experiment whose definition names the channel
    lift: float | None  # its absolute lift on the first metric, with the interval
    lift_low: float | None
    lift_high: float | None
    lift_rel: float | None
    lift_p: float | None


class BudgetOut(BaseModel):
    start: dt.date
    end: dt.date
    grain: str
    model: str
    window: int
    basis: str
    rows: list[BudgetRow]
    channels: list[BudgetChannel]
    notes: list[str]


def _records(frame) -> list[dict[str, Any]]:
    out = []
    for r in frame.to_dict("records"):
        out.append({k: (ch.clean(v) if isinstance(v, float) else v) for k, v in r.items()})
    return out


@router.get("/api/marketing/budget", response_model=BudgetOut, responses=_FILES)
def get_budget(
    state: State, user: CurrentUser, start: dt.date | None = None,
    end: dt.date | None = None, grain: Literal["week", "month"] = "month",
    model: Model = "markov", window: int = 6, lookback_days: int = 30,
    basis: Literal["attributed", "last_touch"] = "attributed",
    table: Literal["periods", "channels"] = "periods",
    format: Literal["json", "csv", "parquet"] = "json",
):
    """Spend, last-touch and attributed net return and their ROAS per period and channel;
    per channel the marginal ROAS of the recent trend (None with the reason when spend did
    not vary), a recommendation, and an experiment's lift next to the attributed figure."""
    params = svc.make(svc.BudgetParams, start=start, end=end, grain=grain, model=model,
                      window=window, lookback_days=lookback_days, basis=basis)
    try:
        out = svc.budget(state, params)
    except svc.NoData as exc:
        raise ApiError(404, "no_data", exc.message, exc.hint) from None
    if format != "json":
        frame = out.rows if table == "periods" else out.channels
        return download(frame, format, f"marketing-budget-{table}")
    return BudgetOut(start=out.start, end=out.end, grain=params.grain, model=out.model,
                     window=params.window, basis=params.basis,
                     rows=[BudgetRow(**r) for r in _records(out.rows)],
                     channels=[BudgetChannel(**r) for r in _records(out.channels)],
                     notes=list(out.notes))
