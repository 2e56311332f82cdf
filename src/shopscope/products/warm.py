"""The products page's warmer (see ``shopscope.ui.warmup``): ``/products`` without
filters, through the service keys the page uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopscope.products import service as svc
from shopscope.products.pages import PAGE_SIZE

if TYPE_CHECKING:
    from shopscope.ui.deps import AppState


def products_page(state: AppState) -> None:
    """The default product table and the overview (treemap, Pareto, 动销率)."""
    svc.product_table(state, svc.TableParams(limit=PAGE_SIZE, search=None, offset=0))
    svc.overview(state, svc.RangeParams())
    svc.categories(state)
