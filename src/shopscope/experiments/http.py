"""Experiments: saved definitions, their analysis, and the sample-size calculator.

Analyses are cached per data version and definition, so a result is reproducible from the
stored data: the response names the data version it was computed on. Every endpoint parses
its input into the service's parameters (:mod:`shopscope.experiments.service`), calls the
service and returns what it found.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import ConfigDict

from shopscope.auth import User
from shopscope.experiments import service
from shopscope.experiments.registry import ExperimentDefinition, ExperimentNotFound
from shopscope.experiments.responses import ExperimentListItem, PlanResponse, ResultResponse
from shopscope.ui.deps import ApiError, AppState, CurrentUser, State, require
from shopscope.ui.respcache import cached_response

router = APIRouter(tags=["experiments"])


class PlanQuery(service.PlanParams):
    """The plan's parameters as query parameters: other parameters in the URL are ignored,
    as they always were."""

    model_config = ConfigDict(extra="ignore")


@router.get("/api/experiments/plan", response_model=PlanResponse)
@cached_response
def get_plan(user: CurrentUser, query: Annotated[PlanQuery, Query()]) -> dict[str, Any]:
    """Units per variant (and days, given daily traffic) to detect ``mde`` with the given
    power; variants beyond two split alpha (Bonferroni)."""
    params = service.PlanParams(**query.model_dump())
    # not through the app's cache: a plan reads no data, so it never waits on the store's
    # lock behind a running query
    return service.plan(None, params).to_dict()


# -- saved experiments ---------------------------------------------------------------------
def _not_found(exc: ExperimentNotFound) -> ApiError:
    return ApiError(404, "not_found", exc.message, "see GET /api/experiments")


def _definition(state: AppState, experiment_id: str) -> ExperimentDefinition:
    try:
        return service.show(state, service.ExperimentRef(experiment_id=experiment_id))
    except ExperimentNotFound as exc:
        raise _not_found(exc) from None


@router.get("/api/experiments", response_model=list[ExperimentListItem])
def list_experiments(state: State, user: CurrentUser) -> list[dict[str, Any]]:
    """Saved experiment definitions: id, name, window, variants, metrics."""
    return [{"experiment_id": d.experiment_id, "name": d.name, "start": str(d.start),
             "end": str(d.end), "variants": d.variants,
             "metrics": [m.name for m in d.metrics]}
            for d in service.list_definitions(state)]


@router.post("/api/experiments", status_code=201, response_model=ExperimentDefinition)
def save_experiment(state: State, definition: dict[str, Any] = Body(...),
                    user: User = Depends(require("analyst"))) -> ExperimentDefinition:
    """Save (or replace) a definition (docs/experiments/analysis.md); it is analysed on
    whatever data the workspace holds."""
    return service.create(state, service.CreateParams(definition=definition))


@router.get("/api/experiments/{experiment_id}", response_model=ExperimentDefinition)
def get_experiment(experiment_id: str, state: State,
                   user: CurrentUser) -> ExperimentDefinition:
    """One saved definition."""
    return _definition(state, experiment_id)


@router.delete("/api/experiments/{experiment_id}", status_code=204, response_class=Response,
               responses={204: {"description": "deleted"}})
def delete_experiment(experiment_id: str, state: State,
                      user: User = Depends(require("analyst"))) -> Response:
    try:
        service.delete(state, service.ExperimentRef(experiment_id=experiment_id))
    except ExperimentNotFound as exc:
        raise _not_found(exc) from None
    return Response(status_code=204)


@router.get("/api/experiments/{experiment_id}/results", response_model=ResultResponse,
            response_model_exclude_unset=True)
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
    params = service.AnalyzeParams(experiment_id=experiment_id, multi_arm=multi_arm)
    try:
        result = service.analyze(state, params)
    except ExperimentNotFound as exc:
        raise _not_found(exc) from None
    return result.to_dict()
