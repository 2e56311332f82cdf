"""Customers: RFM segments, lifecycle stages and moves, CLV, one customer's profile.

Every result is computed in the engine on the workspace's store and goes through the
app's per-data-version cache. The compute functions below hold no language: labels are
added when a response is built, so the JSON API and the dashboard pages
(:mod:`shopscope.customers.pages`) share one cached result per set of parameters.

Dates default to the data: ``as_of`` is the day after the last order (every order counts),
``calibration_end`` is the last order day (the whole history is calibration).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel

from shopscope.customers import (
    STAGES,
    TAGS,
    LifecycleWindows,
    build_profile,
    classic_segment,
    derive_windows,
    eleven_segment,
    rfm_scores,
    rfm_table,
    segment_summary,
    stages_as_of,
    transition_matrix,
)
from shopscope.customers.clv import ClvFit, dropout_check, fit_clv
from shopscope.customers.summary import SummaryOptionError
from shopscope.customers.rfm import CLASSIC_SEGMENTS, ELEVEN
from shopscope.ui.deps import ApiError, AppState, CurrentUser, State
from shopscope.customers.models import ClvError, clv
from shopscope.privacy import is_pseudonym, looks_like_pii, protect, public_id

router = APIRouter(tags=["customers"])

Scheme = Literal["classic", "eleven"]
Lang = Literal["en", "zh"]
SpendMeasure = Literal["net", "gross"]
#: Segment registry by key, per scheme (the RFM module keys classic ones by R/F/M letters).
SEGMENTS = {
    "classic": {s.key: s for s in CLASSIC_SEGMENTS.values()},
    "eleven": {s.key: s for s in ELEVEN.values()},
}
HISTOGRAM_BINS = 20
HISTORY_ORDERS = 50
TRANSITION_MONTHS = 6


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


class HistogramBin(BaseModel):
    lo: float
    hi: float
    customers: int
    open_ended: bool = False


class HoldoutRow(BaseModel):
    frequency: int
    label: str
    customers: int
    actual: float | None
    predicted: float | None


class HoldoutOut(BaseModel):
    observation_end: dt.date
    actual_total: float
    predicted_total: float
    total_error_pct: float | None
    mae: float
    rows: list[HoldoutRow]


class DropoutOut(BaseModel):
    """The model's dropout against the lifecycle stages (see
    :class:`shopscope.customers.clv.DropoutCheck`)."""

    too_little_dropout: bool
    mean_probability_alive: float
    expected_alive: float
    customers: int
    lifecycle_as_of: dt.date
    lifecycle_churned: int
    lifecycle_buyers: int
    lifecycle_churned_share: float | None
    churn_days: int
    holdout_error_pct: float | None
    holdout_calibration_end: dt.date | None
    holdout_observation_end: dt.date | None


class ClvOut(BaseModel):
    calibration_end: dt.date
    horizon_months: int
    margin: float
    discount_rate: float
    spend: str
    spend_excluded: int
    params: dict[str, dict[str, float]]
    log_likelihood: dict[str, float]
    converged: dict[str, bool]
    totals: dict[str, float]
    histogram: list[HistogramBin]
    holdout: HoldoutOut | None
    dropout: DropoutOut


class OrderOut(BaseModel):
    order_id: str
    ordered_at: str | None
    channel: str | None
    status: str | None
    net_amount: float | None
    currency: str | None


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
    orders: list[OrderOut]
    orders_total: int


# -- helpers --------------------------------------------------------------------------------
def _num(v: object) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _json(v: object) -> object:
    """A pandas/numpy cell as a JSON value (None for missing, ISO text for times)."""
    if v is None:
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _num(v)
    try:
        if pd.isna(v):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def label(obj: Any, lang: str) -> str:  # noqa: ANN401
    """The ``label_zh`` or ``label_en`` of a Segment, Stage or Tag."""
    return obj.label_zh if lang == "zh" else obj.label_en


def last_order_day(store) -> dt.date | None:  # noqa: ANN001
    last = store.table("orders").ordered_at.max().execute()
    return None if last is None or pd.isna(last) else pd.Timestamp(last).date()


def first_order_day(store) -> dt.date | None:  # noqa: ANN001
    first = store.table("orders").ordered_at.min().execute()
    return None if first is None or pd.isna(first) else pd.Timestamp(first).date()


def data_last_day(state: AppState) -> dt.date:
    """The last order day (cached); 422 when no order is loaded."""
    day = state.cached(("customers-last-day",), lambda: last_order_day(state.workspace.store))
    if day is None:
        raise ApiError(422, "no_orders", "no orders loaded", "ingest orders first")
    return day


def default_as_of(state: AppState, as_of: dt.date | None) -> dt.date:
    return as_of or data_last_day(state) + dt.timedelta(days=1)


def _windows_out(w: LifecycleWindows, derived: Any = None) -> WindowsOut:  # noqa: ANN401
    return WindowsOut(new_days=w.new_days, active_days=w.active_days, churn_days=w.churn_days,
                      derived=derived is not None,
                      gaps=None if derived is None else derived.gaps,
                      repeat_buyers=None if derived is None else derived.repeat_buyers,
                      code=None if derived is None else derived.code)


def _user_windows(new_days: int | None, active_days: int | None,
                  churn_days: int | None) -> LifecycleWindows | None:
    given = [v is not None for v in (new_days, active_days, churn_days)]
    if not any(given):
        return None
    if not all(given):
        raise ApiError(422, "invalid_windows", "give new_days, active_days and churn_days "
                       "together", "or none of them to derive the windows from the data")
    return LifecycleWindows(int(new_days), int(active_days), int(churn_days))  # type: ignore[arg-type]


# -- computations (language-neutral, cached by the callers) ---------------------------------
def segment_frame(store, as_of: dt.date, scheme: Scheme) -> pd.DataFrame:  # noqa: ANN001
    """:func:`segment_summary` of the RFM scores as of ``as_of`` under ``scheme``."""
    scored = rfm_scores(rfm_table(store, as_of))
    segmented = classic_segment(scored) if scheme == "classic" else eleven_segment(scored)
    return segment_summary(segmented, scheme).data


def lifecycle_counts(store, as_of: dt.date,  # noqa: ANN001
                     windows: LifecycleWindows | None) -> tuple[WindowsOut, dict[str, int]]:
    """Customers per stage as of ``as_of`` (every stage, 0 when empty) and the windows."""
    derived = None
    if windows is None:
        derived = derive_windows(store, as_of)
        windows = derived.windows
    st = stages_as_of(store, as_of, windows)
    counts = st.group_by("stage").aggregate(customers=st.count()).execute()
    by_stage = dict(zip(counts.stage, counts.customers.astype(int), strict=True))
    return _windows_out(windows, derived), {k: int(by_stage.get(k, 0)) for k in STAGES}


def transition_window(state: AppState, start: dt.date | None,
                      end: dt.date | None) -> tuple[dt.date, dt.date]:
    """``end`` defaults to the default ``as_of``; ``start`` to six months before it."""
    end = end or default_as_of(state, None)
    if start is None:
        month = end.replace(day=1)
        for _ in range(TRANSITION_MONTHS):
            month = (month - dt.timedelta(days=1)).replace(day=1)
        start = month
    if start > end:
        raise ApiError(422, "invalid_range", "start must not be after end", "pass start ≤ end")
    return start, end


def transitions(store, start: dt.date, end: dt.date,  # noqa: ANN001
                windows: LifecycleWindows | None) -> tuple[WindowsOut, pd.DataFrame]:
    """:func:`transition_matrix`, with the windows it used (derived as of the last
    month start, as the matrix itself would)."""
    derived = None
    if windows is None:
        derived = derive_windows(store, end.replace(day=1))
        windows = derived.windows
    return _windows_out(windows, derived), transition_matrix(store, start, end, windows)


def _histogram(values: np.ndarray) -> list[HistogramBin]:
    """Equal-width bins from 0 to the 99th percentile; the last bin is open-ended."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    lo = float(min(0.0, values.min()))
    hi = float(np.quantile(values, 0.99))
    if hi <= lo:
        hi = float(values.max()) if values.max() > lo else lo + 1.0
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
    out = [HistogramBin(lo=float(a), hi=float(b), customers=int(n))
           for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)]
    if (values > hi).any():
        out[-1].open_ended = True
    return out


