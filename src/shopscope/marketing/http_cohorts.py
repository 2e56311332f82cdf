"""The cohort API: LTV, CAC and payback of acquisition cohorts (a thin adapter over
:mod:`shopscope.marketing.service_cohorts`; bad options answer 422)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from shopscope.errors import OptionError
from shopscope.marketing import service_cohorts as svc
from shopscope.ui.deps import CurrentUser, State, download

router = APIRouter(tags=["marketing"])


class CohortRow(BaseModel):
    key: str  # acquisition channel or campaign
    cohort: dt.date  # month of the first order
    customers: int
    ltv: dict[str, float | None]  # horizon in days -> net revenue per customer; null: too young
    ltv_cac: dict[str, float | None]
    spend: float
    cac: float | None  # null without spend
    payback_days: int | None  # first horizon where cumulative revenue x margin >= CAC
    payback_months: int | None  # first 30-day month likewise
    projected_ltv_12m: float | None  # a projection from the CLV model, not realised


class CurvePoint(BaseModel):
    key: str
    cohort: dt.date
    month: int  # 30-day months since acquisition
    cum_revenue: float  # cumulative net revenue per customer


class KeyTotal(BaseModel):
    key: str
    customers: int
    spend: float
    cac: float | None
    ltv: dict[str, float | None]  # customer-weighted over the cohorts old enough


class CohortsOut(BaseModel):
    by: str
    margin: float
    horizons: list[int]
    data_end: dt.date | None  # the day after the last order
    cohorts: list[CohortRow]
    curves: list[CurvePoint]
    by_key: list[KeyTotal]
    notes: list[str]


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _int(v: Any) -> int | None:
    return None if _num(v) is None else int(v)


@router.get("/api/marketing/cohorts", response_model=CohortsOut,
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def get_cohorts(
    state: State, user: CurrentUser,
    start: dt.date | None = None, end: dt.date | None = None,
    by: Literal["channel", "campaign"] = "channel",
    margin: Annotated[float, Query(gt=0, le=1, description="Gross margin for payback.")]
    = 1.0,
    horizons: Annotated[str, Query(max_length=100, description="Days, comma-separated.")]
    = "7,30,90,180,365",
    projected: bool = True,
    format: Literal["json", "csv", "parquet"] = "json",
) -> Any:
    """Acquisition cohorts (channel or campaign x month of first order): realised net LTV
    per customer at each horizon (null while the cohort is too young), CAC = the month's
    spend / new customers, LTV/CAC, payback, cohort curves and the projected 12-month LTV."""
    try:
        days = tuple(int(x) for x in horizons.split(",") if x.strip())
    except ValueError:
        raise OptionError(f"horizons: not a list of whole days ({horizons!r})",
                          hint="e.g. horizons=7,30,90") from None
    params = svc.make(svc.CohortParams, start=start, end=end, by=by, margin=margin,
                      horizons=days, projected=projected)
    out = svc.cohort_ltv(state, params)
    if format != "json":
        resp: Response = download(out.cohorts, format, f"cohorts_by_{by}")
        return resp
    hs = params.horizons
    rows = [CohortRow(
        key=r["key"], cohort=r["cohort"], customers=int(r["customers"]),
        ltv={str(h): _num(r[f"ltv_{h}"]) for h in hs},
        ltv_cac={str(h): _num(r[f"ltv_cac_{h}"]) for h in hs},
        spend=float(r["spend"]), cac=_num(r["cac"]), payback_days=_int(r["payback_days"]),
        payback_months=_int(r["payback_months"]),
        projected_ltv_12m=_num(r["projected_ltv_12m"]))
        for r in out.cohorts.to_dict("records")]
    totals = [KeyTotal(key=r["key"], customers=int(r["customers"]), spend=float(r["spend"]),
                       cac=_num(r["cac"]), ltv={str(h): _num(r[f"ltv_{h}"]) for h in hs})
              for r in out.by_key.to_dict("records")]
    curves = [CurvePoint(**r) for r in out.curves.to_dict("records")]
    return CohortsOut(by=by, margin=params.margin, horizons=list(hs), data_end=out.data_end,
                      cohorts=rows, curves=curves, by_key=totals, notes=list(out.notes))
