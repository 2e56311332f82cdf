"""The experiments service: every question the API, the pages and the CLI ask of this area.

Each function takes a context (the workspace's store, its saved definitions and a result
cache) and typed parameters, and returns a frozen result; the adapters only parse input
into the parameters and render what comes back, so the same question gets the same answer
everywhere. Cache keys are built here, from the parameters, and nowhere else.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import Field, ValidationError

from shopscope.core.service import Context, Params
from shopscope.errors import InputError, OptionError, ShopscopeError
from shopscope.experiments import planning
from shopscope.experiments.registry import (
    ExperimentDefinition,
    ExperimentStore,
    parse_definition,
)

if TYPE_CHECKING:
    import pandas as pd

    from shopscope.experiments.analysis import ExperimentResult
    from shopscope.experiments.stats import SrmResult
    from shopscope.store import Workspace

__all__ = [
    "AnalyzeParams", "CreateParams", "ExperimentRef", "Listed", "PlanParams", "PlanResult",
    "SummaryParams", "SummaryResult", "TradeoffPoint", "UpliftParams", "UpliftResult",
    "analyze", "comparison_frame", "create", "delete", "list_definitions", "overview",
    "parse_params", "plan", "saved_ids", "show", "summary", "uplift",
]

P = TypeVar("P", bound=Params)


class WorkspaceContext(Context, Protocol):
    """A context that also knows its workspace folder, where definitions are saved (both
    the served app's state and :class:`~shopscope.core.service.LocalContext` do)."""

    @property
    def workspace(self) -> Workspace: ...


def parse_params(cls: type[P], label: Callable[[str], str] = str, **values: Any) -> P:
    """``cls(**values)`` with a project error naming the first bad field (as ``label``
    spells it, e.g. ``--multi-arm`` for the CLI) and its value, for adapters whose input is
    not validated on the way in (the CLI, the page forms)."""
    try:
        return cls(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(label(str(p)) for p in first["loc"])
        got = first.get("input")
        if first["type"] == "literal_error":  # an unknown choice: the choices as the hint
            raise OptionError(f"unknown {where} {got!r}",
                              hint=first["ctx"]["expected"].replace("'", "")) from None
        raise OptionError(f"{where}: {first['msg'].removeprefix('Value error, ')}"
                          + ("" if isinstance(got, dict) else f" (got {got!r})")) from None


# -- the sample-size calculator ----------------------------------------------------------------
class PlanParams(Params):
    """A sample-size question. The bounds are the API's (what a plan can be solved for is
    checked further by :mod:`~shopscope.experiments.planning`, with its own messages)."""

    metric: Literal["proportion", "mean"] = "proportion"
    baseline: float | None = Field(default=None, description=(
        "control conversion rate (proportion) or mean (mean metric, optional)"))
    sd: float | None = Field(default=None, gt=0, description="per-unit standard deviation")
    mde: float = Field(default=0.1, description="minimum detectable effect")
    relative: bool = True
    alpha: float = Field(default=0.05, gt=0, lt=1)
    power: float = Field(default=0.8, gt=0, lt=1)
    variants: int = Field(default=2, ge=2, le=20)
    alternative: Literal["two-sided", "one-sided"] = "two-sided"
    daily_traffic: float | None = Field(default=None, gt=0)
    share: float = Field(default=1.0, gt=0, le=1)


@dataclass(frozen=True)
class TradeoffPoint:
    """The effect a test of ``days`` days (``n_per_variant`` units an arm) can detect."""

    days: int
    n_per_variant: int
    mde_abs: float
    mde_rel: float | None


@dataclass(frozen=True)
class PlanResult:
    """A plan, the days it takes at the given traffic (None without traffic), and the
    effect reachable by each duration from one to eight weeks (empty without traffic)."""

    plan: planning.Plan
    days: int | None
    tradeoff: tuple[TradeoffPoint, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "days": self.days,
                "tradeoff": [{"days": p.days, "n_per_variant": p.n_per_variant,
                              "mde_abs": p.mde_abs, "mde_rel": p.mde_rel}
                             for p in self.tradeoff]}


def plan(ctx: Context | None, params: PlanParams) -> PlanResult:
    """Units per variant (and days, given daily traffic) to detect ``mde`` with the given
    power; variants beyond two split alpha (Bonferroni). A plan needs no data: ``ctx`` is
    only its cache (None computes)."""
    if ctx is None:
        return _plan(params)
    return ctx.cached(("experiments.plan", params.cache_key()), lambda: _plan(params))


def _plan(q: PlanParams) -> PlanResult:
    common: dict[str, Any] = {"alpha": q.alpha, "power": q.power, "variants": q.variants,
                              "alternative": q.alternative}
    if q.metric == "proportion":
        if q.baseline is None:
            raise OptionError("a proportion plan needs the baseline rate",
                              hint="e.g. baseline=0.05 for a 5% conversion rate")
        found = planning.sample_size_proportions(q.baseline, q.mde, relative=q.relative,
                                                 **common)
    else:
        if q.sd is None:
            raise OptionError("a mean plan needs the per-unit standard deviation",
                              hint="e.g. sd=120 for spend per customer")
        found = planning.sample_size_means(q.sd, q.mde, relative=q.relative, mean=q.baseline,
                                           **common)
    if not q.daily_traffic:
        return PlanResult(found, None, ())
    days = planning.duration_days(found.n_per_variant, q.daily_traffic, q.variants, q.share)
    points = []
    for weeks in range(1, 9):
        n = q.daily_traffic * q.share * 7 * weeks / q.variants
        if not 3 <= n <= planning.MAX_UNITS:  # outside what a plan can be solved for
            continue
        if q.metric == "proportion":
            assert q.baseline is not None  # checked above
            reach = planning.mde_proportions(n, q.baseline, **common)
        else:
            assert q.sd is not None  # checked above
            reach = planning.mde_means(n, q.sd, mean=q.baseline, **common)
        points.append(TradeoffPoint(7 * weeks, int(n), reach.mde_abs, reach.mde_rel))
    return PlanResult(found, days, tuple(points))


# -- saved definitions ---------------------------------------------------------------------------
class ExperimentRef(Params):
    """One saved experiment, by id."""

    experiment_id: str


class CreateParams(Params):
    """A definition to save (or replace): its JSON text or the parsed JSON object. It is
    validated by :func:`~shopscope.experiments.registry.parse_definition`, whose messages
    name the bad field."""

    definition: dict[str, Any] | str


def _store(ctx: WorkspaceContext) -> ExperimentStore:
    return ExperimentStore(ctx.workspace.path)


def saved_ids(ctx: WorkspaceContext) -> tuple[str, ...]:
    """The ids of the saved definitions, sorted, without reading them (a file broken by
    hand still shows up, and can be deleted)."""
    return tuple(_store(ctx).list())


def list_definitions(ctx: WorkspaceContext) -> tuple[ExperimentDefinition, ...]:
    """The saved definitions, sorted by id."""
    store = _store(ctx)
    return tuple(store.load(experiment_id) for experiment_id in store.list())


def show(ctx: WorkspaceContext, params: ExperimentRef) -> ExperimentDefinition:
    """One saved definition (:class:`~.registry.ExperimentNotFound` if there is none)."""
    return _store(ctx).load(params.experiment_id)


def create(ctx: WorkspaceContext, params: CreateParams) -> ExperimentDefinition:
    """Validate and save a definition; it is analysed on whatever data the workspace
    holds."""
    parsed = parse_definition(params.definition)
    _store(ctx).save(parsed)
    return parsed


def delete(ctx: WorkspaceContext, params: ExperimentRef) -> None:
    """Delete a saved definition (the data stays), even one whose file no longer reads;
    unknown ids raise ExperimentNotFound."""
    _store(ctx).delete(params.experiment_id)


# -- analysis ----------------------------------------------------------------------------------
class AnalyzeParams(Params):
    """The analysis of a saved experiment. ``multi_arm`` overrides the definition's policy
    for units logged in more than one arm (None: the definition's own)."""

    experiment_id: str
    multi_arm: Literal["exclude", "first"] | None = None


def analyze(ctx: WorkspaceContext, params: AnalyzeParams) -> ExperimentResult:
    """SRM check, comparisons, CUPED, Bayesian and sequential results, segments and the
    daily series (:func:`shopscope.experiments.analysis.analyze`) of a saved experiment."""
    return _analyze(ctx, params, show(ctx, ExperimentRef(experiment_id=params.experiment_id)))


def _analyze(ctx: WorkspaceContext, params: AnalyzeParams,
             definition: ExperimentDefinition) -> ExperimentResult:
    from shopscope.experiments.analysis import SampleRatioMismatchWarning
    from shopscope.experiments.analysis import analyze as run

    if params.multi_arm is not None and params.multi_arm != definition.multi_arm:
        definition = definition.model_copy(update={"multi_arm": params.multi_arm})

    def compute() -> ExperimentResult:
        with warnings.catch_warnings():  # the result carries the SRM warning itself
            warnings.simplefilter("ignore", SampleRatioMismatchWarning)
            return run(ctx.store, definition)

    # the saved definition joins the key: replacing it under the same id recomputes, as a
    # new load does (the cache keys by data version itself)
    key = ("experiments.analyze", params.cache_key(), definition.model_dump_json())
    return ctx.cached(key, compute)


def comparison_frame(result: ExperimentResult) -> pd.DataFrame:
    """One row per metric × variant: values, lift with its interval, p and adjusted p,
    chance to win, the CUPED lift and its variance cut (the CLI's table and exports)."""
    import pandas as pd

    bayes = {(b.metric, b.variant): b.result for b in result.bayes}
    cuped = {(c.metric, c.variant): c for c in result.cuped}
    rows = []
    for c in result.comparisons:
        b, cu = bayes.get((c.metric, c.variant)), cuped.get((c.metric, c.variant))
        rows.append({
            "metric": c.metric, "variant": c.variant, "control": c.control_value,
            "value": c.variant_value, "abs_lift": c.abs_lift, "abs_low": c.abs_ci[0],
            "abs_high": c.abs_ci[1], "rel_lift": c.rel_lift,
            "p_value": c.p_value, "adjusted_p": c.adjusted_p_value,
            "chance_to_win": b.chance_to_win if b else None,
            "cuped_abs_lift": cu.abs_lift if cu else None,
            "variance_reduction": cu.extra.get("variance_reduction") if cu else None,
            "error": c.error})
    return pd.DataFrame(rows, columns=["metric", "variant", "control", "value", "abs_lift",
                                       "abs_low", "abs_high", "rel_lift", "p_value",
                                       "adjusted_p", "chance_to_win", "cuped_abs_lift",
                                       "variance_reduction", "error"])


@dataclass(frozen=True)
class Listed:
    """A saved experiment with its analysis, or why it has none (``error``, ``hint``)."""

    definition: ExperimentDefinition
    result: ExperimentResult | None
    error: str | None = None
    hint: str | None = None


def overview(ctx: WorkspaceContext) -> tuple[Listed, ...]:
    """Every saved experiment analysed with its own policy; one that cannot be analysed
    keeps its place in the list with the reason."""
    out = []
    for d in list_definitions(ctx):
        try:
            result = _analyze(ctx, AnalyzeParams(experiment_id=d.experiment_id), d)
        except ShopscopeError as exc:
            out.append(Listed(d, None, exc.message, exc.hint))
        else:
            out.append(Listed(d, result))
    return tuple(out)


# -- a test run elsewhere ------------------------------------------------------------------------
class SummaryParams(Params):
    """A per-variant summary table (CSV: variant, [metric], n, conversions | sum, sum_sq)."""

    table: Path
    control: str | None = None
    correction: Literal["holm", "bh"] = "holm"
    alpha: float = Field(default=0.05, gt=0, lt=1)


@dataclass(frozen=True, eq=False)  # holds a data frame
class SummaryResult:
    """The split check and one row per metric × variant
    (:func:`~shopscope.experiments.summary.analyze_summary`); ``title`` names the table and
    the control."""

    srm: SrmResult
    frame: pd.DataFrame
    title: str


def summary(ctx: Context | None, params: SummaryParams) -> SummaryResult:
    """Analyse a test run elsewhere from its summary table. Not cached: the file may
    change under the same name, and reading it is the cheap part."""
    import pandas as pd

    from shopscope.experiments.summary import analyze_summary

    if not params.table.exists():
        raise InputError(f"{params.table}: no such file")
    srm, frame = analyze_summary(pd.read_csv(params.table), control=params.control,
                                 alpha=params.alpha, correction=params.correction)
    title = f"{params.table.name}: against {params.control or 'the first variant'}"
    return SummaryResult(srm, frame, title)


# -- uplift targeting ----------------------------------------------------------------------------
class UpliftParams(Params):
    """An uplift model to train on a unit-level file (CSV or Parquet: one row per unit with
    its arm, outcome and features), checked on a held-out share against random targeting."""

    data: Path
    treatment: str
    treated: str
    control: str
    outcome: str
    features: tuple[str, ...] = Field(min_length=1)
    unit: str | None = None
    learner: Literal["two_model", "x", "transformed"] = "two_model"
    base: Literal["gbm", "linear"] = "gbm"
    holdout: float = Field(default=0.3, gt=0, lt=1)
    top_share: float = Field(default=0.3, gt=0, le=1)
    seed: int = 0


@dataclass(frozen=True, eq=False)  # holds a data frame
class UpliftResult:
    """The held-out Qini coefficient, the 95th percentile of the Qini with shuffled arms
    (the bar to beat), and the audience: the ``top_share`` of all units with the highest
    predicted uplift, ranked (a model refitted on every unit)."""

    qini: float
    random_bar: float
    units: int
    audience: pd.DataFrame

    @property
    def beats_random(self) -> bool:
        return self.qini > self.random_bar


def uplift(ctx: Context | None, params: UpliftParams) -> UpliftResult:
    """Train, evaluate against shuffled arms on the held-out split, and rank every unit.
    Not cached: the file lies outside the workspace (its data version says nothing)."""
    import ibis
    import numpy as np
    import pandas as pd

    from shopscope.experiments import uplift as U

    q = params
    if not q.data.exists():
        raise InputError(f"{q.data}: no such file")
    con = ibis.duckdb.connect()
    table = (con.read_parquet(str(q.data)) if q.data.suffix == ".parquet"
             else con.read_csv(str(q.data)))
    frame = U.training_frame(table, treatment=q.treatment, treated=q.treated,
                             control=q.control, outcome=q.outcome, features=list(q.features),
                             unit=q.unit)
    X = pd.get_dummies(frame.X, dtype=float)  # categorical features one-hot
    binary = set(np.unique(frame.y)) <= {0.0, 1.0}
    if q.base == "linear":
        from sklearn.linear_model import LogisticRegression, Ridge

        est = LogisticRegression(max_iter=500) if binary else Ridge()
    else:
        est = None  # the learners' defaults: small gradient boosting models
    models = {"two_model": lambda: U.TwoModelUplift(estimator=est),
              "x": lambda: U.XLearnerUplift(outcome_estimator=est),
              "transformed": lambda: U.TransformedOutcomeUplift(
                  estimator=None if binary or q.base == "gbm" else est)}
    rng = np.random.default_rng(q.seed)
    test = rng.random(len(X)) < q.holdout
    model = models[q.learner]().fit(X[~test], frame.treatment[~test], frame.y[~test])
    score = model.predict_uplift(X[test])
    qini = U.qini_coefficient(frame.y[test], frame.treatment[test], score)
    shuffled = [U.qini_coefficient(frame.y[test], rng.permutation(frame.treatment[test]),
                                   score) for _ in range(100)]
    bar = float(np.quantile(shuffled, 0.95))
    model = models[q.learner]().fit(X, frame.treatment, frame.y)  # all data for the audience
    ids = frame.ids if frame.ids is not None else np.arange(len(X))
    audience = U.uplift_audience(model, X, ids, top_share=q.top_share,
                                 id_column=q.unit or "row")
    return UpliftResult(float(qini), bar, len(X), audience)
