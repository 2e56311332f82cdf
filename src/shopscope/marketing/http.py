"""The attribution API: POST a small aggregated path file (CSV), get every model's credit
per channel. A thin adapter over :mod:`shopscope.marketing.service`; the app's body limit
(1 MiB by default) bounds the file, bad input answers 422 naming the row and column."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shopscope.core.periods import Day
from shopscope.errors import InputError
from shopscope.marketing import service as svc
from shopscope.marketing import service_journeys as sj
from shopscope.ui.deps import CurrentUser, State

router = APIRouter(tags=["marketing"])


class Credit(BaseModel):
    channel: str
    model: str
    conversions: float
    value: float


class Removal(BaseModel):
    channel: str
    removal_effect: float
    removal_effect_value: float


class AttributionOut(BaseModel):
    paths: int
    channels: int
    total_conversions: float
    total_value: float
    models: list[str]
    credit: list[Credit]  # one row per channel and model
    removal_effects: list[Removal] | None  # Markov only
    notes: list[str]


_CSV_BODY = {"requestBody": {"required": True, "content": {"text/csv": {"schema": {
    "type": "string", "example": "path,total_conversions,total_conversion_value,total_null\n"
                                "a > b,1,10,2\nb,0,0,3\n"}}}}}


@router.post("/api/attribution", response_model=AttributionOut, openapi_extra=_CSV_BODY)
async def post_attribution(
    request: Request, user: CurrentUser,
    models: Annotated[str, Query(max_length=200, description="Comma-separated models, or "
                                 "all: first_touch, last_touch, last_non_direct, linear, "
                                 "time_decay, position_based, markov, shapley.")] = "all",
    order: Annotated[int, Query(ge=1, le=3)] = 1,
    lookback: Annotated[int | None, Query(ge=1)] = None,
    sep: Annotated[str, Query(min_length=1, max_length=10)] = ">",
    direct: Annotated[str, Query(max_length=200)] = "direct",
    half_life: Annotated[float, Query(gt=0, le=1e6)] = 7.0,
    first: Annotated[float, Query(ge=0, le=1)] = 0.4,
    last: Annotated[float, Query(ge=0, le=1)] = 0.4,
    samples: Annotated[int, Query(ge=2, le=5000)] = 2000,
    exact_limit: Annotated[int, Query(ge=0, le=16)] = 15,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    path_column: Annotated[str, Query(max_length=200)] = "path",
    conversions_column: Annotated[str, Query(max_length=200)] = "total_conversions",
    value_column: Annotated[str, Query(max_length=200)] = "total_conversion_value",
    nulls_column: Annotated[str, Query(max_length=200)] = "total_null",
    days_column: Annotated[str, Query(max_length=200, description="Touch times (days to the "
                                      "journey's end, separated like the path).")] = "",
) -> AttributionOut:
    """Attribution of the paths in the body (CSV with a header: path, conversions, value,
    journeys without conversion; column names as given). Each model's credits sum to the
    totals. Markov is exact (order 1-3); Shapley is exact up to ``exact_limit`` channels,
    else sampled (``samples`` permutations, ``seed``)."""
    chosen = [m.strip() for m in models.split(",") if m.strip()]
    params = svc.make(svc.AttributionParams,
                      **({} if chosen in (["all"], []) else {"models": tuple(chosen)}),
                      order=order, lookback=lookback, direct=direct, half_life=half_life,
                      first=first, last=last, samples=samples, exact_limit=exact_limit,
                      seed=seed)
    cols = svc.make(svc.PathColumns, path=path_column, conversions=conversions_column,
                    value=value_column, nulls=nulls_column, days=days_column, sep=sep)
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("request body: not UTF-8 text", hint="send the CSV as UTF-8") from None

    def compute() -> svc.AttributionResult:
        journeys = svc.read_paths(io.StringIO(text), cols, name="request body")
        return svc.attribute(journeys, params)

    return _answer(await run_in_threadpool(compute))


def _answer(out: svc.AttributionResult) -> AttributionOut:
    removal = None
    if out.removal_effects is not None:
        removal = [Removal(**r) for r in out.removal_effects.to_dict("records")]
    return AttributionOut(
        paths=out.paths, channels=out.channels, total_conversions=out.total_conversions,
        total_value=out.total_value, models=list(out.conversions.columns),
        credit=[Credit(**r) for r in out.comparison[["channel", "model", "conversions",
                                                     "value"]].to_dict("records")],
        removal_effects=removal, notes=list(out.notes))


class JourneyAttributionOut(AttributionOut):
    by: str
    lookback_days: int
    journeys: int  # converting or not, with at least one touch
    unattributed: int  # orders with no touch in their window: credited by no model
    unattributed_value: float


@router.get("/api/attribution/journeys", response_model=JourneyAttributionOut)
def get_journey_attribution(
    state: State, user: CurrentUser,
    by: sj.Touch = "channel",
    lookback_days: Annotated[int, Query(ge=1, le=3650)] = 30,
    start: Day | None = None, end: Day | None = None,
    models: Annotated[str, Query(max_length=200, description="Comma-separated models, or "
                                 "all.")] = "all",
    order: Annotated[int, Query(ge=1, le=3)] = 1,
    direct: Annotated[str, Query(max_length=200)] = "direct",
    half_life: Annotated[float, Query(gt=0, le=1e6)] = 7.0,
    first: Annotated[float, Query(ge=0, le=1)] = 0.4,
    last: Annotated[float, Query(ge=0, le=1)] = 0.4,
    samples: Annotated[int, Query(ge=2, le=5000)] = 2000,
    exact_limit: Annotated[int, Query(ge=0, le=16)] = 15,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> JourneyAttributionOut:
    """Attribution of the workspace's own journeys: each known customer's sessions up to
    each order (touches at most ``lookback_days`` before it), labelled ``by``; journeys
    ending ``start``..``end``. The same answer as ``shopscope marketing attribution -w``."""
    chosen = [m.strip() for m in models.split(",") if m.strip()]
    params = svc.make(svc.AttributionParams,
                      **({} if chosen in (["all"], []) else {"models": tuple(chosen)}),
                      order=order, direct=direct, half_life=half_life, first=first,
                      last=last, samples=samples, exact_limit=exact_limit, seed=seed)
    jp = sj.make(sj.JourneyParams, by=by, lookback_days=lookback_days, start=start, end=end)
    out = sj.attribute_workspace(state, jp, params)
    return JourneyAttributionOut(
        **_answer(out.result).model_dump(), by=by, lookback_days=lookback_days,
        journeys=out.journeys, unattributed=out.unattributed,
        unattributed_value=out.unattributed_value)
