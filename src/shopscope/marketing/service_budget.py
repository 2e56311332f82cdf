"""The budget view (:func:`budget`): per channel and period, spend against the last-touch
return of the channel report and the return an attribution model credits; per channel, the
marginal ROAS of the recent trend (:mod:`shopscope.marketing.budget`) and the lift of an
experiment that measures the channel.

Returns are net sales: last touch is the channel report's ``net_sales`` (orders whose touch
is the channel, less credited returns); attributed is the model's credit of the net amount
of the orders ending journeys in the period (:mod:`shopscope.marketing.journeys`, returns
not deducted). The default model is Markov (order 1): last touch is already the channel
report's figure, and the removal effect credits each channel with what the paths lose
without it, so the two side by side show where last click over- or under-credits a channel.
On few journeys per period it is noisy; ``model`` picks another.

An experiment measures a channel when its definition has ``"channel": "<name>"`` (the
spend channel's name, compared case-insensitively); its first metric, first treatment arm
against the control is shown. Several: the one that ended last.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from shopscope.core import periods as P
from shopscope.core.periods import DateRange, Day, data_span
from shopscope.core.service import Context
from shopscope.core.service import Params as _Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.errors import ShopscopeError
from shopscope.experiments import service as experiments
from shopscope.marketing import attribution as at
from shopscope.marketing import budget as bd
from shopscope.marketing import channels as ch
from shopscope.marketing import journeys as jr
from shopscope.marketing.service import AttributionParams, Model, attribute
from shopscope.marketing.service_channels import NoData

__all__ = ["BudgetParams", "BudgetResult", "Lift", "NoData", "budget", "make"]


class BudgetParams(_Params):
    """The view over ``start``..``end`` (whole periods of ``grain``), attributed return by
    ``model`` over journeys of ``lookback_days``, marginal ROAS of ``basis`` over the last
    ``window`` periods."""

    start: Day | None = None
    end: Day | None = None
    grain: Literal["week", "month"] = "month"
    model: Model = "markov"
    lookback_days: int = Field(30, ge=1, le=3650)
    window: int = Field(6, ge=bd.MIN_PERIODS, le=104)
    basis: Literal["attributed", "last_touch"] = "attributed"

    @model_validator(mode="after")
    def _check(self) -> BudgetParams:
        DateRange(self.start, self.end)
        return self


@dataclass(frozen=True)
class Lift:
    """An experiment's measured lift on a channel (first metric, first treatment arm)."""

    experiment_id: str
    metric: str
    variant: str
    control: str
    abs_lift: float | None
    low: float | None
    high: float | None
    rel_lift: float | None
    p_value: float | None
    error: str | None


@dataclass(frozen=True, eq=False)
class BudgetResult:
    """``rows``: one per period and channel (:func:`shopscope.marketing.budget.rows`);
    ``channels``: one per channel (:func:`shopscope.marketing.budget.channels`) with
    ``recommendation`` and the experiment's lift columns (``experiment_id``, ``lift``,
    ``lift_low``, ``lift_high``, ``lift_rel``, ``lift_p``; None without one); ``notes``:
    what could not be computed and why."""

    params: BudgetParams
    start: dt.date
    end: dt.date
    model: str
    rows: pd.DataFrame
    channels: pd.DataFrame
    lifts: dict[str, Lift]
    notes: tuple[str, ...]


def _num(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _attributed(ctx: Context, params: BudgetParams, periods: list[dt.date],
                end: dt.date, notes: list[str]) -> tuple[pd.DataFrame | None, str]:
    """The model's credited value per period and channel, over the journeys ending in each
    period (as :func:`~shopscope.marketing.service_journeys.attribute_workspace` builds
    them); all periods' paths in one engine query."""
    attr = make(AttributionParams, models=(params.model,))
    name = f"markov_{attr.order}" if params.model == "markov" else params.model
    if not (ctx.store.has_table("events") and ctx.store.has_table("orders")):
        notes.append("no attributed return: the workspace has no events (sessions) to build "
                     "journeys from")
        return None, name
    # one query for every period (a query per period made a union of hundreds of plans
    # over a long range of weeks)
    paths = jr.journeys_expr(ctx.store, "channel", params.lookback_days, periods[0], end,
                             grain=params.grain).execute()
    paths["period"] = pd.to_datetime(paths["period"]).dt.date
    paths = paths[paths["path"] != ""]  # conversions without a touch: no model credits them
    out = []
    for p, g in paths.groupby("period", sort=True):
        j = at.Journeys.from_paths([x.split(jr.SEP) for x in g["path"]],
                                   g["conversions"].to_numpy(), g["value"].to_numpy(),
                                   g["nulls"].to_numpy())
        value = attribute(j, attr).value.iloc[:, 0]
        out.append(pd.DataFrame({"period": p, "channel": value.index.astype(str),
                                 "attributed": value.to_numpy(dtype=float)}))
    # a period with no journey credits nothing: every channel 0 there (filled by the caller)
    frame = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        {"period": [], "channel": [], "attributed": []})
    return frame, name


