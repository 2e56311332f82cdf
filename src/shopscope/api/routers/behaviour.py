"""Behaviour analytics over the events table: trends, funnels, retention, cohorts, paths.

Steps are written as in the CLI: ``view`` or ``view:category=toys,channel=web|app``; a
funnel takes one ``step`` query parameter per step, in order. Results are cached per data
version (the analyses scan the biggest table a shop has), keyed by every option.

Every answer says which source it read (``source``: auto picks events when there are events
in the range, else orders; see :mod:`shopscope.analytics.behaviour.source`) and, when it is
empty, why (``empty_reason``: code, message, the other source to try); null otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from shopscope.analytics.behaviour.common import OrderEvents
from shopscope.analytics.behaviour.source import (
    DEFAULT_FUNNEL,
    SourceChoice,
    choose_source,
    rows_in_range,
    why_empty,
)
from shopscope.analytics.behaviour.funnels import funnel, funnel_dropped, funnel_trend
from shopscope.analytics.behaviour.paths import paths
from shopscope.analytics.behaviour.retention import repurchase_cohorts, retention
from shopscope.analytics.behaviour.trends import TREND_METRICS, trends
from shopscope.api.deps import ApiError, AppState, CurrentUser, State, download, require
from shopscope.auth import User
from shopscope.privacy import protect_ids

router = APIRouter(tags=["behaviour"])

Grain = Literal["day", "week", "month"]
Source = Annotated[Literal["auto", "events", "orders"], Query(description=(
    "auto (events when there are events in the range, else orders), events, or orders: "
    "every placed order as a purchase event (shops without tracking)"))]


def source_of(state: AppState, kind: str):  # noqa: ANN201
    """The workspace's store, or a view of it whose events are its orders."""
    store = state.workspace.store
    return OrderEvents(store) if kind == "orders" else store


def choice_of(state: AppState, kind: str, start: Any = None, end: Any = None) -> SourceChoice:
    """The source for ``kind`` (auto, events, orders) over start..end. Which tables have
    rows in the range is cached per data version; the choice is made on the current store
    (a cached store would outlive a reopened connection)."""
    store = state.workspace.store
    choose_source(store, kind, found=(False, False))  # a bad kind fails before any probe
    found = state.cached(("behaviour-rows", str(start), str(end)), lambda: (
        rows_in_range(store, "events", start, end), rows_in_range(store, "orders", start, end)))
    return choose_source(store, kind, start, end, found)


def _explained(choice: SourceChoice, analysis: str, result: Any,  # noqa: ANN401
               body: dict[str, Any], first_step: str | None = None) -> dict[str, Any]:
    reason = why_empty(choice, analysis, result, first_step)
    return {**body, "source": choice.to_dict(),
            "empty_reason": None if reason is None else reason.to_dict()}


Steps = Annotated[list[str] | None, Query(max_length=20, description=(
    "One per step, in order: an event type, optionally with filters "
    "(`add_to_cart:category=toys`). Default: view, add_to_cart, checkout, purchase on "
    "events; purchase three times (the repeat-purchase funnel) on orders."))]


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
        step: Steps = None,
        window: Annotated[str | None, Query(
            description="30m, 24h, 7d … (default: 1d on events, 30d on orders)")] = None,
        order: Literal["sequential", "any"] = "sequential",
        same_product: bool = False,
        mode: Literal["user", "order"] = "user",
        start: dt.date | None = None,
        end: dt.date | None = None,
        by: Annotated[str | None, Query(description=(
            "an events column, a properties key, or customer.<column>"))] = None,
        source: Source = "auto",
    ) -> None:
        self.steps = step
        self.window = window
        self.source = source
        self.start, self.end = start, end
        self.options = funnel_options(window, order, same_product, mode, start, end, by)

    def resolve(self, state: AppState) -> SourceChoice:
        """Pick the source, then the default steps and window for it when not given."""
        choice = choice_of(state, self.source, self.start, self.end)
        steps, window = DEFAULT_FUNNEL[choice.kind]
        if self.steps is not None and len(self.steps) < 2:
            raise ApiError(422, "invalid", "a funnel needs at least 2 steps",
                           "give one step parameter per step, or none for the default")
        self.steps = list(self.steps or steps)
        self.options["window"] = self.window or window
        return choice


@router.get("/api/behaviour/trends")
def get_trends(  # noqa: PLR0913
    state: State, user: CurrentUser,
    metric: Annotated[list[str] | None, Query(description=", ".join(TREND_METRICS))] = None,
    grain: Grain = "day", start: dt.date | None = None, end: dt.date | None = None,
    event: str | None = None, by: str | None = None,
    compare_start: dt.date | None = None, compare_end: dt.date | None = None,
    source: Source = "auto",
) -> dict[str, Any]:
    """PV, UV, DAU/WAU/MAU, stickiness, events per visitor per period; a breakdown; a
    second range compared period by period (``compare_start`` and ``compare_end``)."""
    if (compare_start is None) != (compare_end is None):
        raise ApiError(422, "invalid", "give both compare_start and compare_end", None)
    metrics = tuple(metric or ("pv", "uv"))
    compare = (compare_start, compare_end) if compare_start else None
    choice = choice_of(state, source, start, end)
    key = ("trends", choice.kind, metrics, grain, start, end, event, by, compare)
    result = state.cached(key, lambda: trends(
        choice.source, metrics=metrics, grain=grain, start=start, end=end,
        event=event, by=by, compare=compare))
    return _explained(choice, "trends", result, result.to_dict(), event)


