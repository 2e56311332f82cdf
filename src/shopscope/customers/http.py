"""Customers API: RFM segments, lifecycle stages, moves and flows, CLV, one customer's
profile. Each endpoint parses its query into the service's parameters
(:mod:`shopscope.customers.service`), calls it and adds the labels of the user's language.

Dates default to the data: ``as_of`` is the day after the last order (every order counts),
``calibration_end`` is the last order day (the whole history is calibration).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from shopscope.core.periods import Day
from shopscope.customers import service as svc
from shopscope.customers.lifecycle import STAGES, DerivedWindows, LifecycleWindows
from shopscope.customers.routing import ServiceErrors, viewer
from shopscope.customers.service import SEGMENTS, ClvReport, Order, label
from shopscope.ui.deps import CurrentUser, State
from shopscope.ui.respcache import cached_response

Lang = Literal["en", "zh"]


router = APIRouter(tags=["customers"], route_class=ServiceErrors)


# -- response models ------------------------------------------------------------------------
class SegmentOut(BaseModel):
    segment: str
    label: str
    customers: int
    share: float | None
    monetary: float | None
    revenue_share: float | None


class RfmOut(BaseModel):
    as_of: dt.date
    scheme: str
    customers: int
    items: list[SegmentOut]


class WindowsOut(BaseModel):
    new_days: int
    active_days: int
    churn_days: int
    derived: bool
    gaps: int | None = None
    repeat_buyers: int | None = None
    code: str | None = None


class StageOut(BaseModel):
    stage: str
    label: str
    customers: int
    share: float | None


class LifecycleOut(BaseModel):
    as_of: dt.date
    windows: WindowsOut
    customers: int
    stages: list[StageOut]


class TransitionOut(BaseModel):
    from_stage: str
    to_stage: str
    from_label: str
    to_label: str
    customers: int
    share: float | None


class TransitionsOut(BaseModel):
    start: dt.date
    end: dt.date
    windows: WindowsOut
    items: list[TransitionOut]


class FlowOut(BaseModel):
    month: dt.date
    from_stage: str
    to_stage: str
    from_label: str
    to_label: str
    customers: int


class FlowsOut(BaseModel):
    start: dt.date
    end: dt.date
    windows: WindowsOut
    items: list[FlowOut]


class ProfileOut(BaseModel):
    customer_id: str
    as_of: dt.date
    customer: dict[str, Any]
    pii: Literal["raw", "mask"]
    stage: str | None
    stage_label: str | None
    rfm: dict[str, Any]
    segments: dict[str, dict[str, str] | None]
    tags: dict[str, Any]
    clv: dict[str, float] | None
    orders: list[Order]
    orders_total: int


# -- shaping --------------------------------------------------------------------------------
def _windows_out(used: svc.Windows) -> WindowsOut:
    w: LifecycleWindows = used.windows
    d: DerivedWindows | None = used.derived
    return WindowsOut(new_days=w.new_days, active_days=w.active_days, churn_days=w.churn_days,
                      derived=d is not None, gaps=None if d is None else d.gaps,
                      repeat_buyers=None if d is None else d.repeat_buyers,
                      code=None if d is None else d.code)


def profile_out(p: svc.Profile, lang: str) -> ProfileOut:
    def seg(scheme: str) -> dict[str, str] | None:
        key = p.segments[scheme]
        return None if key is None else {"key": key, "label": label(SEGMENTS[scheme][key],
                                                                   lang)}

    return ProfileOut(
        customer_id=p.customer_id, as_of=p.as_of, pii=p.pii, customer=p.customer,
        stage=p.stage,
        stage_label=label(STAGES[p.stage], lang) if p.stage and p.stage in STAGES else None,
        rfm=p.rfm, segments={"classic": seg("classic"), "eleven": seg("eleven")},
        tags=p.tags, clv=p.clv, orders=p.orders, orders_total=p.orders_total)


# -- endpoints ------------------------------------------------------------------------------
@router.get("/api/customers/rfm", response_model=RfmOut)
@cached_response
def get_rfm(state: State, user: CurrentUser, as_of: dt.date | None = None,
            scheme: svc.Scheme = "classic", lang: Lang | None = None) -> RfmOut:
    """Customers and net sales per RFM segment as of ``as_of`` (orders before that day),
    segment labels in the user's language (or ``lang``)."""
    r = svc.rfm_segments(state, svc.RfmParams(as_of=as_of, scheme=scheme))
    language = lang or user.lang
    items = [SegmentOut(segment=row["segment"],
                        label=label(SEGMENTS[scheme][row["segment"]], language),
                        customers=int(row["customers"]), share=svc.finite(row["share"]),
                        monetary=svc.finite(row["monetary"]),
                        revenue_share=svc.finite(row["revenue_share"]))
             for row in r.segments.to_dict("records") if row["segment"] in SEGMENTS[scheme]]
    return RfmOut(as_of=r.as_of, scheme=r.scheme, customers=r.customers, items=items)


