"""Plugs the demand area into the app and the CLI (no pages yet)."""

from shopscope.core.registry import Area

AREA = Area(
    name="demand",
    package="shopscope.demand",
    api=("shopscope.demand.http:router",),
    commands=(("demand", "shopscope.demand.commands:demand_app"),),
)
