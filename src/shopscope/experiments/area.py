"""Plugs experiments into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name='experiments',
    package="shopscope.experiments",
    api=(
        'shopscope.experiments.http:router',
    ),
    pages=(
        'shopscope.experiments.pages:router',
    ),
    commands=(
        ('experiment', 'shopscope.experiments.commands:experiment_app'),
    ),
    nav=(
        NavItem('/experiments', 'nav.experiments', order=40),
    ),
    warm=(
        'shopscope.experiments.warm:experiments_page',
    ),
)
