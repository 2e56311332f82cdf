"""Experiments: saved definitions, their analysis, and the sample-size calculator.

Analyses are cached per data version and definition, so a result is reproducible from the
stored data: the response names the data version it was computed on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from shopscope.api.deps import CurrentUser
from shopscope.experiments import planning

router = APIRouter(tags=["experiments"])


def make_plan(*, metric: str, baseline: float | None, sd: float | None, mde: float,
              relative: bool, alpha: float, power: float, variants: int,
              alternative: str, daily_traffic: float | None, share: float) -> dict[str, Any]:
    """A sample-size plan plus, with traffic, the duration and the MDE reachable by each
    duration from one to eight weeks (the trade-off chart)."""
    common = {"alpha": alpha, "power": power, "variants": variants,
              "alternative": alternative}
    if metric == "proportion":
        if baseline is None:
            from shopscope.errors import OptionError

            raise OptionError("a proportion plan needs the baseline rate",
                              hint="e.g. baseline=0.05 for a 5% conversion rate")
        plan = planning.sample_size_proportions(baseline, mde, relative=relative, **common)
    else:
        if sd is None:
            from shopscope.errors import OptionError

            raise OptionError("a mean plan needs the per-unit standard deviation",
                              hint="e.g. sd=120 for spend per customer")
        plan = planning.sample_size_means(sd, mde, relative=relative, mean=baseline, **common)
    out = {"plan": plan.to_dict(), "days": None, "tradeoff": []}
    if daily_traffic:
        out["days"] = planning.duration_days(plan.n_per_variant, daily_traffic, variants,
                                             share)
        for weeks in range(1, 9):
            n = daily_traffic * share * 7 * weeks / variants
            if n < 3:
                continue
            if metric == "proportion":
                reach = planning.mde_proportions(n, baseline, **common)
            else:
                reach = planning.mde_means(n, sd, mean=baseline, **common)
            out["tradeoff"].append({"days": 7 * weeks, "n_per_variant": int(n),
                                    "mde_abs": reach.mde_abs, "mde_rel": reach.mde_rel})
    return out


@router.get("/api/experiments/plan")
def get_plan(  # noqa: PLR0913
    user: CurrentUser,
    metric: Literal["proportion", "mean"] = "proportion",
    baseline: Annotated[float | None, Query(description=(
        "control conversion rate (proportion) or mean (mean metric, optional)"))] = None,
    sd: Annotated[float | None, Query(gt=0, description="per-unit standard deviation")] = None,
    mde: Annotated[float, Query(description="minimum detectable effect")] = 0.1,
    relative: bool = True,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
    power: Annotated[float, Query(gt=0, lt=1)] = 0.8,
    variants: Annotated[int, Query(ge=2, le=20)] = 2,
    alternative: Literal["two-sided", "one-sided"] = "two-sided",
    daily_traffic: Annotated[float | None, Query(gt=0)] = None,
    share: Annotated[float, Query(gt=0, le=1)] = 1.0,
) -> dict[str, Any]:
    """Units per variant (and days, given daily traffic) to detect ``mde`` with the given
    power; variants beyond two split alpha (Bonferroni)."""
    return make_plan(metric=metric, baseline=baseline, sd=sd, mde=mde, relative=relative,
                     alpha=alpha, power=power, variants=variants, alternative=alternative,
                     daily_traffic=daily_traffic, share=share)
