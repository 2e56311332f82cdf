"""Customer analytics, computed in the engine: per-customer summaries for the CLV
models, RFM scores and segments, lifecycle stages, tags and audiences.

The CLV and churn models fitted on the summaries live in :mod:`shopscope.customers.models`
(:class:`~shopscope.customers.models.BetaGeoModel`, …).
"""

from shopscope.customers.audiences import (
    AudienceDefinition,
    audience_expr,
    audience_stats,
    build_profile,
)
from shopscope.customers.clv import clv_columns
from shopscope.customers.lifecycle import (
    STAGES,
    LifecycleWindows,
    derive_windows,
    monthly_stages,
    reactivation_and_churn_rates,
    stages_as_of,
    transition_matrix,
)
from shopscope.customers.rfm import (
    classic_segment,
    eleven_segment,
    rfm_scores,
    rfm_table,
    segment_movement,
    segment_summary,
)
from shopscope.customers.storage import AudienceStore, export_audience
from shopscope.customers.summary import (
    HOLDOUT_COLUMNS,
    SUMMARY_COLUMNS,
    SummaryOptionError,
    TimeUnit,
    customer_summary,
)
from shopscope.customers.tags import TAGS, customer_tags

__all__ = [
    "HOLDOUT_COLUMNS", "STAGES", "SUMMARY_COLUMNS", "TAGS", "AudienceDefinition",
    "AudienceStore", "LifecycleWindows", "SummaryOptionError", "TimeUnit", "audience_expr",
    "audience_stats", "build_profile", "classic_segment", "clv_columns", "customer_summary",
    "customer_tags", "derive_windows", "eleven_segment", "export_audience", "monthly_stages",
    "reactivation_and_churn_rates", "rfm_scores", "rfm_table", "segment_movement",
    "segment_summary", "stages_as_of", "transition_matrix",
]
