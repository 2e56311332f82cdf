"""Behaviour analytics over the events table: trends, funnels, retention, cohorts, paths.

Steps are written as in the CLI: ``view`` or ``view:category=toys,channel=web|app``; a
funnel takes one ``step`` query parameter per step, in order. Results are cached per data
version (the analyses scan the biggest table a shop has), keyed by every option (see
:mod:`shopscope.behaviour.service`).

Every answer says which source it read (``source``: auto picks events when there are events
in the range, else orders; see :mod:`shopscope.behaviour.source`) and, when it is
empty, why (``empty_reason``: code, message, the other source to try); null otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Response

from shopscope.auth import User
from shopscope.behaviour import service
from shopscope.behaviour.responses import (
    CohortsOut,
    FunnelOut,
    FunnelTrendOut,
    PathsOut,
    RetentionOut,
    TrendsOut,
)
from shopscope.behaviour.trends import TREND_METRICS
from shopscope.core.periods import Day, FineGrain
from shopscope.ui.deps import ApiError, CurrentUser, State, download, require
from shopscope.ui.respcache import cached_response

router = APIRouter(tags=["behaviour"])
P = TypeVar("P", bound=service.FunnelParams)

Grain = FineGrain
Source = Annotated[Literal["auto", "events", "orders"], Query(description=(
    "auto (events when there are events in the range, else orders), events, or orders: "
    "every placed order as a purchase event (shops without tracking)"))]
Steps = Annotated[list[str] | None, Query(max_length=20, description=(
    "One per step, in order: an event type, optionally with filters "
    "(`add_to_cart:category=toys`). Default: view, add_to_cart, checkout, purchase on "
    "events; purchase three times (the repeat-purchase funnel) on orders."))]


def _explained(answer: service.Explained, body: dict[str, Any]) -> dict[str, Any]:
    reason = answer.empty_reason
    return {**body, "source": answer.choice.to_dict(),
            "empty_reason": None if reason is None else reason.to_dict()}


def _records(frame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [{k: (v.isoformat() if isinstance(v, dt.date | dt.datetime)
                 else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in clean.to_dict(orient="records")]


class FunnelQuery:
    """The options every funnel endpoint shares, as the service's parameters."""

    def __init__(
        self,
        step: Steps = None,
        window: Annotated[str | None, Query(
            description="30m, 24h, 7d … (default: 1d on events, 30d on orders)")] = None,
        order: Literal["sequential", "any"] = "sequential",
        same_product: bool = False,
        mode: Literal["user", "order"] = "user",
        start: Day | None = None,
        end: Day | None = None,
        by: Annotated[str | None, Query(description=(
            "an events column, a properties key, or customer.<column>"))] = None,
        source: Source = "auto",
    ) -> None:
        self.values: dict[str, Any] = {"steps": step, "window": window, "order": order,
                       "same_product": same_product, "mode": mode, "start": start,
                       "end": end, "by": by, "source": source}

    def params(self, cls: type[P], **extra: Any) -> P:
        """The service's parameters (checked in the handler: after the sign-in checks)."""
        steps = self.values["steps"]
        if steps is not None and len(steps) < 2:
            raise ApiError(422, "invalid", "a funnel needs at least 2 steps",
                           "give one step parameter per step, or none for the default")
        return cls(**self.values, **extra)


@router.get("/api/behaviour/trends", response_model=TrendsOut)
@cached_response
def get_trends(
    state: State, user: CurrentUser,
    metric: Annotated[list[str] | None, Query(description=", ".join(TREND_METRICS))] = None,
    grain: Grain = "day", start: Day | None = None, end: Day | None = None,
    event: str | None = None, by: str | None = None,
    compare_start: Day | None = None, compare_end: Day | None = None,
    source: Source = "auto",
) -> dict[str, Any]:
    """PV, UV, DAU/WAU/MAU, stickiness, events per visitor per period; a breakdown; a
    second range compared period by period (``compare_start`` and ``compare_end``)."""
    params = service.TrendParams(
        metrics=tuple(metric or ("pv", "uv")), grain=grain, start=start, end=end,
        event=event, by=by, compare_start=compare_start, compare_end=compare_end,
        source=source)
    answer = service.trends(state, params)
    return _explained(answer, answer.result.to_dict())


