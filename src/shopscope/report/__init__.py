"""Static HTML reports with plotly charts that open with no network."""

from shopscope.report.html import write_kpi_report

__all__ = ["write_kpi_report"]
