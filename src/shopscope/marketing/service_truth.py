"""Attribution checked against ground truth: journeys from the synthetic shop's journey
model (:mod:`shopscope.synth.journeys`), each model's credited shares against the true
incremental shares (:mod:`shopscope.marketing.truth`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pydantic import Field

from shopscope.core.service import Params
from shopscope.core.service import make as make  # what the adapters call as svc.make
from shopscope.marketing import attribution as at
from shopscope.marketing.service import Model
from shopscope.marketing.truth import score
from shopscope.synth.journeys import JourneyTruth, simulate


class TruthParams(Params):
    """How many journeys to simulate, the seed, and the models to score (their default
    settings: Markov of order 1, time decay by touches with half-life 7, 40/20/40)."""

    journeys: int = Field(100_000, ge=100, le=2_000_000)
    seed: int = Field(0, ge=0)
    models: tuple[Model, ...] = Field(at.MODELS, min_length=1)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class TruthResult:
    """``shares``: channel x (truth, models); ``errors``: channel x model absolute share
    errors; ``total``: model -> total absolute share error, smallest first; ``truth``: per
    channel lift, users touched, expected incremental conversions and share; ``sim``: the
    simulation (paths, expected and base conversions)."""

    params: TruthParams
    shares: pd.DataFrame
    errors: pd.DataFrame
    total: pd.Series
    truth: pd.DataFrame
    sim: JourneyTruth
    paths: int


def attribution_truth(params: TruthParams) -> TruthResult:
    """Simulate, attribute with every asked model, score against the truth."""
    sim = simulate(params.journeys, params.seed)
    p = sim.paths
    j = at.Journeys.from_paths(p["path"].str.split(" > ", regex=False).tolist(),
                               p["total_conversions"], p["total_conversion_value"],
                               p["total_null"])
    out = score(j, sim.truth["share"], params.models)
    return TruthResult(params, out.shares, out.errors, out.total, sim.truth, sim, len(p))