@router.get("/api/behaviour/funnel")
def get_funnel(state: State, user: CurrentUser,
               q: Annotated[FunnelQuery, Depends()]) -> dict[str, Any]:
    """Per-step counts, conversion, drop-off, time to convert (and values in order mode),
    optionally broken down; the time-to-convert histogram."""
    choice = q.resolve(state)
    result = cached_funnel(state, q.steps, q.options, choice.kind)
    return _explained(choice, "funnel", result, result.to_dict(), q.steps[0])


@router.get("/api/behaviour/funnel/trend")
def get_funnel_trend(state: State, user: CurrentUser, q: Annotated[FunnelQuery, Depends()],
                     grain: Grain = "day") -> dict[str, Any]:
    """The funnel's step counts and conversion per period of the first step."""
    choice = q.resolve(state)
    opts = {k: v for k, v in q.options.items() if k != "by"}
    key = ("funnel-trend", choice.kind, tuple(q.steps), grain, tuple(sorted((k, str(v))
                                                               for k, v in opts.items())))
    frame = state.cached(key, lambda: funnel_trend(choice.source, q.steps,
                                                   grain=grain, **opts))
    return _explained(choice, "funnel_trend", frame, {"grain": grain, "rows": _records(frame)},
                      q.steps[0])


@router.get("/api/behaviour/funnel/dropped",
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def get_dropped(state: State, q: Annotated[FunnelQuery, Depends()],
                at_step: Annotated[int, Query(ge=2)],
                format: Literal["csv", "parquet"] = "csv",  # noqa: A002
                pii: Literal["mask", "hash", "raw"] = "mask",
                user: User = Depends(require("analyst"))):  # noqa: ANN201
    """The visitors who reached step ``at_step - 1`` but not ``at_step``: an audience to
    win back (visitor ids and customer ids, no other personal data). As in the customer
    export, ids that are e-mail addresses or phone numbers become pseudonyms (``c_…``)
    unless an admin asks for ``pii=raw``."""
    if pii == "raw" and not user.can("admin"):
        raise ApiError(403, "forbidden", "raw PII exports need the admin role",
                       "use pii=mask or pii=hash")
    choice = q.resolve(state)
    if at_step > len(q.steps):
        raise ApiError(422, "invalid", f"at_step {at_step} is past the last step "
                       f"({len(q.steps)})", "use 2..number of steps")
    opts = {k: v for k, v in q.options.items() if k != "by"}
    with state.lock:
        dropped = funnel_dropped(choice.source, q.steps, at_step, **opts)
        frame = protect_ids(dropped, ("visitor", "user_id"), pii, state.pseudonym_key).execute()
    return download(frame, format, f"dropped_at_step_{at_step}")


@router.get("/api/behaviour/retention")
def get_retention(  # noqa: PLR0913
    state: State, user: CurrentUser,
    start_event: str | None = None, return_event: str | None = None,
    grain: Grain = "day", periods: Annotated[int, Query(ge=1, le=400)] = 30,
    mode: Literal["exact", "unbounded"] = "exact",
    start: dt.date | None = None, end: dt.date | None = None, by: str | None = None,
    source: Source = "auto",
) -> dict[str, Any]:
    """Cohorts by first (start) event, share returning (return event) in period N after:
    the long matrix and the pooled curve."""
    choice = choice_of(state, source, start, end)
    key = ("retention", choice.kind, start_event, return_event, grain, periods, mode, start,
           end, by)
    result = state.cached(key, lambda: retention(
        choice.source, start_event=start_event, return_event=return_event,
        grain=grain, periods=periods, mode=mode, start=start, end=end, by=by))
    return _explained(choice, "retention", result, result.to_dict(), start_event)


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
    source: Source = "auto",
) -> dict[str, Any]:
    """Top paths from a step, to a step, or from session start; next/previous step
    distributions; Sankey nodes and links."""
    excl = tuple(exclude or ())
    choice = choice_of(state, source, start_date, end_date)
    key = ("paths", choice.kind, start, end, length, top, excl, collapse_repeats, gap,
           start_date, end_date)
    result = state.cached(key, lambda: paths(
        choice.source, start=start, end=end, length=length, top=top, exclude=excl,
        collapse_repeats=collapse_repeats, gap=gap, start_date=start_date,
        end_date=end_date))
    return _explained(choice, "paths", result, result.to_dict(), start)
