"""The products area: SKU and category performance, frequently bought together and
bundles, and personalised recommendations (``shopscope.products.recommend``, evaluated by
``shopscope.products.evaluate``).

Queries take ``tables`` (anything with ``.table(name) -> ibis.Table``) and a window of
naive datetimes, and return Ibis expressions: everything is counted in the engine.
"""

from shopscope.products.baskets import bundles, itemsets, rules
from shopscope.products.metrics import performance, unattributed

__all__ = ["bundles", "itemsets", "performance", "rules", "unattributed"]
