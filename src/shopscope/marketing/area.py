"""Plugs the marketing area into the app, the CLI and the navigation. Its commands live in
four modules and show as one group:
``shopscope marketing channels|cohorts|attribution|budget``."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name="marketing",
    package="shopscope.marketing",
    api=("shopscope.marketing.http:router", "shopscope.marketing.http_channels:router",
         "shopscope.marketing.http_cohorts:router", "shopscope.marketing.http_budget:router"),
    pages=("shopscope.marketing.pages:router",),
    commands=(("marketing", "shopscope.marketing.commands_channels:marketing_app"),
              ("marketing", "shopscope.marketing.commands_cohorts:cohorts_app"),
              ("marketing", "shopscope.marketing.commands:attribution_app"),
              ("marketing", "shopscope.marketing.commands_budget:budget_app")),
    nav=(NavItem("/marketing", "nav.marketing", order=39),),
)
