"""Plugs the demand area into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name="demand",
    package="shopscope.demand",
    api=("shopscope.demand.http:router",),
    pages=("shopscope.demand.pages:router",),
    commands=(("demand", "shopscope.demand.commands:demand_app"),),
    nav=(NavItem("/demand", "nav.demand", order=38),),
)
