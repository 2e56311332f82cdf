"""Plugs the marketing area into the app and the CLI (attribution and cohort LTV so far;
no pages yet)."""

from shopscope.core.registry import Area

AREA = Area(
    name="marketing",
    package="shopscope.marketing",
    api=("shopscope.marketing.http:router", "shopscope.marketing.http_cohorts:router"),
    commands=(("attribution", "shopscope.marketing.commands:attribution_app"),
              ("cohorts", "shopscope.marketing.commands_cohorts:cohorts_app")),
)
