"""Attribution of the workspace's own journeys: sessions of known customers cut at their
orders (:mod:`shopscope.marketing.journeys`), credited by every asked model
(:func:`shopscope.marketing.service.attribute`). Cached per data version and parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from shopscope.core.periods import DateRange, Day
from shopscope.core.service import Context, Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.marketing import attribution as at
from shopscope.marketing import journeys as jr
from shopscope.marketing.service import AttributionParams, AttributionResult, attribute
from shopscope.marketing.service_channels import NoData

Touch = Literal["channel", "source", "medium", "campaign"]


class JourneyParams(Params):
    """Which journeys: touches labelled ``by``, at most ``lookback_days`` before the
    journey's end, journeys ending ``start``..``end`` (both included; None: all)."""

    by: Touch = "channel"
    lookback_days: int = Field(30, ge=1, le=3650)
    start: Day | None = None
    end: Day | None = None

    @model_validator(mode="after")
    def _check(self) -> JourneyParams:
        DateRange(self.start, self.end)
        return self


@dataclass(frozen=True, eq=False)
class JourneyAttribution:
    """``result``: the models' credit over the journeys with touches; ``journeys``: how
    many journeys (converting or not) they are; ``unattributed`` conversions and
    ``unattributed_value``: orders with no touch in their window (no model credits them);
    ``paths``: the journeys as paths (for the path explorer)."""

    params: JourneyParams
    result: AttributionResult
    paths: at.Journeys
    journeys: int
    unattributed: int
    unattributed_value: float


def attribute_workspace(ctx: Context, journeys: JourneyParams,
                        params: AttributionParams) -> JourneyAttribution:
    def compute() -> JourneyAttribution:
        if not (ctx.store.has_table("events") and ctx.store.has_table("orders")):
            raise NoData("attribution of the workspace needs events (sessions) and orders",
                         hint="load events with source/medium/campaign, or attribute a path "
                              "file: shopscope marketing attribution PATHS.csv")
        frame = jr.journeys_expr(ctx.store, journeys.by, journeys.lookback_days,
                                 journeys.start, journeys.end).execute()
        none = frame["path"] == ""
        lost = frame[none]
        frame = frame[~none]
        if frame.empty:
            raise NoData("no journeys: no session of a known customer in the range",
                         hint="load events whose user_id is the customer id, or widen the "
                              "range or the lookback")
        paths = [p.split(jr.SEP) for p in frame["path"]]
        j = at.Journeys.from_paths(paths, frame["conversions"].to_numpy(),
                                   frame["value"].to_numpy(), frame["nulls"].to_numpy())
        out = attribute(j, params)
        total = int(frame["conversions"].sum() + frame["nulls"].sum())
        return JourneyAttribution(
            params=journeys, result=out, paths=j, journeys=total,
            unattributed=int(lost["conversions"].sum()),
            unattributed_value=float(lost["value"].sum()))

    return ctx.cached(("marketing.journeys", journeys.cache_key(), params.cache_key()),
                      compute)