@router.get("/api/customers/lifecycle", response_model=LifecycleOut)
@cached_response
def get_lifecycle(
    state: State, user: CurrentUser, as_of: Day | None = None,
    new_days: int | None = Query(None, ge=1),
    active_days: int | None = Query(None, ge=1),
    churn_days: int | None = Query(None, ge=1), lang: Lang | None = None,
) -> LifecycleOut:
    """Customers per lifecycle stage as of ``as_of`` and the windows used: derived from
    the shop's inter-purchase gaps unless all three windows are given."""
    r = svc.lifecycle(state, svc.LifecycleParams(
        as_of=as_of, new_days=new_days, active_days=active_days, churn_days=churn_days))
    language = lang or user.lang
    total = r.customers
    return LifecycleOut(
        as_of=r.as_of, windows=_windows_out(r.windows), customers=total,
        stages=[StageOut(stage=k, label=label(STAGES[k], language), customers=n,
                         share=n / total if total else None) for k, n in r.counts.items()])


@router.get("/api/customers/lifecycle/transitions", response_model=TransitionsOut)
@cached_response
def get_transitions(
    state: State, user: CurrentUser, start: Day | None = None, end: Day | None = None,
    new_days: int | None = Query(None, ge=1),
    active_days: int | None = Query(None, ge=1),
    churn_days: int | None = Query(None, ge=1), lang: Lang | None = None,
) -> TransitionsOut:
    """Customers moving between stages from each month start to the next, summed over
    the months from ``start`` to ``end`` (long form, all 5 × 5 pairs)."""
    r = svc.transitions(state, svc.MovesParams(start=start, end=end, new_days=new_days,
                                               active_days=active_days,
                                               churn_days=churn_days))
    language = lang or user.lang
    return TransitionsOut(start=r.start, end=r.end, windows=_windows_out(r.windows), items=[
        TransitionOut(from_stage=row["from_stage"], to_stage=row["to_stage"],
                      from_label=label(STAGES[row["from_stage"]], language),
                      to_label=label(STAGES[row["to_stage"]], language),
                      customers=int(row["customers"]), share=svc.finite(row["share"]))
        for row in r.frame.to_dict("records")])


@router.get("/api/customers/lifecycle/flows", response_model=FlowsOut)
@cached_response
def get_flows(
    state: State, user: CurrentUser, start: Day | None = None, end: Day | None = None,
    new_days: int | None = Query(None, ge=1),
    active_days: int | None = Query(None, ge=1),
    churn_days: int | None = Query(None, ge=1), lang: Lang | None = None,
) -> FlowsOut:
    """Customers moving between stages, month by month: for each month start from
    ``start``'s month (default: six months before ``end``) to ``end``'s (default: the day
    after the last order), the moves to the next month start (only pairs with customers).
    The dashboard's lifecycle flow chart shows these numbers."""
    r = svc.flows(state, svc.MovesParams(start=start, end=end, new_days=new_days,
                                         active_days=active_days, churn_days=churn_days))
    language = lang or user.lang
    return FlowsOut(start=r.start, end=r.end, windows=_windows_out(r.windows), items=[
        FlowOut(month=row["month"], from_stage=row["from_stage"], to_stage=row["to_stage"],
                from_label=label(STAGES[row["from_stage"]], language),
                to_label=label(STAGES[row["to_stage"]], language),
                customers=int(row["customers"]))
        for row in r.frame.to_dict("records")])


@router.get("/api/customers/clv", response_model=ClvReport)
@cached_response
def get_clv(
    state: State, user: CurrentUser, calibration_end: Day | None = None,
    horizon_months: int = Query(12, ge=1, le=120),
    margin: float = Query(1.0, ge=0, le=1, description="profit share of sales; 1 = revenue"),
    discount_rate: float = Query(0.10, ge=0, le=1, description="annual discount rate"),
    spend: svc.SpendMeasure = Query("net", description="net (net_amount, after discounts) "
                                    "or gross (gross_amount, before discounts)"),
) -> ClvReport:
    """Fit BG/NBD + Gamma-Gamma on purchases up to ``calibration_end`` (default: the last
    order day), in days. Returns the parameters, log-likelihoods, a CLV histogram and
    totals, and, when orders go past ``calibration_end``, predicted against actual
    purchases in that holdout by calibration frequency. ``spend_excluded`` counts the
    repeat buyers left out of the spend fit (mean repeat spend <= 0); ``dropout`` says
    whether the model found too little dropout to judge, with the holdout error (from a
    default split when there is no holdout)."""
    return svc.clv_report(state, svc.ClvParams(
        calibration_end=calibration_end, horizon_months=horizon_months, margin=margin,
        discount_rate=discount_rate, spend=spend))


@router.get("/api/customers/profile/{customer_id}", response_model=ProfileOut)
def get_profile(state: State, user: CurrentUser, customer_id: str,
                as_of: dt.date | None = None, lang: Lang | None = None) -> ProfileOut:
    """One customer: attributes (PII masked unless you are an admin), lifecycle stage,
    RFM values and segments, tags, CLV and P(alive), and the last 50 orders."""
    p = svc.profile(state, svc.ProfileParams(customer_id=customer_id, as_of=as_of),
                    viewer(state, user.can("admin")))
    return profile_out(p, lang or user.lang)
