"""Plugs the marketing area into the CLI (attribution only so far; no pages yet)."""

from shopscope.core.registry import Area

AREA = Area(
    name="marketing",
    package="shopscope.marketing",
    commands=(("attribution", "shopscope.marketing.commands:attribution_app"),),
)
