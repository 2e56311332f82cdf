"""KPIs: definitions, per-period tables with 环比/同比, whole-range summary.

A thin adapter over :mod:`shopscope.kpis.service`: parse the query, call the service,
shape the JSON (or a CSV/Parquet download).

``end`` is the last day included, as on every endpoint. These two endpoints used to read it
as the first day after the range; so that no client silently gets one more day, a request
with ``end`` says which it means (``end_inclusive=true`` or ``false``) while the transition
lasts, and is refused (422 ``end_changed``) otherwise. See docs/api.md, "Dates and periods".
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel

from shopscope.core.metrics import Breakdown as By
from shopscope.core.periods import Day, Grain
from shopscope.kpis import METRICS, service
from shopscope.ui.deps import ApiError, CurrentUser, State, download
from shopscope.ui.respcache import cached_response

router = APIRouter(tags=["kpis"])
Format = Literal["json", "csv", "parquet"]


class MetricOut(BaseModel):
    name: str
    label: str
    unit: str
    formula: str
    description: str
    higher_is_better: bool


class KpiRow(BaseModel):
    period: dt.date
    breakdown: str | None = None
    metric: str
    value: float | None
    previous: float | None
    pop_change: float | None
    yoy_value: float | None
    yoy_change: float | None


class KpiPage(BaseModel):
    grain: str
    by: str | None
    items: list[KpiRow]
    page: int
    page_size: int
    total: int


EndInclusive = Annotated[bool | None, Query(description=(
    "Required with `end` during the transition: true = `end` is the last day included (the "
    "convention of every endpoint); false = the old meaning, the first day after the range"))]


def _last_day(end: dt.date | None, end_inclusive: bool | None) -> dt.date | None:
    try:
        return service.last_day(end, end_inclusive, where="on /api/kpis")
    except service.EndChangedError as exc:
        raise ApiError(422, exc.code, exc.message, exc.hint) from None


def _clean(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)  # type: ignore[arg-type]


def _service(call):
    """Run a service call, answering an unknown metric with 422 ``unknown_metric``."""
    try:
        return call()
    except service.UnknownMetricError as exc:
        raise ApiError(422, exc.code, exc.message, exc.hint) from None


@router.get("/api/metrics", response_model=list[MetricOut])
@cached_response
def list_metrics(user: CurrentUser, lang: Literal["en", "zh"] | None = None):
    """Every KPI with its label (in the user's language unless ``lang``), unit and formula."""
    language = lang or user.lang
    return [
        MetricOut(name=m.name, label=m.label_zh if language == "zh" else m.label_en,
                  unit=m.unit, formula=m.formula, description=m.doc,
                  higher_is_better=m.higher_is_better)
        for m in METRICS.values()
    ]


@router.get("/api/kpis", response_model=KpiPage,
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
@cached_response
def get_kpis(
    state: State,
    user: CurrentUser,
    grain: Grain = "month",
    by: By | None = None,
    start: Day | None = None,
    end: Annotated[Day | None, Query(description="last day included")] = None,
    end_inclusive: EndInclusive = None,
    metrics: str | None = Query(None, description="comma-separated metric names"),
    format: Format = "json",
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(500, ge=1, le=10_000),
):
    """KPIs per period (and breakdown value), long form with 环比 and 同比.

    ``format=csv|parquet`` downloads the whole table; JSON is paginated.
    """
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    last = _last_day(end, end_inclusive)
    table = _service(lambda: service.kpi_table(state, service.KpiParams.of(
        grain=grain, by=by, start=start, end=last, metrics=names)))
    frame = table.data
    if format != "json":
        return download(frame.rename(columns={by: "breakdown"}) if by else frame, format, "kpis")
    total = len(frame)
    chunk = frame.iloc[(page - 1) * page_size: page * page_size]
    items = [
        KpiRow(period=r["period"].date(), breakdown=None if by is None else str(r[by]),
               metric=r["metric"], value=_clean(r["value"]), previous=_clean(r["previous"]),
               pop_change=_clean(r["pop_change"]), yoy_value=_clean(r["yoy_value"]),
               yoy_change=_clean(r["yoy_change"]))
        for r in chunk.to_dict("records")
    ]
    return KpiPage(grain=grain, by=by, items=items, page=page, page_size=page_size, total=total)


@router.get("/api/kpis/summary", response_model=service.KpiSummary)
@cached_response
def get_summary(state: State, user: CurrentUser, start: dt.date | None = None,
                end: Annotated[Day | None, Query(description="last day included")] = None,
                end_inclusive: EndInclusive = None):
    """Every metric over the days ``start`` to ``end`` (both included)."""
    return service.summary(state, service.SummaryParams.of(
        start=start, end=_last_day(end, end_inclusive)))
