"""Experiments: saved definitions, their analysis, and the sample-size calculator.

Analyses are cached per data version and definition, so a result is reproducible from the
stored data: the response names the data version it was computed on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response

from shopscope.ui.deps import ApiError, AppState, CurrentUser, State, require
from shopscope.auth import User
from shopscope.experiments import planning
from shopscope.experiments.registry import (
    ExperimentDefinition,
    ExperimentNotFound,
    ExperimentStore,
    parse_definition,
)

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
            if not 3 <= n <= planning.MAX_UNITS:  # outside what a plan can be solved for
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


# -- saved experiments ---------------------------------------------------------------------
def load_definition(state: AppState, experiment_id: str) -> ExperimentDefinition:
    try:
        return ExperimentStore(state.workspace.path).load(experiment_id)
    except ExperimentNotFound as exc:
        raise ApiError(404, "not_found", exc.message, "see GET /api/experiments") from None


def cached_result(state: AppState, definition: ExperimentDefinition):  # noqa: ANN201
    """``analyze`` through the cache: keyed by the definition's JSON and (by the cache
    itself) the data version, so a result is recomputed exactly when either changes."""
    import warnings

    from shopscope.experiments.analysis import SampleRatioMismatchWarning, analyze

    def compute():  # noqa: ANN202
        with warnings.catch_warnings():  # the result carries the SRM warning itself
            warnings.simplefilter("ignore", SampleRatioMismatchWarning)
            return analyze(state.workspace.store, definition)

    return state.cached(("experiment", definition.model_dump_json()), compute)


@router.get("/api/experiments")
def list_experiments(state: State, user: CurrentUser) -> list[dict[str, Any]]:
    """Saved experiment definitions: id, name, window, variants, metrics."""
    store = ExperimentStore(state.workspace.path)
    out = []
    for experiment_id in store.list():
        d = store.load(experiment_id)
        out.append({"experiment_id": d.experiment_id, "name": d.name, "start": str(d.start),
                    "end": str(d.end), "variants": d.variants,
                    "metrics": [m.name for m in d.metrics]})
    return out


@router.post("/api/experiments", status_code=201)
def save_experiment(state: State, definition: dict[str, Any] = Body(...),
                    user: User = Depends(require("analyst"))) -> dict[str, Any]:
    """Save (or replace) a definition (docs/experiments/analysis.md); it is analysed on
    whatever data the workspace holds."""
    parsed = parse_definition(definition)
    ExperimentStore(state.workspace.path).save(parsed)
    return parsed.model_dump(mode="json")


@router.get("/api/experiments/{experiment_id}")
def get_experiment(experiment_id: str, state: State, user: CurrentUser) -> dict[str, Any]:
    """One saved definition."""
    return load_definition(state, experiment_id).model_dump(mode="json")


@router.delete("/api/experiments/{experiment_id}", status_code=204)
def delete_experiment(experiment_id: str, state: State,
                      user: User = Depends(require("analyst"))) -> Response:
    load_definition(state, experiment_id)
    ExperimentStore(state.workspace.path).delete(experiment_id)
    return Response(status_code=204)


def with_policy(definition: ExperimentDefinition, multi_arm: str | None) -> ExperimentDefinition:
    """The definition with its ``multi_arm`` policy overridden for one analysis."""
    if multi_arm is None or multi_arm == definition.multi_arm:
        return definition
    return definition.model_copy(update={"multi_arm": multi_arm})


@router.get("/api/experiments/{experiment_id}/results")
def get_results(experiment_id: str, state: State, user: CurrentUser,
                multi_arm: Annotated[Literal["exclude", "first"] | None, Query(description=(
                    "units logged in more than one arm: exclude them, or keep each in the "
                    "arm of its earliest exposure (default: the definition's, exclude)"))
                ] = None) -> dict[str, Any]:
    """The analysis: SRM check (first), comparisons with intervals and adjusted p-values,
    CUPED, Bayesian chance to win, sequential results, exploratory segments, the daily
    cumulative series, and the sufficient statistics with the data version. ``assignment``
    counts the log's repeated rows and units in more than one arm (also in ``warnings``).
    An experiment without units to analyse answers 422 with the reason."""
    definition = with_policy(load_definition(state, experiment_id), multi_arm)
    return cached_result(state, definition).to_dict()
