"""The behaviour area's questions, as the API, the dashboard pages and the CLI ask them.

Each function takes a :class:`~shopscope.core.service.Context` and typed parameters and
returns a frozen answer. The service picks the source (:mod:`shopscope.behaviour.source`:
``auto`` reads events when the range has events, else orders), fills in the defaults that
depend on it (the funnel's steps and window), runs the analysis through the context's cache
and says why an empty answer is empty. Cache keys are derived here, from the parameters as
resolved (source kind, steps, window …), so the API and the pages share one cached result
for one question.

Bad values raise the analyses' own :class:`~shopscope.errors.OptionError` (the same message
on every surface), also when a parameter model is built from raw CLI strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast, get_args, get_origin

import pandas as pd
from pydantic import ValidationError, field_validator, model_validator

from shopscope.behaviour.funnels import FunnelResult
from shopscope.behaviour.funnels import funnel as funnel_query
from shopscope.behaviour.funnels import funnel_dropped as dropped_query
from shopscope.behaviour.funnels import funnel_trend as funnel_trend_query
from shopscope.behaviour.paths import PathResult
from shopscope.behaviour.paths import paths as paths_query
from shopscope.behaviour.retention import CohortResult, RetentionResult, check_mode
from shopscope.behaviour.retention import repurchase_cohorts as cohorts_query
from shopscope.behaviour.retention import retention as retention_query
from shopscope.behaviour.source import (
    DEFAULT_FUNNEL,
    EmptyReason,
    SourceChoice,
    check_source,
    choose_source,
    rows_in_range,
    why_empty,
)
from shopscope.behaviour.trends import TrendResult, check_grain
from shopscope.behaviour.trends import trends as trends_query
from shopscope.core.periods import DateRange, Day, FineGrain, PeriodError
from shopscope.core.periods import partial_periods as core_partial
from shopscope.core.service import Context, Params
from shopscope.errors import OptionError, ShopscopeError
from shopscope.store.execute import execute

PiiMode = Literal["mask", "hash", "raw"]

T = TypeVar("T")

Grain = FineGrain
SourceKind = Literal["auto", "events", "orders"]
Kind = Literal["events", "orders"]


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------
def _choices(annotation: Any) -> tuple[str, ...]:
    """The values of a ``Literal`` annotation (also inside ``X | None``)."""
    if get_origin(annotation) is Literal:
        return tuple(str(a) for a in get_args(annotation))
    return tuple(c for arg in get_args(annotation) for c in _choices(arg))


class BehaviourParams(Params):
    """Base of the behaviour parameters: a bad value raises :class:`OptionError`.

    A validator that calls an analysis' own check keeps that check's message and hint; a
    value outside a ``Literal`` reads ``<field> must be one of a, b, not 'x'`` (the wording
    the analyses use).
    """

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self._option_error(exc) from None

    @classmethod
    def _option_error(cls, exc: ValidationError) -> ShopscopeError:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, ShopscopeError):
            return cause
        loc = first.get("loc") or ()
        name = ".".join(str(p) for p in loc) or cls.__name__
        field = cls.model_fields.get(str(loc[0])) if loc else None
        choices = _choices(field.annotation) if field is not None else ()
        if first["type"] == "literal_error" and choices:
            return OptionError(f"{name} must be one of {', '.join(choices)}, "
                               f"not {first['input']!r}")
        if first["type"].startswith("date_"):  # as the one parser words it
            return PeriodError(f"{name}={first['input']!r} is not a date",
                               hint="write dates as YYYY-MM-DD")
        return OptionError(f"{name}: {first['msg']}", hint=f"not {first['input']!r}")


class Sourced(BehaviourParams):
    """Parameters of an analysis that reads events, or orders as purchase events."""

    #: auto (events when the range has events, else orders), events or orders
    source: SourceKind = "auto"

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        check_source(value)
        return value


def _checked_grain(value: Any) -> Any:
    check_grain(value)  # its message and hint, as trends() and retention() give them
    return value


class TrendParams(Sourced):
    """PV, UV, actives … per period (:func:`shopscope.behaviour.trends.trends`)."""

    metrics: tuple[str, ...] = ("pv", "uv")
    grain: Grain = "day"
    start: Day | None = None
    end: Day | None = None
    event: str | None = None
    by: str | None = None
    compare_start: Day | None = None
    compare_end: Day | None = None

    @field_validator("grain", mode="before")
    @classmethod
    def _grain(cls, value: Any) -> Any:
        return _checked_grain(value)

    @model_validator(mode="after")
    def _both_compare_dates(self) -> TrendParams:
        if (self.compare_start is None) != (self.compare_end is None):
            raise OptionError("give both compare_start and compare_end")
        return self

    @property
    def compare(self) -> tuple[dt.date, dt.date] | None:
        if self.compare_start is None or self.compare_end is None:
            return None
        return self.compare_start, self.compare_end


class FunnelParams(Sourced):
    """A funnel (:func:`shopscope.behaviour.funnels.funnel`). ``steps`` and ``window``
    default to the source's default funnel (:data:`~shopscope.behaviour.source.
    DEFAULT_FUNNEL`)."""

    steps: tuple[str, ...] | None = None
    window: str | None = None
    order: Literal["sequential", "any"] = "sequential"
    same_product: bool = False
    mode: Literal["user", "order"] = "user"
    start: Day | None = None
    end: Day | None = None
    by: str | None = None


class FunnelTrendParams(FunnelParams):
    """The funnel per period of its first step (``by`` is not used)."""

    grain: Grain = "day"


class DroppedParams(FunnelParams):
    """The visitors who reached step ``at_step - 1`` but not ``at_step``."""

    at_step: int


class RetentionParams(Sourced):
    """Cohort retention (:func:`shopscope.behaviour.retention.retention`)."""

    start_event: str | None = None
    return_event: str | None = None
    grain: Grain = "day"
    periods: int = 30
    mode: Literal["exact", "unbounded"] = "exact"
    start: Day | None = None
    end: Day | None = None
    by: str | None = None

    @field_validator("grain", mode="before")
    @classmethod
    def _grain(cls, value: Any) -> Any:
        return _checked_grain(value)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        check_mode(value)
        return value


class CohortParams(BehaviourParams):
    """Repurchase cohorts on orders (:func:`shopscope.behaviour.retention.
    repurchase_cohorts`)."""

    grain: Grain = "month"
    periods: int = 12
    start: Day | None = None
    end: Day | None = None

    @field_validator("grain", mode="before")
    @classmethod
    def _grain(cls, value: Any) -> Any:
        return _checked_grain(value)


class PathParams(Sourced):
    """Top paths (:func:`shopscope.behaviour.paths.paths`); ``start``/``end`` are steps,
    ``start_date``/``end_date`` the inclusive days."""

    start: str | None = None
    end: str | None = None
    length: int = 5
    top: int = 20
    exclude: tuple[str, ...] = ()
    collapse_repeats: bool = True
    gap: str = "30m"
    start_date: Day | None = None
    end_date: Day | None = None


class _FunnelSpec(Params):
    """A funnel question once its source and defaults are resolved: the cache key."""

    kind: Kind
    steps: tuple[str, ...]
    window: str
    order: str
    same_product: bool
    mode: str
    start: dt.date | None
    end: dt.date | None
    by: str | None = None
    grain: str | None = None
    at_step: int | None = None

    def options(self) -> dict[str, Any]:
        """The keyword options of the funnel functions (without ``by`` and ``grain``)."""
        return {"window": self.window, "order": self.order, "same_product": self.same_product,
                "mode": self.mode, "start": self.start, "end": self.end}


def _key(name: str, params: Params) -> Hashable:
    """The one way a behaviour cache key is made."""
    return (f"behaviour.{name}", params.cache_key())


# --------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Explained(Generic[T]):
    """An analysis' result, the source it read, and why it is empty (None: not empty)."""

    result: T
    choice: SourceChoice
    empty_reason: EmptyReason | None


@dataclass(frozen=True, eq=False)
class FunnelSetup:
    """A funnel's source and its steps and window (given, or the source's defaults)."""

    choice: SourceChoice
    steps: tuple[str, ...]
    window: str


@dataclass(frozen=True, eq=False)
class FunnelAnswer(Explained[FunnelResult]):
    """A funnel with the ``steps`` and ``window`` used (the source's defaults when not
    given)."""

    steps: tuple[str, ...] = ()
    window: str = ""


@dataclass(frozen=True, eq=False)
class FunnelTrendAnswer(Explained[pd.DataFrame]):
    """``result``: one row per period and step (see :func:`~shopscope.behaviour.funnels.
    funnel_trend`)."""

    steps: tuple[str, ...] = ()
    grain: str = "day"


@dataclass(frozen=True, eq=False)
class DroppedAnswer:
    """``frame``: ``visitor`` and ``user_id``, one row per visitor."""

    frame: pd.DataFrame
    at_step: int
    steps: tuple[str, ...]
    choice: SourceChoice


@dataclass(frozen=True)
class DataPresent:
    """Whether the workspace has any events, and any orders."""

    events: bool
    orders: bool


# --------------------------------------------------------------------------------------
# The source
# --------------------------------------------------------------------------------------
def choose(ctx: Context, requested: str, start: dt.date | None = None,
           end: dt.date | None = None) -> SourceChoice:
    """The source for ``requested`` over start..end. Which tables have rows in the range is
    cached; the choice is made on the current store (a cached store would outlive a
    reopened connection)."""
    check_source(requested)  # a bad source fails before any probe
    store = ctx.store
    found = ctx.cached(("behaviour.rows", str(start), str(end)), lambda: (
        rows_in_range(store, "events", start, end), rows_in_range(store, "orders", start, end)))
    return choose_source(store, requested, start, end, found)


def data_present(ctx: Context) -> DataPresent:
    """Whether there is anything to analyse (the pages show a notice when not)."""
    store = ctx.store
    return DataPresent(
        events=ctx.cached(("behaviour.has_events",), lambda: store.row_count("events") > 0),
        orders=ctx.cached(("behaviour.has_orders",), lambda: store.row_count("orders") > 0))


def last_event_day(ctx: Context, kind: Kind) -> dt.date | None:
    """The last day with an event (an order, on orders): where the data end."""
    choice = choose(ctx, kind)

    def last_day() -> dt.date | None:
        value = choice.source.table("events").event_at.max().execute()
        return None if pd.isna(value) else pd.Timestamp(value).date()

    return ctx.cached(("behaviour.last_event_day", kind), last_day)


# --------------------------------------------------------------------------------------
# Analyses
# --------------------------------------------------------------------------------------
def trends(ctx: Context, params: TrendParams) -> Explained[TrendResult]:
    choice = choose(ctx, params.source, params.start, params.end)
    key = _key("trends", params.model_copy(update={"source": choice.kind}))
    result = ctx.cached(key, lambda: trends_query(
        choice.source, metrics=cast(Any, params.metrics), grain=params.grain, start=params.start,
        end=params.end, event=params.event, by=params.by, compare=params.compare))
    return Explained(result, choice, why_empty(choice, "trends", result, params.event))


def funnel_setup(ctx: Context, params: FunnelParams) -> FunnelSetup:
    """Pick the source, then the default steps and window for it when not given."""
    choice = choose(ctx, params.source, params.start, params.end)
    steps, window = DEFAULT_FUNNEL[choice.kind]
    given = params.steps is not None  # no steps given, not an empty list: the default
    return FunnelSetup(choice, params.steps if given else steps,  # type: ignore[arg-type]
                       params.window or window)


def _spec(setup: FunnelSetup, params: FunnelParams, **extra: Any) -> _FunnelSpec:
    return _FunnelSpec(kind=cast(Kind, setup.choice.kind), steps=setup.steps, window=setup.window,
                       order=params.order, same_product=params.same_product,
                       mode=params.mode, start=params.start, end=params.end, **extra)


def funnel(ctx: Context, params: FunnelParams) -> FunnelAnswer:
    """Per-step counts, conversion, drop-off, time to convert (and values in order mode)."""
    setup = funnel_setup(ctx, params)
    spec = _spec(setup, params, by=params.by)
    result = ctx.cached(_key("funnel", spec), lambda: funnel_query(
        setup.choice.source, list(spec.steps), by=spec.by, **spec.options()))
    return FunnelAnswer(result, setup.choice,
                        why_empty(setup.choice, "funnel", result, setup.steps[0]),
                        setup.steps, setup.window)


def funnel_trend(ctx: Context, params: FunnelTrendParams) -> FunnelTrendAnswer:
    """The funnel's step counts and conversion per period of the first step."""
    setup = funnel_setup(ctx, params)
    spec = _spec(setup, params, grain=params.grain)
    frame = ctx.cached(_key("funnel_trend", spec), lambda: funnel_trend_query(
        setup.choice.source, list(spec.steps), grain=params.grain, **spec.options()))
    return FunnelTrendAnswer(frame, setup.choice,
                             why_empty(setup.choice, "funnel_trend", frame, setup.steps[0]),
                             setup.steps, params.grain)


def funnel_dropped(ctx: Context, params: DroppedParams, *, pii: PiiMode = "mask",
                   pseudonym_key: str | None = None) -> DroppedAnswer:
    """The audience that stopped before ``at_step``: visitor and customer ids. Run through
    the store's executor and the context (its lock and cache) like every other query.

    As in customer exports, ids that are e-mail addresses or phone numbers leave as
    pseudonyms (``c_…``, keyed by ``pseudonym_key``, default the workspace's) unless ``pii="raw"``
    (which the adapters allow admins and the local operator only)."""
    from shopscope.privacy import protect_ids

    if pii != "raw" and pseudonym_key is None:
        pseudonym_key = ctx.pseudonym_key
    setup = funnel_setup(ctx, params)
    spec = _spec(setup, params, at_step=params.at_step)

    def compute() -> pd.DataFrame:
        expr = dropped_query(setup.choice.source, list(spec.steps), params.at_step,
                             **spec.options())
        if pii != "raw":
            expr = protect_ids(expr, ("visitor", "user_id"), pii, str(pseudonym_key))
        return execute(expr, written_join_sides=True).sort_values(
            "visitor", ignore_index=True)  # the same file for the same question

    frame = ctx.cached((_key("funnel_dropped", spec), pii), compute)
    return DroppedAnswer(frame, params.at_step, setup.steps, setup.choice)


def retention(ctx: Context, params: RetentionParams) -> Explained[RetentionResult]:
    choice = choose(ctx, params.source, params.start, params.end)
    key = _key("retention", params.model_copy(update={"source": choice.kind}))
    result = ctx.cached(key, lambda: retention_query(
        choice.source, start_event=params.start_event, return_event=params.return_event,
        grain=params.grain, periods=params.periods, mode=params.mode, start=params.start,
        end=params.end, by=params.by))
    return Explained(result, choice, why_empty(choice, "retention", result,
                                               params.start_event))


def cohorts(ctx: Context, params: CohortParams) -> CohortResult:
    """Repurchase cohorts (always on orders)."""
    store = ctx.store
    return ctx.cached(_key("cohorts", params), lambda: cohorts_query(
        store, grain=params.grain, periods=params.periods, start=params.start,
        end=params.end))


def paths(ctx: Context, params: PathParams) -> Explained[PathResult]:
    choice = choose(ctx, params.source, params.start_date, params.end_date)
    key = _key("paths", params.model_copy(update={"source": choice.kind}))
    result = ctx.cached(key, lambda: paths_query(
        choice.source, start=params.start, end=params.end, length=params.length,
        top=params.top, exclude=params.exclude, collapse_repeats=params.collapse_repeats,
        gap=params.gap, start_date=params.start_date, end_date=params.end_date))
    return Explained(result, choice, why_empty(choice, "paths", result, params.start))


def conversion_by(result: FunnelResult, top: int = 12) -> pd.DataFrame:
    """A funnel broken down, one row per breakdown value: its last step's row (``by``,
    ``count``, ``conversion_overall`` …) and ``entered`` (its step-1 count); the ``top``
    values with the most entrants."""
    steps = result.steps
    last = steps[steps.step == steps.step.max()]
    first = steps[steps.step == 1].set_index("by")["count"]
    return last.assign(entered=last["by"].map(first)).sort_values(
        "entered", ascending=False).head(top)


def compare_totals(result: TrendResult, metrics: tuple[str, ...] = ("pv", "uv")
                   ) -> pd.DataFrame:
    """Totals of a compared trend: ``metric``, ``value`` (the range), ``other`` (the
    compared range) and ``change`` (value / other - 1; NaN when other is 0)."""
    data = result.data[result.data.metric.isin(metrics)]
    frame = pd.DataFrame([(m, g.value.sum(), g.compare_value.sum())
                          for m, g in data.groupby("metric")],
                         columns=["metric", "value", "other"])
    frame["change"] = frame.value / frame.other.where(frame.other != 0) - 1
    return frame


def partial_periods(ctx: Context, choice: SourceChoice, periods: list[dt.date], grain: str,
                    start: dt.date | None, end: dt.date | None) -> set[dt.date]:
    """The periods that the data (their last day) or the inclusive range cover in part."""
    last = last_event_day(ctx, choice.kind)  # type: ignore[arg-type]
    return core_partial(periods, grain, last, DateRange(start, end))


__all__ = [
    "BehaviourParams", "CohortParams", "DataPresent", "DroppedAnswer", "DroppedParams",
    "Explained", "FunnelAnswer", "FunnelParams", "FunnelSetup", "FunnelTrendAnswer",
    "FunnelTrendParams", "PathParams", "RetentionParams", "Sourced", "TrendParams", "choose",
    "cohorts", "compare_totals", "conversion_by", "data_present", "funnel", "funnel_dropped",
    "funnel_setup", "funnel_trend", "last_event_day", "partial_periods", "paths", "retention",
    "trends",
]
