"""The demand area: SKU demand series (netted, zero-filled, stock-outs censored), ABC / XYZ
/ Syntetos-Boylan classes, forecasts chosen per class with statsforecast, and the inventory
policy formulas (safety stock, reorder point, EOQ, order-up-to, days of cover).

Queries take ``tables`` (anything with ``.table(name) -> ibis.Table``) and return Ibis
expressions: the series are built and aggregated in the engine.
"""

from shopscope.demand.abcxyz import classify, matrix
from shopscope.demand.series import demand_series, series_stats

__all__ = ["classify", "demand_series", "matrix", "series_stats"]
