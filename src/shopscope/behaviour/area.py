"""Plugs behaviour: funnels, paths, retention, trends into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name='behaviour',
    package="shopscope.behaviour",
    api=(
        'shopscope.behaviour.http:router',
    ),
    pages=(
        'shopscope.behaviour.pages:router',
    ),
    commands=(
        ('behaviour', 'shopscope.behaviour.commands:behaviour_app'),
    ),
    nav=(
        NavItem('/behaviour/funnel', 'nav.behaviour', order=30, match='/behaviour'),
    ),
    warm=(
        'shopscope.behaviour.warm:funnel_tab',
        'shopscope.behaviour.warm:trends_tab',
        'shopscope.behaviour.warm:retention_tab',
        'shopscope.behaviour.warm:paths_tab',
    ),
)
