"""Plugs the products area into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name="products",
    package="shopscope.products",
    api=("shopscope.products.http:router",),
    pages=("shopscope.products.pages:router",),
    commands=(("products", "shopscope.products.commands:products_app"),
              ("recommend", "shopscope.products.commands_recs:recommend_app")),
    nav=(NavItem("/products", "nav.products", order=35),),
    warm=("shopscope.products.warm:products_page",),
)
