"""The customers service: the one entry point of the API, the pages and the CLI.

One function per question, ``name(ctx, params) -> result``: the parameters are frozen
pydantic models (:class:`~shopscope.core.service.Params`), defaults that depend on the
data (``as_of``: the day after the last order; ``calibration_end``: the last order day)
are filled in here, and each result is cached under the key of its *resolved*
parameters, so the same question is computed once whichever adapter asks it.

Results hold no language: segment, stage and tag keys; the adapters add labels with
:func:`label`. What a viewer may see (PII masks, pseudonyms, raw exports) is decided from
an explicit :class:`Viewer`, so API, page and CLI give one viewer the same answer.

Errors an adapter must tell apart are :class:`CustomersError` with a stable ``code`` and
the HTTP-like ``status`` the API answers with (422 bad option, 403 not allowed, 404 unknown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar

import ibis
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopscope.core.service import Context, Params
from shopscope.customers.audiences import (
    AudienceDefinition,
    AudienceStats,
    audience_expr,
    audience_stats,
    build_profile,
)
from shopscope.customers.clv import (
    ClvFit,
    DropoutCheck,
    PurchaseModel,
    clv_columns,
    default_calibration_end,
    dropout_check,
    fit_clv,
)
from shopscope.customers.clv_report import ClvReport, build_report, finite
from shopscope.customers.lifecycle import (
    STAGES,
    DerivedWindows,
    LifecycleWindows,
    derive_windows,
    stage_flows,
    stages_as_of,
    transition_matrix,
)
from shopscope.customers.models import ClvError, ClvResult, HoldoutResult, clv
from shopscope.customers.rfm import (
    CLASSIC_SEGMENTS,
    ELEVEN,
    classic_segment,
    eleven_segment,
    rfm_scores,
    rfm_table,
    segment_summary,
)
from shopscope.customers.storage import AudienceStore, ExportFormat, export_audience
from shopscope.customers.summary import SummaryOptionError
from shopscope.customers.tags import TAGS
from shopscope.errors import ShopscopeError
from shopscope.privacy import PII_COLUMNS, is_pseudonym, looks_like_pii, protect, public_id

if TYPE_CHECKING:
    from shopscope.store import Workspace

T = TypeVar("T")

Scheme = Literal["classic", "eleven"]
SCHEMES: tuple[str, ...] = ("classic", "eleven")
SpendMeasure = Literal["net", "gross"]
Frequency = Literal["orders", "days"]
PiiMode = Literal["mask", "hash", "raw"]
#: Segment registry by key, per scheme (the RFM module keys classic ones by R/F/M letters).
SEGMENTS = {
    "classic": {s.key: s for s in CLASSIC_SEGMENTS.values()},
    "eleven": {s.key: s for s in ELEVEN.values()},
}
HISTORY_ORDERS = 50
TRANSITION_MONTHS = 6
CUSTOMER_FIELDS = ("first_seen_at", "signup_channel", "region", "country", "member_tier",
                   "email", "phone", "name")
RFM_FIELDS = ("recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
              "fm_score", "days_since", "first_order_at", "last_order_at")


class CustomersError(ShopscopeError):
    """A question the service cannot answer: ``code`` is stable for programs, ``status``
    is what the API answers (422 bad option, 403 not allowed, 404 unknown)."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Viewer:
    """Who is asking: admins see PII and raw ids; everyone else sees masks and pseudonyms
    made with ``pseudonym_key`` (the workspace's secret; None: ids stay as they are)."""

    admin: bool
    pseudonym_key: str | None = None


#: Who runs the CLI or Python on their own workspace: PII as asked, ids as they are.
OPERATOR = Viewer(admin=True)


def label(obj: Any, lang: str) -> str:
    """The ``label_zh`` or ``label_en`` of a Segment, Stage or Tag."""
    return obj.label_zh if lang == "zh" else obj.label_en


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
        return finite(v)
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


