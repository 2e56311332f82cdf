"""The JSON the experiments API answers with, as pydantic models (its OpenAPI schema).

The shapes are those of the results' ``to_dict()`` methods, field for field and in the same
order. Numbers that are NaN or infinite in a result are ``null`` here. Rows whose columns
depend on the definition (daily series, sufficient statistics) declare every column that can
appear; the endpoints answer with ``response_model_exclude_unset`` so a column absent from a
result stays absent, and keep unforeseen keys (``extra="allow"``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shopscope.experiments.registry import ExperimentDefinition

Float = float | None  # NaN and infinities are written as null
Pair = list[float | None]  # an interval: [low, high]


class _Open(BaseModel):
    """A model that passes keys it does not declare through (counts and columns added
    later keep reaching clients)."""

    model_config = ConfigDict(extra="allow")


# -- the calculator ----------------------------------------------------------------------------
class PlanOut(BaseModel):
    """A sample-size plan (:class:`shopscope.experiments.planning.Plan`)."""

    metric: str
    n_per_variant: int
    n_exact: float
    variants: int
    total: int
    mde_abs: float
    mde_rel: float | None
    baseline: float | None
    sd: float | None
    alpha: float
    alpha_per_comparison: float
    power: float
    alternative: str
    method: str


class TradeoffOut(BaseModel):
    days: int
    n_per_variant: int
    mde_abs: float
    mde_rel: float | None


class PlanResponse(BaseModel):
    """The plan, the days it takes at the given traffic, the effect reachable by duration."""

    plan: PlanOut
    days: int | None
    tradeoff: list[TradeoffOut]


# -- saved definitions -----------------------------------------------------------------------
class ExperimentListItem(BaseModel):
    experiment_id: str
    name: str
    start: str
    end: str
    variants: list[str]
    metrics: list[str]


# -- results -------------------------------------------------------------------------------------
class AssignmentOut(_Open):
    """What the assignment log held (:func:`~shopscope.experiments.analysis.
    assignment_report`)."""

    rows: int
    units: int
    repeated_rows: int
    multi_arm_units: int
    multi_arm_policy: str
    excluded_units: int
    set_aside_at_ingest: int
    unknown_variants: dict[str, int]
    after_window_units: int
    analysed_units: int


class SrmOut(BaseModel):
    statistic: Float
    df: int
    p_value: Float
    mismatch: bool
    message: str
    observed: dict[str, int]
    expected: dict[str, float]
    threshold: float
    error: str | None


class ComparisonOut(BaseModel):
    metric: str
    variant: str
    control: str
    control_value: Float
    variant_value: Float
    abs_lift: Float
    abs_ci: Pair
    rel_lift: Float
    rel_ci: Pair | None
    p_value: Float
    method: str
    adjusted_p_value: Float
    extra: dict[str, float | int | str | None]
    error: str | None


class SegmentOut(BaseModel):
    """A comparison within one segment value (exploratory: not adjusted)."""

    segment: str
    segment_value: str
    exploratory: bool
    metric: str
    variant: str
    control: str
    control_value: Float
    variant_value: Float
    abs_lift: Float
    abs_ci: Pair
    rel_lift: Float
    rel_ci: Pair | None
    p_value: Float
    method: str
    adjusted_p_value: Float
    extra: dict[str, float | int | str | None]
    error: str | None


class BayesOut(BaseModel):
    metric: str
    variant: str
    control_value: Float
    variant_value: Float
    chance_to_win: Float
    expected_loss: Float
    expected_loss_control: Float
    abs_lift: Float
    abs_ci: Pair
    rel_lift: Float
    rel_ci: Pair | None
    ci_level: float
    prior: str
    method: str
    error: str | None


class SequentialPathOut(BaseModel):
    estimates: list[float | None]
    p_values: list[float | None]
    cis: list[Pair]
    stop_index: int | None
    tau2: Float
    alpha: float
    method: str


class SequentialOut(BaseModel):
    metric: str
    variant: str
    estimate: Float
    p_value: Float
    ci: Pair
    stop: bool
    tau2: Float
    alpha: float
    variance: Float
    method: str
    error: str | None
    path: SequentialPathOut | None


class DailyRow(_Open):
    """One day of the cumulative series; the sequential and group-sequential columns
    appear when the definition asks for them."""

    day: str
    metric: str
    variant: str
    n_control: int
    n_variant: int
    control_value: Float
    variant_value: Float
    abs_lift: Float
    ci_low: Float
    ci_high: Float
    rel_lift: Float
    always_valid_p: Float = None
    cs_low: Float = None
    cs_high: Float = None
    gs_z: Float = None
    gs_boundary: Float = None


class StatsRow(_Open):
    """Sufficient statistics of one metric × variant × segment value."""

    metric: str
    kind: str
    variant: str
    segment: str
    segment_value: str
    n: int
    x: Float = None
    sum: Float = None
    sum_sq: Float = None
    sum_y: Float = None
    sum_yy: Float = None
    sum_xy: Float = None
    cov_sum: Float = None
    cov_sum_sq: Float = None
    cov_cross: Float = None
    cap: Float = None
    cap_y: Float = None


class GroupSequentialOut(BaseModel):
    metric: str
    variant: str
    estimates: list[float | None]
    z: list[float | None]
    information_fractions: list[float | None]
    boundaries: list[float | None]
    crossed: list[bool]
    spent_alpha: list[float | None]
    stop_index: int | None
    alpha: float
    kind: str
    two_sided: bool
    planned_n_per_arm: float
    method: str
    errors: list[str | None]


class ResultResponse(BaseModel):
    """An experiment's analysis (:meth:`~shopscope.experiments.analysis.ExperimentResult.
    to_dict`): the definition and data version it ran on, then its findings."""

    experiment_id: str
    definition: ExperimentDefinition
    data_version: str | None
    engine: str | None
    counts: dict[str, int]
    assignment: AssignmentOut
    srm: SrmOut
    warnings: list[str]
    comparisons: list[ComparisonOut]
    cuped: list[ComparisonOut]
    bayes: list[BayesOut]
    sequential: list[SequentialOut]
    segments: list[SegmentOut]
    daily: list[DailyRow]
    stats: list[StatsRow]
    group_sequential: list[GroupSequentialOut]
