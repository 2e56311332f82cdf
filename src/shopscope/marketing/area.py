"""Plugs the marketing area into the app and the CLI (attribution only so far; no pages
yet)."""

from shopscope.core.registry import Area

AREA = Area(
    name="marketing",
    package="shopscope.marketing",
    api=("shopscope.marketing.http:router", "shopscope.marketing.http_channels:router"),
    commands=(("attribution", "shopscope.marketing.commands:attribution_app"),
              ("marketing", "shopscope.marketing.commands_channels:marketing_app")),
)