def clv_models(store, calibration_end: dt.date, last_day: dt.date,  # noqa: ANN001
               spend: str = "net") -> ClvFit:
    """BG/NBD and Gamma-Gamma fitted on the calibration summary (in days), with a holdout
    when orders go past ``calibration_end`` (:func:`fit_clv`: repeat buyers whose mean
    repeat spend is <= 0 are left out of the spend fit and counted).

    Raises
    ------
    ClvError
        Too few customers or repeat buyers to fit on.
    """
    observation_end = last_day if last_day > calibration_end else None
    return fit_clv(store, calibration_end, observation_end, spend=spend)  # type: ignore[arg-type]


def clv_report(store, fit: ClvFit, horizon: int, margin: float,  # noqa: ANN001
               discount_rate: float) -> ClvOut:
    summary, purchases, spend = fit.summary, fit.purchases, fit.spend
    result = clv(purchases, spend, summary, horizon=horizon, margin=margin,
                 discount_rate=discount_rate, time_unit="D")
    data = result.data
    values = data.clv.to_numpy(dtype=float)
    totals = {
        "customers": float(len(data)),
        "repeat_customers": float(fit.repeat_customers),
        "total_clv": result.total,
        "mean_clv": float(np.mean(values)),
        "median_clv": float(np.median(values)),
        "expected_purchases": float(data.expected_purchases.sum()),
        "expected_alive": float(data.probability_alive.sum()),
    }
    holdout = None
    h = fit.holdout()
    if h is not None:
        holdout = HoldoutOut(
            observation_end=fit.observation_end, actual_total=h.actual_total,
            predicted_total=h.predicted_total, total_error_pct=_num(h.total_error_pct),
            mae=h.mae,
            rows=[HoldoutRow(frequency=int(r["frequency"]), label=str(r["label"]),
                             customers=int(r["customers"]), actual=_num(r["actual"]),
                             predicted=_num(r["predicted"]))
                  for r in h.table.to_dict("records")])
    check = dropout_check(store, fit, result, h)
    return ClvOut(
        calibration_end=fit.calibration_end, horizon_months=horizon, margin=margin,
        discount_rate=discount_rate, spend=fit.spend_measure, spend_excluded=fit.spend_excluded,
        params={"bgnbd": dict(purchases.params_), "gamma_gamma": dict(spend.params_)},
        log_likelihood={"bgnbd": purchases.log_likelihood_,
                        "gamma_gamma": spend.log_likelihood_},
        converged={"bgnbd": bool(purchases.converged_), "gamma_gamma": bool(spend.converged_)},
        totals=totals, histogram=_histogram(values), holdout=holdout,
        dropout=DropoutOut(**check.as_dict()),
    )


