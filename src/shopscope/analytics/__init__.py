"""Analytics: plain functions over the canonical tables, run by the engine through Ibis.

Every function takes ``tables`` (anything with ``.table(name) -> ibis.Table``, such as a
:class:`shopscope.store.Store`) plus typed parameters, and returns an Ibis expression or a
small frozen result.
"""

from shopscope.analytics.kpis import (
    METRICS,
    KpiResult,
    Metric,
    kpi_expr,
    kpis,
    summary,
)

__all__ = ["METRICS", "KpiResult", "Metric", "kpi_expr", "kpis", "summary"]
