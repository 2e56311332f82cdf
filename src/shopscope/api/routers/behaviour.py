"""Behaviour analytics over the events table: trends, funnels, retention, cohorts, paths.

Steps are written as in the CLI: ``view`` or ``view:category=toys,channel=web|app``; a
funnel takes one ``step`` query parameter per step, in order. Results are cached per data
version (the analyses scan the biggest table a shop has), keyed by every option.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from shopscope.analytics.behaviour.common import OrderEvents
from shopscope.analytics.behaviour.funnels import funnel, funnel_dropped, funnel_trend
from shopscope.analytics.behaviour.paths import paths
from shopscope.analytics.behaviour.retention import repurchase_cohorts, retention
from shopscope.analytics.behaviour.trends import TREND_METRICS, trends
from shopscope.api.deps import ApiError, AppState, CurrentUser, State, download, require
from shopscope.auth import User

router = APIRouter(tags=["behaviour"])

Grain = Literal["day", "week", "month"]
Source = Annotated[Literal["events", "orders"], Query(description=(
    "events, or orders: every placed order as a purchase event (shops without tracking)"))]


def source_of(state: AppState, kind: str):  # noqa: ANN201
    """The workspace's store, or a view of it whose events are its orders."""
    store = state.workspace.store
    return OrderEvents(store) if kind == "orders" else store
Steps = Annotated[list[str], Query(min_length=2, max_length=20, description=(
    "One per step, in order: an event type, optionally with filters "
    "(`add_to_cart:category=toys`)."))]


