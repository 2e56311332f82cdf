"""Plugs the data page: tables, loads and rejected rows into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name='data',
    package="shopscope.data",
    api=(
        'shopscope.data.http:router',
    ),
    pages=(
        'shopscope.data.pages:router',
    ),
    commands=(),
    nav=(
        NavItem('/data', 'nav.data', order=90, exact=True),
    ),
)