P = TypeVar("P", bound=Params)


def make_params(cls: type[P], **values: Any) -> P:
    """``cls(**values)``, a bad value refused as a 422 ``invalid_option`` naming it."""
    try:
        return cls(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CustomersError(422, "invalid_option", f"{where}: {first['msg']}",
                             "see --help for the accepted values") from None


def _cached(ctx: Context, name: str, params: Params, compute: Callable[[], T]) -> T:
    return ctx.cached((f"customers.{name}", params.cache_key()), compute)


# -- the data's dates -----------------------------------------------------------------------
@dataclass(frozen=True)
class DataDates:
    """First and last order day, and the defaults derived from them."""

    first: dt.date
    last: dt.date

    @property
    def default_as_of(self) -> dt.date:
        """The day after the last order: every order counts."""
        return self.last + dt.timedelta(days=1)

    @property
    def default_calibration_end(self) -> dt.date:
        """The dashboard's CLV split: the last third of the history held out."""
        return default_calibration_end(self.first, self.last)


def _order_days(store: Any) -> tuple[dt.date, dt.date] | None:
    orders = store.table("orders")
    row = orders.aggregate(first=orders.ordered_at.min(),
                           last=orders.ordered_at.max()).execute().iloc[0]
    if row["last"] is None or pd.isna(row["last"]):
        return None
    return pd.Timestamp(row["first"]).date(), pd.Timestamp(row["last"]).date()


def data_dates(ctx: Context) -> DataDates:
    """The first and last order day; 422 ``no_orders`` when no order is loaded."""
    days = ctx.cached(("customers.data_dates",), lambda: _order_days(ctx.store))
    if days is None:
        raise CustomersError(422, "no_orders", "no orders loaded", "ingest orders first")
    return DataDates(*days)


def _as_of(ctx: Context, as_of: dt.date | None) -> dt.date:
    return as_of or data_dates(ctx).default_as_of


# -- RFM ------------------------------------------------------------------------------------
class RfmParams(Params):
    """RFM as of ``as_of`` (orders before that day; default: every order)."""

    as_of: dt.date | None = None
    scheme: Scheme = "classic"
    frequency: Frequency = "orders"


@dataclass(frozen=True)
class RfmResult:
    """``segments``: :func:`segment_summary` (``segment, customers, share, monetary,
    revenue_share, …``) of the scheme's segments."""

    as_of: dt.date
    scheme: str
    segments: pd.DataFrame

    @property
    def customers(self) -> int:
        return int(self.segments.customers.sum())


def _segmented(ctx: Context, p: RfmParams) -> Any:
    assert p.as_of is not None  # resolved by the caller
    scored = rfm_scores(rfm_table(ctx.store, p.as_of, frequency=p.frequency))
    return classic_segment(scored) if p.scheme == "classic" else eleven_segment(scored)


def rfm_segments(ctx: Context, params: RfmParams) -> RfmResult:
    """Customers and net sales per RFM segment."""
    p = params.model_copy(update={"as_of": _as_of(ctx, params.as_of)})
    frame = _cached(ctx, "rfm_segments", p,
                    lambda: segment_summary(_segmented(ctx, p), p.scheme).data)
    return RfmResult(p.as_of, p.scheme, frame)  # type: ignore[arg-type]


def rfm_customers(ctx: Context, params: RfmParams) -> RfmResult:
    """One row per customer (values, scores, segment) instead of segment totals."""
    p = params.model_copy(update={"as_of": _as_of(ctx, params.as_of)})
    frame = _cached(ctx, "rfm_customers", p,
                    lambda: _segmented(ctx, p).order_by("customer_id").execute())
    return RfmResult(p.as_of, p.scheme, frame)  # type: ignore[arg-type]


# -- lifecycle ------------------------------------------------------------------------------
class WindowParams(Params):
    """Lifecycle windows in days: all three, or none to derive them from the data."""

    new_days: Annotated[int | None, Field(ge=1)] = None
    active_days: Annotated[int | None, Field(ge=1)] = None
    churn_days: Annotated[int | None, Field(ge=1)] = None

    def windows(self) -> LifecycleWindows | None:
        given = [v is not None for v in (self.new_days, self.active_days, self.churn_days)]
        if not any(given):
            return None
        if not all(given):
            raise CustomersError(422, "invalid_windows", "give new_days, active_days and "
                                 "churn_days together",
                                 "or none of them to derive the windows from the data")
        return LifecycleWindows(self.new_days, self.active_days, self.churn_days)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Windows:
    """The windows used, and what they were derived from (None when given)."""

    windows: LifecycleWindows
    derived: DerivedWindows | None


def _windows(ctx: Context, given: LifecycleWindows | None, as_of: dt.date) -> Windows:
    if given is not None:
        return Windows(given, None)
    derived = derive_windows(ctx.store, as_of)
    return Windows(derived.windows, derived)


class LifecycleParams(WindowParams):
    as_of: dt.date | None = None


@dataclass(frozen=True)
class LifecycleResult:
    """Customers per stage (every stage of :data:`STAGES`, 0 when empty)."""

    as_of: dt.date
    windows: Windows
    counts: dict[str, int]

    @property
    def customers(self) -> int:
        return sum(self.counts.values())


def lifecycle(ctx: Context, params: LifecycleParams) -> LifecycleResult:
    """Customers per lifecycle stage as of ``as_of``."""
    given = params.windows()
    day = _as_of(ctx, params.as_of)
    p = params.model_copy(update={"as_of": day})

    def compute() -> LifecycleResult:
        used = _windows(ctx, given, day)
        st = stages_as_of(ctx.store, day, used.windows)
        counts = st.group_by("stage").aggregate(customers=st.count()).execute()
        by_stage = dict(zip(counts.stage, counts.customers.astype(int), strict=True))
        return LifecycleResult(day, used, {k: int(by_stage.get(k, 0)) for k in STAGES})

    return _cached(ctx, "lifecycle", p, compute)


class MovesParams(WindowParams):
    """Moves between month starts from ``start`` to ``end``: ``end`` defaults to the
    default ``as_of``, ``start`` to six months before it."""

    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class MovesResult:
    """``frame``: :func:`transition_matrix` (``from_stage, to_stage, customers, share``)
    or :func:`stage_flows` (``month, from_stage, to_stage, customers``)."""

    start: dt.date
    end: dt.date
    windows: Windows
    frame: pd.DataFrame


def _moves_window(ctx: Context, params: MovesParams) -> MovesParams:
    end = params.end or _as_of(ctx, None)
    start = params.start
    if start is None:
        month = end.replace(day=1)
        for _ in range(TRANSITION_MONTHS):
            month = (month - dt.timedelta(days=1)).replace(day=1)
        start = month
    if start > end:
        raise CustomersError(422, "invalid_range", "start must not be after end",
                             "pass start ≤ end")
    return params.model_copy(update={"start": start, "end": end})


def _moves(ctx: Context, name: str, params: MovesParams,
           query: Callable[..., pd.DataFrame]) -> MovesResult:
    given = params.windows()
    p = _moves_window(ctx, params)
    start, end = p.start, p.end
    assert start is not None and end is not None

    def compute() -> MovesResult:
        # derived as of the last month start, as the queries themselves would
        used = _windows(ctx, given, end.replace(day=1))
        return MovesResult(start, end, used, query(ctx.store, start, end, used.windows))

    return _cached(ctx, name, p, compute)


def transitions(ctx: Context, params: MovesParams) -> MovesResult:
    """Customers moving between stages, summed over the months (all 5 × 5 pairs)."""
    return _moves(ctx, "transitions", params, transition_matrix)


def flows(ctx: Context, params: MovesParams) -> MovesResult:
    """Customers moving between stages, month by month (the dashboard's flow chart)."""
    return _moves(ctx, "flows", params, stage_flows)


# -- CLV ------------------------------------------------------------------------------------
class ClvParams(Params):
    """A CLV fit and its valuation.

    ``calibration_end`` defaults to the last order day. ``holdout_end``: a day, ``"none"``
    or ``"last_order"`` (the default: hold out the orders after ``calibration_end`` up to
    the last order day, when there are any).
    """

    calibration_end: dt.date | None = None
    holdout_end: dt.date | Literal["last_order", "none"] = "last_order"
    model: PurchaseModel = "bgnbd"
    spend: SpendMeasure = "net"
    horizon_months: Annotated[int, Field(ge=1, le=120)] = 12
    margin: Annotated[float, Field(ge=0, le=1)] = 1.0
    discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.10


class _FitParams(Params):
    calibration_end: dt.date
    holdout_end: dt.date | None
    model: PurchaseModel
    spend: SpendMeasure


class _ValueParams(Params):
    fit: _FitParams
    horizon_months: int
    margin: float
    discount_rate: float


@contextmanager
def _clv_errors() -> Iterator[None]:
    try:
        yield
    except ClvError as exc:
        raise CustomersError(422, f"clv_{exc.code}", exc.message, exc.hint) from exc
    except SummaryOptionError as exc:  # e.g. a calibration end no timestamp can hold
        raise CustomersError(422, "clv_invalid_option", exc.message, exc.hint) from exc


def _fit_params(ctx: Context, params: ClvParams) -> _FitParams:
    last = data_dates(ctx).last
    end = params.calibration_end or last
    hold: dt.date | None
    if params.holdout_end == "last_order":
        hold = last if last > end else None
    elif params.holdout_end == "none":
        hold = None
    else:
        hold = params.holdout_end
    return _FitParams(calibration_end=end, holdout_end=hold, model=params.model,
                      spend=params.spend)


def clv_fit(ctx: Context, params: ClvParams) -> ClvFit:
    """The purchase and spend models fitted on the calibration summary (in days)."""
    fp = _fit_params(ctx, params)
    with _clv_errors():
        return _cached(ctx, "clv_fit", fp, lambda: fit_clv(
            ctx.store, fp.calibration_end, fp.holdout_end, model=fp.model, spend=fp.spend))


def _value_params(ctx: Context, params: ClvParams) -> _ValueParams:
    return _ValueParams(fit=_fit_params(ctx, params), horizon_months=params.horizon_months,
                        margin=params.margin, discount_rate=params.discount_rate)


@dataclass(frozen=True)
class ClvAnalysis:
    """A fit, its per-customer valuation, its holdout (None without one) and the check of
    its dropout against the lifecycle stages."""

    fit: ClvFit
    value: ClvResult
    holdout: HoldoutResult | None
    check: DropoutCheck


def clv_analysis(ctx: Context, params: ClvParams) -> ClvAnalysis:
    """Fit, value every customer over ``horizon_months``, compare with the holdout."""
    fit = clv_fit(ctx, params)
    p = _value_params(ctx, params)

    def compute() -> ClvAnalysis:
        value = clv(fit.purchases, fit.spend, fit.summary, horizon=p.horizon_months,
                    margin=p.margin, discount_rate=p.discount_rate, time_unit="D")
        holdout = fit.holdout()
        return ClvAnalysis(fit, value, holdout, dropout_check(ctx.store, fit, value, holdout))

    with _clv_errors():
        return _cached(ctx, "clv_analysis", p, compute)


def clv_report(ctx: Context, params: ClvParams) -> ClvReport:
    """The CLV report (see :class:`ClvReport`)."""
    a = clv_analysis(ctx, params)
    p = _value_params(ctx, params)
    return _cached(ctx, "clv_report", p, lambda: build_report(
        a.fit, a.value, a.holdout, a.check, horizon_months=p.horizon_months, margin=p.margin,
        discount_rate=p.discount_rate))


# -- one customer ---------------------------------------------------------------------------
class ProfileParams(Params):
    customer_id: Annotated[str, Field(min_length=1)]
    as_of: dt.date | None = None


class Order(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    ordered_at: str | None
    channel: str | None
    status: str | None
    net_amount: float | None
    currency: str | None


@dataclass(frozen=True)
class Profile:
    """One customer as ``viewer`` may see them: ``customer_id`` is the id shown (a
    pseudonym for non-admins when the real one is PII); keys, no labels."""

    customer_id: str
    as_of: dt.date
    pii: Literal["raw", "mask"]
    customer: dict[str, Any]
    stage: str | None
    rfm: dict[str, Any]
    segments: dict[str, str | None]
    tags: dict[str, Any]
    clv: dict[str, float] | None
    orders: list[Order]
    orders_total: int


def _profile_data(store: Any, customer_id: str, as_of: dt.date,
                  admin: bool) -> dict | None:
    """The customer's profile row (PII protected unless ``admin``) and order history;
    None for an id that is neither in ``customers`` nor in ``orders``."""
    orders = store.table("orders")
    mine = orders.filter(orders.customer_id == customer_id)
    n_orders = int(mine.count().execute())
    customers = store.table("customers")
    known = int(customers.filter(customers.customer_id == customer_id).count().execute())
    if not n_orders and not known:
        return None
    mode: Literal["raw", "mask"] = "raw" if admin else "mask"
    profile = build_profile(store, as_of)
    rows = protect(profile.filter(profile.customer_id == customer_id), mode).execute()
    row = rows.iloc[0].to_dict() if len(rows) else {"customer_id": customer_id}
    if not len(rows):  # not known at as_of (first seen later): attributes only
        one = protect(customers.filter(customers.customer_id == customer_id),
                      mode).drop("attributes").execute()
        if len(one):
            row.update(one.iloc[0].to_dict())
    history = mine.order_by([ibis.desc("ordered_at"), "order_id"]).limit(HISTORY_ORDERS).select(
        "order_id", "ordered_at", "channel", "status", "net_amount", "currency").execute()
    return {"row": {k: _json(v) for k, v in row.items()},
            "orders": [{k: _json(v) for k, v in r.items()} for r in history.to_dict("records")],
            "orders_total": n_orders}


def _resolve_pseudonym(store: Any, name: str, key: str) -> str | None:
    """The customer id whose pseudonym is ``name`` (recomputed in the engine over the
    known ids), or None."""
    ids = [store.table(t).select(customer_id=store.table(t).customer_id.cast("string"))
           for t in ("customers", "orders")]
    both = ids[0].union(ids[1]).distinct()
    hit = both.filter(public_id(both.customer_id, key) == name).limit(1).execute()
    return None if hit.empty else str(hit.customer_id.iloc[0])


def _not_found(shown: str) -> CustomersError:
    return CustomersError(404, "not_found", f"no customer {shown!r}",
                          "customer ids are listed by GET /api/customers")


def _customer_ref(ctx: Context, customer_id: str, viewer: Viewer) -> tuple[str, str]:
    """(the real id, the id to show).

    Non-admins see and use pseudonyms for ids that are e-mail addresses or phone numbers
    (:func:`~shopscope.privacy.public_id`); asking for such an id in clear is refused, or
    a viewer could test whether someone is a customer. A pseudonym is resolved for anyone.
    """
    if is_pseudonym(customer_id) and viewer.pseudonym_key:
        key = viewer.pseudonym_key
        real = ctx.cached(("customers.pseudonym", customer_id),
                          lambda: _resolve_pseudonym(ctx.store, customer_id, key))
        if real is None:
            raise _not_found(customer_id)
        return real, real if viewer.admin else customer_id
    if not viewer.admin and looks_like_pii(customer_id):
        raise CustomersError(403, "pii_id", "this customer id is an e-mail address or a "
                             "phone number; only admins may look it up", "use the "
                             "pseudonymous id (c_…) shown by GET /api/customers")
    return customer_id, customer_id


def _customer_clv(ctx: Context, customer_id: str) -> dict[str, float] | None:
    """CLV (12 months, revenue) and P(alive) of one customer from the whole-history fit;
    None when the models cannot be fitted or the customer never bought."""
    try:
        fit = clv_fit(ctx, ClvParams())
    except CustomersError:
        return None
    summary = fit.summary
    row = summary[summary.customer_id == customer_id]
    if row.empty:
        return None
    result = clv(fit.purchases, fit.spend, row, horizon=12, time_unit="D").data.iloc[0]
    return {"clv": float(result["clv"]), "probability_alive": float(result["probability_alive"]),
            "expected_purchases": float(result["expected_purchases"]), "horizon_months": 12.0}


def profile(ctx: Context, params: ProfileParams, viewer: Viewer) -> Profile:
    """One customer: attributes (PII masked unless ``viewer`` is an admin), stage, RFM
    values and segments, tags, CLV and P(alive), and the last 50 orders."""
    customer_id, shown = _customer_ref(ctx, params.customer_id, viewer)
    customer_id = ctx.store.person_of(customer_id)  # a merged id shows its person
    p = params.model_copy(update={"customer_id": customer_id,
                                  "as_of": _as_of(ctx, params.as_of)})
    day = p.as_of
    assert day is not None
    data = ctx.cached(("customers.profile", p.cache_key(), viewer.admin),
                      lambda: _profile_data(ctx.store, customer_id, day, viewer.admin))
    if data is None:
        raise _not_found(shown)
    value = ctx.cached(("customers.profile_clv", customer_id),
                       lambda: _customer_clv(ctx, customer_id))
    row = data["row"]
    return Profile(
        customer_id=shown, as_of=day, pii="raw" if viewer.admin else "mask",
        customer={k: row.get(k) for k in CUSTOMER_FIELDS},
        stage=row.get("stage"),
        rfm={k: row.get(k) for k in RFM_FIELDS},
        segments={scheme: key if isinstance(key := row.get(f"{scheme}_segment"), str)
                  and key in SEGMENTS[scheme] else None for scheme in SCHEMES},
        tags={k: row.get(k) for k in TAGS if k in row},
        clv=value, orders=[Order(**o) for o in data["orders"]],
        orders_total=data["orders_total"],
    )


# -- audiences ------------------------------------------------------------------------------
class _WorkspaceContext(Context, Protocol):
    """Audiences keep files in the workspace: the app's and the CLI's contexts have it."""

    @property
    def workspace(self) -> Workspace: ...


def _audiences(ctx: Context) -> AudienceStore:
    ws: _WorkspaceContext = ctx  # type: ignore[assignment]
    return AudienceStore(ws.workspace.path)


def list_audiences(ctx: Context) -> list[str]:
    """Names of the saved audience definitions."""
    return _audiences(ctx).list()


def load_audience(ctx: Context, name: str) -> AudienceDefinition:
    """A saved definition (``AudienceNotFound`` when there is none of that name)."""
    return _audiences(ctx).load(name)


def check_filters(definition: AudienceDefinition, viewer: Viewer) -> None:
    """403 for a filter that would let a non-admin test who is a customer: a value test
    on e-mail, phone, name or address, or a customer id that is itself PII."""
    if viewer.admin:
        return
    for f in definition.filters:
        values = f.value if isinstance(f.value, list) else [f.value]
        if f.field in PII_COLUMNS and f.op not in ("is_null", "not_null"):
            raise CustomersError(403, "pii_filter", f"filters on {f.field!r} need the admin "
                                 "role", f"use '{f.field} not_null' / 'is_null', or ask an "
                                 "admin")
        # (ordering ops on text fields are refused by the audience itself)
        if f.field == "customer_id" and any(isinstance(v, str) and looks_like_pii(v)
                                            for v in values):
            raise CustomersError(403, "pii_filter", "customer_id values that are e-mail "
                                 "addresses or phone numbers need the admin role",
                                 "filter on the ids shown in customer lists (c_… pseudonyms)")


def save_audience(ctx: Context, definition: AudienceDefinition, viewer: Viewer) -> None:
    """Save (or replace) a definition; it re-runs on whatever data the workspace holds."""
    check_filters(definition, viewer)
    _audiences(ctx).save(definition)


def delete_audience(ctx: Context, name: str) -> None:
    store = _audiences(ctx)
    store.load(name)  # AudienceNotFound for an unknown name
    store.delete(name)


class AudienceParams(Params):
    definition: AudienceDefinition
    as_of: dt.date | None = None


def audience_profile(ctx: Context, as_of: dt.date | None = None) -> Any:
    """The profile audiences filter on (an Ibis table), with CLV columns (``clv``,
    ``p_alive``, ``expected_purchases``) from a fit on the orders before ``as_of`` when
    one is possible."""
    day = _as_of(ctx, as_of)
    extra = ctx.cached(("customers.audience_clv", day), lambda: clv_columns(ctx.store, day))
    return build_profile(ctx.store, day, extra=extra)


@dataclass(frozen=True)
class AudienceResult:
    as_of: dt.date
    stats: AudienceStats

    def as_dict(self) -> dict[str, Any]:
        """The API's and CLI's JSON: the stats' fields and ``as_of``."""
        return dict(self.stats.__dict__, as_of=str(self.as_of))


def audience(ctx: Context, params: AudienceParams) -> AudienceResult:
    """Size and value of a definition, before exporting it."""
    p = params.model_copy(update={"as_of": _as_of(ctx, params.as_of)})
    day = p.as_of
    assert day is not None
    return _cached(ctx, "audience", p, lambda: AudienceResult(
        day, audience_stats(p.definition, audience_profile(ctx, day))))


def preview(ctx: Context, params: AudienceParams, viewer: Viewer) -> AudienceResult:
    """Size and value of an unsaved definition: :func:`audience` once its filters pass
    :func:`check_filters` for ``viewer`` (as :func:`save_audience` checks them)."""
    check_filters(params.definition, viewer)
    return audience(ctx, params)


@dataclass(frozen=True)
class SavedAudience:
    """A saved definition with its numbers, or the error that stops it from running."""

    definition: AudienceDefinition
    result: AudienceResult | None
    error: ShopscopeError | None


def saved_audiences(ctx: Context, as_of: dt.date | None = None) -> list[SavedAudience]:
    """Every saved audience with its size and value (the audiences page)."""
    out = []
    for name in list_audiences(ctx):
        definition = load_audience(ctx, name)
        try:
            out.append(SavedAudience(definition, audience(
                ctx, AudienceParams(definition=definition, as_of=as_of)), None))
        except ShopscopeError as exc:
            out.append(SavedAudience(definition, None, exc))
    return out


class ExportParams(AudienceParams):
    """``format``: csv or parquet (from the file's suffix when None)."""

    format: ExportFormat | None = None
    pii: PiiMode = "mask"


def export_members(ctx: Context, params: ExportParams, target: Path, viewer: Viewer) -> Path:
    """Write the audience's members to ``target`` (replaced atomically), PII masked
    unless an admin asks ``raw``; ids that are PII become pseudonyms with the viewer's
    key. Returns the file written."""
    if params.pii == "raw" and not viewer.admin:
        raise CustomersError(403, "forbidden", "raw PII exports need the admin role",
                             "use pii=mask or pii=hash")
    members = audience_expr(params.definition, audience_profile(ctx, params.as_of))
    return export_audience(members, target, params.format, params.pii,
                           key=viewer.pseudonym_key)
