"""Plugs the marketing area into the app and the CLI (no pages yet). Its commands live in
three modules and show as one group: ``shopscope marketing channels|cohorts|attribution``."""

from shopscope.core.registry import Area

AREA = Area(
    name="marketing",
    package="shopscope.marketing",
    api=("shopscope.marketing.http:router", "shopscope.marketing.http_channels:router",
         "shopscope.marketing.http_cohorts:router"),
    commands=(("marketing", "shopscope.marketing.commands_channels:marketing_app"),
              ("marketing", "shopscope.marketing.commands_cohorts:cohorts_app"),
              ("marketing", "shopscope.marketing.commands:attribution_app")),
)
