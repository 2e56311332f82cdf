"""The marketing area's cohort service: LTV, CAC and payback of acquisition cohorts.

:func:`cohort_ltv` runs :func:`shopscope.marketing.cohorts.cohort_ltv` in the engine (one
row per acquisition channel or campaign and month), then adds, on those few rows, LTV/CAC,
the payback period and the projected 12-month LTV from the customers area's CLV model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from shopscope.core.periods import MAX_DATE, MIN_DATE
from shopscope.core.service import Context, Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.marketing import cohorts as q

#: Months of the cohort curve (30-day steps).
CURVE_MONTHS = 12
PROJECTION_MONTHS = 12


class CohortParams(Params):
    """Cohorts acquired from ``start`` to ``end`` (days of the first order, both included),
    by acquisition ``channel`` or ``campaign``; LTV at ``horizons`` days; payback compares
    cumulative net revenue per customer × ``margin`` with CAC."""

    start: dt.date | None = None
    end: dt.date | None = None
    by: Literal["channel", "campaign"] = "channel"
    horizons: tuple[int, ...] = Field((7, 30, 90, 180, 365), min_length=1, max_length=10)
    margin: float = Field(1.0, gt=0, le=1)
    projected: bool = True  # fit the CLV model for the projected LTV

    @field_validator("horizons")
    @classmethod
    def _horizons(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(h < 1 or h > 3650 for h in v):
            raise ValueError("horizons are days from 1 to 3650")
        if len(set(v)) != len(v):
            raise ValueError("a horizon is listed twice")
        return tuple(sorted(v))

    @field_validator("start", "end")
    @classmethod
    def _day(cls, v: dt.date | None) -> dt.date | None:
        if v is not None and not MIN_DATE <= v <= MAX_DATE:
            raise ValueError(f"{v} is outside {MIN_DATE} to {MAX_DATE}")
        return v

    @model_validator(mode="after")
    def _range(self) -> CohortParams:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self


@dataclass(frozen=True, eq=False)
class CohortLtv:
    """``cohorts``: one row per key and cohort month (customers, ``ltv_{h}`` per customer or
    None when the cohort is too young, spend, cac, ``ltv_cac_{h}``, ``payback_days`` (first
    horizon that pays back), ``payback_months``, ``projected_ltv_12m``); ``curves``: long
    form ``key, cohort, month, cum_revenue`` (complete months only); ``by_key``: totals per
    channel/campaign; ``notes``: rules and what was left out."""

    params: CohortParams
    cohorts: pd.DataFrame
    curves: pd.DataFrame
    by_key: pd.DataFrame
    data_end: dt.date | None
    notes: tuple[str, ...]


def _payback(values: pd.DataFrame, cols: list[str], steps: list[int], cac: pd.Series,
             margin: float) -> pd.Series:
    """The first step whose (margin × cumulative value) reaches CAC; None when none does."""
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    for col, step in reversed(list(zip(cols, steps, strict=True))):
        v = values[col]
        hit = v.notna() & cac.notna() & (v * margin >= cac - 1e-9)
        out[hit] = step
    return out


def _projected(ctx: Context, acq: pd.DataFrame) -> tuple[pd.Series | None, str]:
    """Mean 12-month CLV (net revenue, margin 1, discounted 10%/year) per (key, cohort):
    the customers area's BG/NBD + Gamma-Gamma fit on the whole history."""
    from shopscope.customers import service as cs

    try:
        a = cs.clv_analysis(ctx, cs.ClvParams(holdout_end="none",
                                              horizon_months=PROJECTION_MONTHS))
    except cs.CustomersError as exc:
        return None, f"projected LTV: not available ({exc.message})"
    v = a.value.data[["customer_id", "clv"]]
    m = acq.merge(v, on="customer_id", how="left")
    mean = m.groupby(["key", "cohort"])["clv"].mean()
    return mean, (f"projected_ltv_12m: a projection, the expected net revenue per customer "
                  f"in the {PROJECTION_MONTHS} months after the data end from the customers "
                  "area's "
                  f"{type(a.fit.purchases).__name__} + spend model (discounted 10%/year), "
                  "not realised revenue")


def cohort_ltv(ctx: Context, params: CohortParams) -> CohortLtv:
    """Cohort LTV, CAC, LTV/CAC, payback and curves (see :class:`CohortLtv`)."""
    return ctx.cached(("marketing.cohort_ltv", params.cache_key()),
                      lambda: _compute(ctx, params))


