"""The products area: SKU and category performance, frequently bought together and
bundles, and personalised recommendations (``shopscope.products.recommend``, evaluated by
``shopscope.products.evaluate``).

Queries take ``tables`` (anything with ``.table(name) -> ibis.Table``) and a window of
naive datetimes, and return Ibis expressions: everything is counted in the engine.
"""

from shopscope.products.baskets import bundles, itemsets, rules
from shopscope.products.metrics import performance, unattributed
from shopscope.products.recs_service import (
    CustomerNotFound,
    NoModel,
    PiiRefused,
    RecsForParams,
    recommend_for,
)

__all__ = ["CustomerNotFound", "NoModel", "PiiRefused", "RecsForParams", "bundles",
           "itemsets", "performance", "recommend_for", "rules", "unattributed"]