def cached_clv(state: AppState, calibration_end: dt.date | None, horizon: int = 12,
               margin: float = 1.0, discount_rate: float = 0.10,
               spend: str = "net") -> ClvOut:
    """The CLV report through the cache (fit and report cached separately); ClvError
    becomes a 422 with the model's hint."""
    last = data_last_day(state)
    end = calibration_end or last
    store = state.workspace.store
    try:
        fit = state.cached(("customers-clv-fit", end, spend),
                           lambda: clv_models(store, end, last, spend))
        return state.cached(("customers-clv", end, horizon, margin, discount_rate, spend),
                            lambda: clv_report(store, fit, horizon, margin, discount_rate))
    except ClvError as exc:
        raise ApiError(422, f"clv_{exc.code}", exc.message, exc.hint) from exc
    except SummaryOptionError as exc:  # e.g. a calibration end no timestamp can hold
        raise ApiError(422, "clv_invalid_option", exc.message, exc.hint) from exc


def customer_clv(state: AppState, customer_id: str) -> dict[str, float] | None:
    """CLV (12 months, revenue) and P(alive) of one customer from the whole-history fit;
    None when the models cannot be fitted or the customer never bought."""
    try:
        last = data_last_day(state)
        fit = state.cached(("customers-clv-fit", last, "net"),
                           lambda: clv_models(state.workspace.store, last, last))
    except (ApiError, ClvError):
        return None
    summary = fit.summary
    row = summary[summary.customer_id == customer_id]
    if row.empty:
        return None
    result = clv(fit.purchases, fit.spend, row, horizon=12, time_unit="D").data.iloc[0]
    return {"clv": float(result["clv"]), "probability_alive": float(result["probability_alive"]),
            "expected_purchases": float(result["expected_purchases"]), "horizon_months": 12.0}


def profile_data(store, customer_id: str, as_of: dt.date, admin: bool) -> dict | None:  # noqa: ANN001
    """The customer's profile row (PII protected unless ``admin``) and order history;
    None for an id that is neither in ``customers`` nor in ``orders``."""
    orders = store.table("orders")
    mine = orders.filter(orders.customer_id == customer_id)
    n_orders = int(mine.count().execute())
    customers = store.table("customers")
    known = int(customers.filter(customers.customer_id == customer_id).count().execute())
    if not n_orders and not known:
        return None
    profile = build_profile(store, as_of)
    profile = protect(profile.filter(profile.customer_id == customer_id),
                      "raw" if admin else "mask")
    rows = profile.execute()
    row = rows.iloc[0].to_dict() if len(rows) else {"customer_id": customer_id}
    if not len(rows):  # not known at as_of (first seen later): attributes only
        one = protect(customers.filter(customers.customer_id == customer_id),
                      "raw" if admin else "mask").drop("attributes").execute()
        if len(one):
            row.update(one.iloc[0].to_dict())
    history = mine.order_by([ibis.desc("ordered_at"), "order_id"]).limit(HISTORY_ORDERS).select(
        "order_id", "ordered_at", "channel", "status", "net_amount", "currency").execute()
    return {"row": {k: _json(v) for k, v in row.items()},
            "orders": [{k: _json(v) for k, v in r.items()} for r in history.to_dict("records")],
            "orders_total": n_orders}