def _records(frame) -> list[dict[str, Any]]:  # noqa: ANN001
    clean = frame.astype(object).where(frame.notna(), None)
    out = []
    for row in clean.to_dict(orient="records"):
        out.append({k: (v.isoformat() if isinstance(v, dt.date | dt.datetime)
                        else v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return out


def funnel_options(window: str, order: str, same_product: bool, mode: str,
                   start: dt.date | None, end: dt.date | None, by: str | None) -> dict:
    return {"window": window, "order": order, "same_product": same_product, "mode": mode,
            "start": start, "end": end, "by": by}


def cached_funnel(state: AppState, steps: list[str], options: dict, kind: str = "events"):
    key = ("funnel", kind, tuple(steps),
           tuple(sorted((k, str(v)) for k, v in options.items())))
    return state.cached(key, lambda: funnel(source_of(state, kind), steps, **options))


class FunnelQuery:
    """The options every funnel endpoint shares."""

    def __init__(
        self,
        step: Steps,
        window: Annotated[str, Query(description="30m, 24h, 7d …")] = "1d",
        order: Literal["sequential", "any"] = "sequential",
        same_product: bool = False,
        mode: Literal["user", "order"] = "user",
        start: dt.date | None = None,
        end: dt.date | None = None,
        by: Annotated[str | None, Query(description=(
            "an events column, a properties key, or customer.<column>"))] = None,
        source: Source = "events",
    ) -> None:
        self.steps = step
        self.source = source
        self.options = funnel_options(window, order, same_product, mode, start, end, by)


@router.get("/api/behaviour/trends")
def get_trends(  # noqa: PLR0913
    state: State, user: CurrentUser,
    metric: Annotated[list[str] | None, Query(description=", ".join(TREND_METRICS))] = None,
    grain: Grain = "day", start: dt.date | None = None, end: dt.date | None = None,
    event: str | None = None, by: str | None = None,
    compare_start: dt.date | None = None, compare_end: dt.date | None = None,
    source: Source = "events",
) -> dict[str, Any]:
    """PV, UV, DAU/WAU/MAU, stickiness, events per visitor per period; a breakdown; a
    second range compared period by period (``compare_start`` and ``compare_end``)."""
    if (compare_start is None) != (compare_end is None):
        raise ApiError(422, "invalid", "give both compare_start and compare_end", None)
    metrics = tuple(metric or ("pv", "uv"))
    compare = (compare_start, compare_end) if compare_start else None
    key = ("trends", source, metrics, grain, start, end, event, by, compare)
    result = state.cached(key, lambda: trends(
        source_of(state, source), metrics=metrics, grain=grain, start=start, end=end,
        event=event, by=by, compare=compare))
    return result.to_dict()


@router.get("/api/behaviour/funnel")
def get_funnel(state: State, user: CurrentUser,
               q: Annotated[FunnelQuery, Depends()]) -> dict[str, Any]:
    """Per-step counts, conversion, drop-off, time to convert (and values in order mode),
    optionally broken down; the time-to-convert histogram."""
    return cached_funnel(state, q.steps, q.options, q.source).to_dict()


@router.get("/api/behaviour/funnel/trend")
def get_funnel_trend(state: State, user: CurrentUser, q: Annotated[FunnelQuery, Depends()],
                     grain: Grain = "day") -> dict[str, Any]:
    """The funnel's step counts and conversion per period of the first step."""
    opts = {k: v for k, v in q.options.items() if k != "by"}
    key = ("funnel-trend", q.source, tuple(q.steps), grain, tuple(sorted((k, str(v))
                                                               for k, v in opts.items())))
    frame = state.cached(key, lambda: funnel_trend(source_of(state, q.source), q.steps,
                                                   grain=grain, **opts))
    return {"grain": grain, "rows": _records(frame)}


@router.get("/api/behaviour/funnel/dropped",
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def get_dropped(state: State, q: Annotated[FunnelQuery, Depends()],
                at_step: Annotated[int, Query(ge=2)],
                format: Literal["csv", "parquet"] = "csv",  # noqa: A002
                user: User = Depends(require("analyst"))):  # noqa: ANN201
    """The visitors who reached step ``at_step - 1`` but not ``at_step``: an audience to
    win back (visitor ids and customer ids, no other personal data)."""
    if at_step > len(q.steps):
        raise ApiError(422, "invalid", f"at_step {at_step} is past the last step "
                       f"({len(q.steps)})", "use 2..number of steps")
    opts = {k: v for k, v in q.options.items() if k != "by"}
    with state.lock:
        frame = funnel_dropped(source_of(state, q.source), q.steps, at_step,
                               **opts).execute()
    return download(frame, format, f"dropped_at_step_{at_step}")


@router.get("/api/behaviour/retention")
def get_retention(  # noqa: PLR0913
    state: State, user: CurrentUser,
    start_event: str | None = None, return_event: str | None = None,
    grain: Grain = "day", periods: Annotated[int, Query(ge=1, le=400)] = 30,
    mode: Literal["exact", "unbounded"] = "exact",
    start: dt.date | None = None, end: dt.date | None = None, by: str | None = None,
    source: Source = "events",
) -> dict[str, Any]:
    """Cohorts by first (start) event, share returning (return event) in period N after:
    the long matrix and the pooled curve."""
    key = ("retention", source, start_event, return_event, grain, periods, mode, start, end,
           by)
    return state.cached(key, lambda: retention(
        source_of(state, source), start_event=start_event, return_event=return_event,
        grain=grain, periods=periods, mode=mode, start=start, end=end, by=by)).to_dict()


@router.get("/api/behaviour/cohorts")
def get_cohorts(state: State, user: CurrentUser, grain: Grain = "month",
                periods: Annotated[int, Query(ge=1, le=120)] = 12,
                start: dt.date | None = None, end: dt.date | None = None) -> dict[str, Any]:
    """Repurchase cohorts on orders (复购): rates by months since the first order and
    cumulative net revenue per customer (cohort LTV curves)."""
    key = ("cohorts", grain, periods, start, end)
    return state.cached(key, lambda: repurchase_cohorts(
        state.workspace.store, grain=grain, periods=periods, start=start, end=end)).to_dict()


@router.get("/api/behaviour/paths")
def get_paths(  # noqa: PLR0913
    state: State, user: CurrentUser,
    start: str | None = None, end: str | None = None,
    length: Annotated[int, Query(ge=2, le=12)] = 5,
    top: Annotated[int, Query(ge=1, le=200)] = 20,
    exclude: Annotated[list[str] | None, Query()] = None,
    collapse_repeats: bool = True, gap: str = "30m",
    start_date: dt.date | None = None, end_date: dt.date | None = None,
    source: Source = "events",
) -> dict[str, Any]:
    """Top paths from a step, to a step, or from session start; next/previous step
    distributions; Sankey nodes and links."""
    excl = tuple(exclude or ())
    key = ("paths", source, start, end, length, top, excl, collapse_repeats, gap,
           start_date, end_date)
    return state.cached(key, lambda: paths(
        source_of(state, source), start=start, end=end, length=length, top=top, exclude=excl,
        collapse_repeats=collapse_repeats, gap=gap, start_date=start_date,
        end_date=end_date)).to_dict()
