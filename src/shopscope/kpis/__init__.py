"""The KPI area: shop KPIs by period and breakdown (queries), the overview page, the HTML
report and the KPI API.

Queries take ``tables`` (anything with ``.table(name) -> ibis.Table``, such as a
:class:`shopscope.store.Store`) plus typed parameters, and return an Ibis expression or a
small frozen result.
"""

from shopscope.kpis.queries import (
    METRICS,
    KpiResult,
    Metric,
    kpi_expr,
    kpis,
    summary,
)

__all__ = ["METRICS", "KpiResult", "Metric", "kpi_expr", "kpis", "summary"]