CUSTOMER_FIELDS = ("first_seen_at", "signup_channel", "region", "country", "member_tier",
                   "email", "phone", "name")
RFM_FIELDS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
              "fm_score", "days_since", "first_order_at", "last_order_at")


def profile_out(data: dict, customer_id: str, as_of: dt.date, admin: bool, lang: str,
                value: dict[str, float] | None) -> ProfileOut:
    row = data["row"]

    def seg(scheme: str, key: object) -> dict[str, str] | None:
        s = SEGMENTS[scheme].get(key) if isinstance(key, str) else None
        return None if s is None else {"key": s.key, "label": label(s, lang)}

    stage = row.get("stage")
    return ProfileOut(
        customer_id=customer_id, as_of=as_of, pii="raw" if admin else "mask",
        customer={k: row.get(k) for k in CUSTOMER_FIELDS},
        stage=stage, stage_label=label(STAGES[stage], lang) if stage in STAGES else None,
        rfm={k: row.get(k) for k in RFM_FIELDS},
        segments={"classic": seg("classic", row.get("classic_segment")),
                  "eleven": seg("eleven", row.get("eleven_segment"))},
        tags={k: row.get(k) for k in TAGS if k in row},
        clv=value, orders=[OrderOut(**o) for o in data["orders"]],
        orders_total=data["orders_total"],
    )


def resolve_pseudonym(store, name: str, key: str) -> str | None:  # noqa: ANN001
    """The customer id whose pseudonym is ``name`` (recomputed in the engine over the
    known ids), or None."""
    ids = [store.table(t).select(customer_id=store.table(t).customer_id.cast("string"))
           for t in ("customers", "orders")]
    both = ids[0].union(ids[1]).distinct()
    hit = both.filter(public_id(both.customer_id, key) == name).limit(1).execute()
    return None if hit.empty else str(hit.customer_id.iloc[0])


def customer_ref(state: AppState, customer_id: str, admin: bool) -> tuple[str, str]:
    """(the real id, the id to show) for a profile request.

    Non-admins see and use pseudonyms for ids that are e-mail addresses or phone numbers
    (:func:`~shopscope.privacy.public_id`); asking for such an id in clear is refused, or
    a viewer could test whether someone is a customer. A pseudonym is resolved for anyone.
    """
    if is_pseudonym(customer_id):
        key = state.pseudonym_key
        real = state.cached(("customers-pseudonym", customer_id),
                            lambda: resolve_pseudonym(state.workspace.store, customer_id, key))
        if real is None:
            raise ApiError(404, "not_found", f"no customer {customer_id!r}",
                           "customer ids are listed by GET /api/customers")
        return real, real if admin else customer_id
    if not admin and looks_like_pii(customer_id):
        raise ApiError(403, "pii_id", "this customer id is an e-mail address or a phone "
                       "number; only admins may look it up", "use the pseudonymous id (c_…) "
                       "shown by GET /api/customers")
    return customer_id, customer_id


def cached_profile(state: AppState, customer_id: str, as_of: dt.date | None, admin: bool,
                   lang: str) -> ProfileOut:
    customer_id, shown = customer_ref(state, customer_id, admin)
    day = default_as_of(state, as_of)
    data = state.cached(("customers-profile", customer_id, day, admin),
                        lambda: profile_data(state.workspace.store, customer_id, day, admin))
    if data is None:
        raise ApiError(404, "not_found", f"no customer {shown!r}",
                       "customer ids are listed by GET /api/customers")
    value = state.cached(("customers-profile-clv", customer_id),
                         lambda: customer_clv(state, customer_id))
    return profile_out(data, shown, day, admin, lang, value)