def _lifts(ctx: Context, notes: list[str]) -> dict[str, Lift]:
    try:
        defs = experiments.list_definitions(ctx)  # type: ignore[arg-type]
    except ShopscopeError as exc:
        notes.append(f"experiments not read: {exc.message}")
        return {}
    found: dict[str, Lift] = {}
    ends: dict[str, dt.date] = {}
    for d in defs:
        if not d.channel:
            continue
        key = d.channel.casefold()
        if key in ends and ends[key] >= d.end:
            continue
        metric, variant = d.metrics[0].name, d.variants[1]
        try:
            result = experiments.analyze(
                ctx, experiments.AnalyzeParams(experiment_id=d.experiment_id))  # type: ignore[arg-type]
        except ShopscopeError as exc:
            lift = Lift(d.experiment_id, metric, variant, d.control, None, None, None, None,
                        None, exc.message)
        else:
            frame = experiments.comparison_frame(result)
            hit = frame[(frame["metric"] == metric) & (frame["variant"] == variant)]
            r = hit.iloc[0].to_dict() if len(hit) else {}
            lift = Lift(d.experiment_id, metric, variant, d.control, _num(r.get("abs_lift")),
                        _num(r.get("abs_low")), _num(r.get("abs_high")),
                        _num(r.get("rel_lift")), _num(r.get("p_value")),
                        r.get("error") or None)
        found[key], ends[key] = lift, d.end
    return found


def _spend(ctx: Context, params: BudgetParams) -> tuple[dt.date, dt.date, pd.DataFrame]:
    """The range widened to whole periods (as the channel report does) and per period and
    channel ``spend`` and ``last_touch`` (the channel report's net sales): its one query
    by channel, without the totals the report also computes."""
    span = data_span(ctx.store, [("orders", "ordered_at")] + (
        [("marketing_spend", "date")] if ctx.store.has_table("marketing_spend") else []))
    if span is None:
        raise NoData("no orders or marketing spend in the workspace",
                     hint="load orders (and marketing_spend) first")
    start = P.period_start(params.start or span[0], params.grain)
    stop = P.period_end(P.period_start(params.end or span[1], params.grain), params.grain)
    DateRange(start, stop - dt.timedelta(days=1)).check_span(params.grain)
    frame = ch.report_expr(ctx.store, start, stop, params.grain, ("channel",)).execute()
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    frame = frame.rename(columns={"net_sales": "last_touch"})
    for m in ("spend", "last_touch"):
        frame[m] = frame[m].fillna(0.0).astype(float)
    return start, stop - dt.timedelta(days=1), frame


def budget(ctx: Context, params: BudgetParams) -> BudgetResult:
    """Spend, last-touch and attributed return and their ROAS per channel and period;
    per channel the totals, marginal ROAS (with the reason when missing), a
    recommendation and an experiment's lift (rules in the module docstrings)."""

    def compute() -> BudgetResult:
        start, end, spend = _spend(ctx, params)
        periods = []
        p = start
        while p <= end:
            periods.append(p)
            p = P.shift(p, params.grain, 1)
        notes: list[str] = []
        att, name = _attributed(ctx, params, periods, end, notes)
        if att is not None and att.empty:
            att = None
            notes.append("no attributed return: no journey ends in the range")
        rows = bd.rows(spend, att)
        if att is not None:  # periods with no journey: credit 0, known
            rows.loc[rows["period"].isin(periods), "attributed"] = \
                rows["attributed"].fillna(0.0)
            rows["roas_attributed"] = rows["attributed"] / rows["spend"].where(
                rows["spend"] != 0)
        basis = params.basis if att is not None else "last_touch"
        if basis != params.basis:
            notes.append("marginal ROAS on last-touch return (no attributed return)")
        table = bd.channels(rows, params.window, basis, periods)
        rec = bd.recommend(dict(zip(table["channel"], table["marginal_roas"], strict=True)))
        lifts = _lifts(ctx, notes)
        table["recommendation"] = [rec[c] for c in table["channel"]]
        got = [lifts.get(str(c).casefold()) for c in table["channel"]]
        table["experiment_id"] = [g.experiment_id if g else None for g in got]
        table["lift"] = [g.abs_lift if g else None for g in got]
        table["lift_low"] = [g.low if g else None for g in got]
        table["lift_high"] = [g.high if g else None for g in got]
        table["lift_rel"] = [g.rel_lift if g else None for g in got]
        table["lift_p"] = [g.p_value if g else None for g in got]
        return BudgetResult(params=params, start=start, end=end, model=name,
                            rows=rows, channels=table, lifts=lifts, notes=tuple(notes))

    return ctx.cached(("marketing.budget", params.cache_key()), compute)
