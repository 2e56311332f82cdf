"""Behaviour analytics over the ``events`` table: trends, funnels, retention, paths.

See docs/behaviour.md. Everything is computed in the engine (DuckDB, Spark) as Ibis
expressions; only the small answers come back as pandas frames.
"""

from shopscope.behaviour.common import (
    OrderEvents,
    Step,
    orders_as_events,
    parse_date,
    property_value,
    visitor,
    where_clause,
)
from shopscope.behaviour.funnels import (
    FunnelOptions,
    FunnelResult,
    funnel,
    funnel_dropped,
    funnel_trend,
    parse_window,
)
from shopscope.behaviour.paths import (
    PathOptions,
    PathResult,
    Sankey,
    path_counts,
    paths,
    sessionize,
)
from shopscope.behaviour.retention import (
    CohortResult,
    RetentionResult,
    repurchase_cohorts,
    retention,
)
from shopscope.behaviour.source import (
    DEFAULT_FUNNEL,
    EmptyReason,
    SourceChoice,
    choose_source,
    why_empty,
)
from shopscope.behaviour.trends import TREND_METRICS, TrendResult, trends

__all__ = [
    "DEFAULT_FUNNEL",
    "TREND_METRICS",
    "CohortResult",
    "EmptyReason",
    "FunnelOptions",
    "FunnelResult",
    "OrderEvents",
    "PathOptions",
    "PathResult",
    "RetentionResult",
    "Sankey",
    "SourceChoice",
    "Step",
    "TrendResult",
    "choose_source",
    "funnel",
    "funnel_dropped",
    "funnel_trend",
    "orders_as_events",
    "parse_date",
    "parse_window",
    "path_counts",
    "paths",
    "property_value",
    "repurchase_cohorts",
    "retention",
    "sessionize",
    "trends",
    "visitor",
    "where_clause",
    "why_empty",
]