# -- endpoints ------------------------------------------------------------------------------
@router.get("/api/customers/rfm", response_model=RfmOut)
def get_rfm(state: State, user: CurrentUser, as_of: dt.date | None = None,  # noqa: ANN201
            scheme: Scheme = "classic", lang: Lang | None = None):
    """Customers and net sales per RFM segment as of ``as_of`` (orders before that day),
    segment labels in the user's language (or ``lang``)."""
    day = default_as_of(state, as_of)
    frame = state.cached(("customers-rfm", day, scheme),
                         lambda: segment_frame(state.workspace.store, day, scheme))
    language = lang or user.lang
    items = [SegmentOut(segment=r["segment"], label=label(SEGMENTS[scheme][r["segment"]],
                                                          language),
                        customers=int(r["customers"]), share=_num(r["share"]),
                        monetary=_num(r["monetary"]), revenue_share=_num(r["revenue_share"]))
             for r in frame.to_dict("records") if r["segment"] in SEGMENTS[scheme]]
    return RfmOut(as_of=day, scheme=scheme, customers=int(frame.customers.sum()), items=items)


@router.get("/api/customers/lifecycle", response_model=LifecycleOut)
def get_lifecycle(  # noqa: ANN201, PLR0913
    state: State, user: CurrentUser, as_of: dt.date | None = None,
    new_days: int | None = Query(None, ge=1), active_days: int | None = Query(None, ge=1),
    churn_days: int | None = Query(None, ge=1), lang: Lang | None = None,
):
    """Customers per lifecycle stage as of ``as_of`` and the windows used: derived from
    the shop's inter-purchase gaps unless all three windows are given."""
    day = default_as_of(state, as_of)
    windows = _user_windows(new_days, active_days, churn_days)
    used, counts = state.cached(("customers-lifecycle", day, windows),
                                lambda: lifecycle_counts(state.workspace.store, day, windows))
    language = lang or user.lang
    total = sum(counts.values())
    return LifecycleOut(
        as_of=day, windows=used, customers=total,
        stages=[StageOut(stage=k, label=label(STAGES[k], language), customers=n,
                         share=n / total if total else None) for k, n in counts.items()])


@router.get("/api/customers/lifecycle/transitions", response_model=TransitionsOut)
def get_transitions(  # noqa: ANN201, PLR0913
    state: State, user: CurrentUser, start: dt.date | None = None, end: dt.date | None = None,
    new_days: int | None = Query(None, ge=1), active_days: int | None = Query(None, ge=1),
    churn_days: int | None = Query(None, ge=1), lang: Lang | None = None,
):
    """Customers moving between stages from each month start to the next, summed over
    the months from ``start`` to ``end`` (long form, all 5 × 5 pairs)."""
    start, end = transition_window(state, start, end)
    windows = _user_windows(new_days, active_days, churn_days)
    used, frame = state.cached(("customers-transitions", start, end, windows),
                               lambda: transitions(state.workspace.store, start, end, windows))
    language = lang or user.lang
    return TransitionsOut(start=start, end=end, windows=used, items=[
        TransitionOut(from_stage=r["from_stage"], to_stage=r["to_stage"],
                      from_label=label(STAGES[r["from_stage"]], language),
                      to_label=label(STAGES[r["to_stage"]], language),
                      customers=int(r["customers"]), share=_num(r["share"]))
        for r in frame.to_dict("records")])


@router.get("/api/customers/clv", response_model=ClvOut)
def get_clv(  # noqa: ANN201, PLR0913
    state: State, user: CurrentUser, calibration_end: dt.date | None = None,
    horizon_months: int = Query(12, ge=1, le=120),
    margin: float = Query(1.0, ge=0, le=1, description="profit share of sales; 1 = revenue"),
    discount_rate: float = Query(0.10, ge=0, le=1, description="annual discount rate"),
    spend: SpendMeasure = Query("net", description="net (net_amount, after discounts) or "
                                "gross (gross_amount, before discounts)"),
):
    """Fit BG/NBD + Gamma-Gamma on purchases up to ``calibration_end`` (default: the last
    order day), in days. Returns the parameters, log-likelihoods, a CLV histogram and
    totals, and, when orders go past ``calibration_end``, predicted against actual
    purchases in that holdout by calibration frequency. ``spend_excluded`` counts the
    repeat buyers left out of the spend fit (mean repeat spend <= 0); ``dropout`` says
    whether the model found too little dropout to judge, with the holdout error (from a
    default split when there is no holdout)."""
    return cached_clv(state, calibration_end, horizon_months, margin, discount_rate, spend)


@router.get("/api/customers/profile/{customer_id}", response_model=ProfileOut)
def get_profile(state: State, user: CurrentUser, customer_id: str,  # noqa: ANN201
                as_of: dt.date | None = None, lang: Lang | None = None):
    """One customer: attributes (PII masked unless you are an admin), lifecycle stage,
    RFM values and segments, tags, CLV and P(alive), and the last 50 orders."""
    return cached_profile(state, customer_id, as_of, user.can("admin"), lang or user.lang)