@router.get("/api/behaviour/funnel", response_model=FunnelOut)
@cached_response
def get_funnel(state: State, user: CurrentUser,
               q: Annotated[FunnelQuery, Depends()]) -> dict[str, Any]:
    """Per-step counts, conversion, drop-off, time to convert (and values in order mode),
    optionally broken down; the time-to-convert histogram."""
    answer = service.funnel(state, q.params(service.FunnelParams))
    return _explained(answer, answer.result.to_dict())


@router.get("/api/behaviour/funnel/trend", response_model=FunnelTrendOut)
@cached_response
def get_funnel_trend(state: State, user: CurrentUser, q: Annotated[FunnelQuery, Depends()],
                     grain: Grain = "day") -> dict[str, Any]:
    """The funnel's step counts and conversion per period of the first step."""
    answer = service.funnel_trend(state, q.params(service.FunnelTrendParams, grain=grain))
    return _explained(answer, {"grain": grain, "rows": _records(answer.result)})


@router.get("/api/behaviour/funnel/dropped", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
                             "description": "one row per visitor: visitor, user_id"}})
def get_dropped(state: State, user: Annotated[User, Depends(require("analyst"))],
                q: Annotated[FunnelQuery, Depends()], at_step: Annotated[int, Query(ge=2)],
                format: Literal["csv", "parquet"] = "csv",
                pii: Literal["mask", "hash", "raw"] = "mask") -> Response:
    """The visitors who reached step ``at_step - 1`` but not ``at_step``: an audience to
    win back (visitor ids and customer ids, no other personal data). As in the customer
    export, ids that are e-mail addresses or phone numbers become pseudonyms (``c_…``)
    unless an admin asks for ``pii=raw``."""
    if pii == "raw" and not user.can("admin"):
        raise ApiError(403, "forbidden", "raw PII exports need the admin role",
                       "use pii=mask or pii=hash")
    params = q.params(service.DroppedParams, at_step=at_step)
    steps = service.funnel_setup(state, params).steps
    if at_step > len(steps):
        raise ApiError(422, "invalid", f"at_step {at_step} is past the last step "
                       f"({len(steps)})", "use 2..number of steps")
    answer = service.funnel_dropped(state, params, pii=pii, pseudonym_key=state.pseudonym_key)
    return download(answer.frame, format, f"dropped_at_step_{at_step}")


@router.get("/api/behaviour/retention", response_model=RetentionOut)
@cached_response
def get_retention(
    state: State, user: CurrentUser,
    start_event: str | None = None, return_event: str | None = None,
    grain: Grain = "day", periods: Annotated[int, Query(ge=1, le=400)] = 30,
    mode: Literal["exact", "unbounded"] = "exact",
    start: Day | None = None, end: Day | None = None, by: str | None = None,
    source: Source = "auto",
) -> dict[str, Any]:
    """Cohorts by first (start) event, share returning (return event) in period N after:
    the long matrix and the pooled curve."""
    answer = service.retention(state, service.RetentionParams(
        start_event=start_event, return_event=return_event, grain=grain, periods=periods,
        mode=mode, start=start, end=end, by=by, source=source))
    return _explained(answer, answer.result.to_dict())


@router.get("/api/behaviour/cohorts", response_model=CohortsOut)
@cached_response
def get_cohorts(state: State, user: CurrentUser, grain: Grain = "month",
                periods: Annotated[int, Query(ge=1, le=120)] = 12,
                start: dt.date | None = None, end: dt.date | None = None) -> dict[str, Any]:
    """Repurchase cohorts on orders (复购): rates by months since the first order and
    cumulative net revenue per customer (cohort LTV curves)."""
    return service.cohorts(state, service.CohortParams(
        grain=grain, periods=periods, start=start, end=end)).to_dict()


@router.get("/api/behaviour/paths", response_model=PathsOut)
@cached_response
def get_paths(
    state: State, user: CurrentUser,
    start: str | None = None, end: str | None = None,
    length: Annotated[int, Query(ge=2, le=12)] = 5,
    top: Annotated[int, Query(ge=1, le=200)] = 20,
    exclude: Annotated[list[str] | None, Query()] = None,
    collapse_repeats: bool = True, gap: str = "30m",
    start_date: Day | None = None, end_date: Day | None = None,
    source: Source = "auto",
) -> dict[str, Any]:
    """Top paths from a step, to a step, or from session start; next/previous step
    distributions; Sankey nodes and links."""
    answer = service.paths(state, service.PathParams(
        start=start, end=end, length=length, top=top, exclude=tuple(exclude or ()),
        collapse_repeats=collapse_repeats, gap=gap, start_date=start_date,
        end_date=end_date, source=source))
    return _explained(answer, answer.result.to_dict())
