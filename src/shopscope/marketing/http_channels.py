"""``GET /api/marketing/channels``: the channel and campaign report (a thin adapter over
:mod:`shopscope.marketing.service_channels`); ``format=csv|parquet`` downloads the table."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from shopscope.marketing import channels as ch
from shopscope.marketing import service_channels as svc
from shopscope.ui.deps import ApiError, CurrentUser, State, download

router = APIRouter(tags=["marketing"])
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}}


class ChannelRow(BaseModel):
    period: dt.date
    key: dict[str, str]  # the breakdown's values ({} for totals)
    values: dict[str, float | None]  # sums and ratios (None: undefined, e.g. CAC without
    # new customers)
    reference: dict[str, float | None] | None  # the same in the compared period
    change: dict[str, float | None] | None  # value / reference - 1


class ChannelsOut(BaseModel):
    start: dt.date
    end: dt.date
    grain: str
    by: list[str]
    compare: str
    measures: list[str]
    rows: list[ChannelRow]
    totals: list[ChannelRow]


def _rows(frame, by: tuple[str, ...], compare: bool) -> list[ChannelRow]:
    names = [*ch.MEASURES, *ch.RATIOS]
    out = []
    for r in frame.to_dict("records"):
        out.append(ChannelRow(
            period=r["period"], key={k: str(r[k]) for k in by},
            values={m: ch.clean(r[m]) for m in names},
            reference={m: ch.clean(r[f"{m}_ref"]) for m in names} if compare else None,
            change={m: ch.clean(r[f"{m}_change"]) for m in names} if compare else None))
    return out


@router.get("/api/marketing/channels", response_model=ChannelsOut, responses=_FILES)
def get_channels(
    state: State, user: CurrentUser, start: dt.date | None = None,
    end: dt.date | None = None, grain: svc.Grain = "month",
    by: Annotated[str, Query(max_length=100, description="Comma-separated breakdown: "
                             "channel, source, medium, campaign (empty: totals).")] = "channel",
    compare: svc.Compare = "none",
    format: Literal["json", "csv", "parquet"] = "json",
):
    """Sessions, new and returning customers, orders, GMV, net sales, spend, clicks,
    impressions, CPC, CPA, CAC, ROAS (gross and net) and conversion per period and
    breakdown, with 环比 (``compare=previous``) or 同比 (``compare=year``)."""
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    params = svc.make(svc.ChannelParams, start=start, end=end, grain=grain, by=dims,
                      compare=compare)
    try:
        out = svc.channel_report(state, params)
    except svc.NoData as exc:
        raise ApiError(404, "no_data", exc.message, exc.hint) from None
    if format != "json":
        return download(out.frame, format, "marketing-channels")
    cmp = params.compare != "none"
    return ChannelsOut(start=out.start, end=out.end, grain=params.grain, by=list(dims),
                       compare=params.compare, measures=[*ch.MEASURES, *ch.RATIOS],
                       rows=_rows(out.frame, dims, cmp), totals=_rows(out.totals, (), cmp))