def _compute(ctx: Context, p: CohortParams) -> CohortLtv:
    store = ctx.store
    end = q.data_end(store)
    data_end = end.date() if end else None
    expr = q.cohort_ltv(store, p.by, p.start, p.end, p.horizons, CURVE_MONTHS, end)
    df = expr.to_pandas()
    df["cohort"] = pd.to_datetime(df["cohort"]).dt.date
    df["customers"] = df["customers"].astype("int64")
    cac = df["cac"].astype(float)
    ltv_cols = [f"ltv_{h}" for h in p.horizons]
    curve_cols = [f"curve_{k}" for k in range(1, CURVE_MONTHS + 1)]
    for c in [*ltv_cols, *curve_cols]:
        df[c] = df[c].astype(float)
    for h in p.horizons:
        df[f"ltv_cac_{h}"] = df[f"ltv_{h}"] / cac
    df["payback_days"] = _payback(df, ltv_cols, list(p.horizons), cac, p.margin)
    df["payback_months"] = _payback(df, curve_cols, list(range(1, CURVE_MONTHS + 1)), cac,
                                    p.margin)
    notes = [
        ("acquisition: first non-cancelled order; channel = signup_channel, else the landing "
        "source of the session before the first order, else the first order's channel"),
        ("ltv_<h>: realised net revenue (sales minus credits) per customer in the first h "
        "days; empty when the cohort is younger than h days at the data end"),
        (f"payback: first horizon (days) / 30-day month where cumulative net revenue per "
        f"customer x margin {p.margin:g} >= CAC"),
    ]
    if df.empty:
        notes.append("no cohorts: no customer's first order falls in the range (orders "
                     "without a customer id are guests and acquire nobody)")
    proj = None
    if p.projected and len(df):
        acq = q.acquisitions(store, p.by).select("customer_id", "key", "cohort").to_pandas()
        acq["cohort"] = pd.to_datetime(acq["cohort"]).dt.date
        proj, note = _projected(ctx, acq)
        notes.append(note)
    df["projected_ltv_12m"] = (df.set_index(["key", "cohort"]).index.map(proj).astype(float)
                               if proj is not None else float("nan"))
    spend_all = q.spend_by_month(store, p.by).to_pandas()
    if len(spend_all):
        spend_all["cohort"] = pd.to_datetime(spend_all["cohort"]).dt.date
        if p.start:
            spend_all = spend_all[spend_all.cohort >= p.start.replace(day=1)]
        if p.end:
            spend_all = spend_all[spend_all.cohort <= p.end]
        missing = spend_all.merge(df[["key", "cohort"]], how="left", indicator=True)
        lost = missing[missing["_merge"] == "left_only"]
        if len(lost) and lost["spend"].sum() > 0:
            notes.append(f"spend of {len(lost)} channel-months without new customers "
                         f"({lost['spend'].sum():,.2f}) has no cohort: no CAC for it")
    curves = df.melt(id_vars=["key", "cohort"], value_vars=curve_cols, var_name="month",
                     value_name="cum_revenue").dropna(subset=["cum_revenue"])
    curves["month"] = curves["month"].str.removeprefix("curve_").astype(int)
    curves = curves.sort_values(["key", "cohort", "month"]).reset_index(drop=True)
    cohorts = df.drop(columns=curve_cols).reset_index(drop=True)
    cohorts = cohorts.astype(object).where(cohorts.notna(), None)
    return CohortLtv(params=p, cohorts=cohorts, curves=curves, by_key=_by_key(df, p),
                     data_end=data_end, notes=tuple(notes))


def _by_key(df: pd.DataFrame, p: CohortParams) -> pd.DataFrame:
    """Per channel/campaign over all its cohorts: customers, spend, CAC, and LTV at each
    horizon over the cohorts old enough for it (customer-weighted)."""
    rows = []
    for key, g in df.groupby("key", sort=True):
        customers, spend = int(g.customers.sum()), float(g.spend.sum())
        row: dict[str, object] = {"key": key, "customers": customers, "spend": spend,
                                  "cac": spend / customers if spend > 0 else None}
        for h in p.horizons:
            ok = g[g[f"ltv_{h}"].notna()]
            n = ok.customers.sum()
            row[f"ltv_{h}"] = float((ok[f"ltv_{h}"] * ok.customers).sum() / n) if n else None
        rows.append(row)
    cols = ["key", "customers", "spend", "cac", *[f"ltv_{h}" for h in p.horizons]]
    return pd.DataFrame(rows, columns=cols)
