"""Plugs customers, CLV and audiences into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name='customers',
    package="shopscope.customers",
    api=(
        'shopscope.customers.http:router',
        'shopscope.customers.http_audiences:router',
    ),
    pages=(
        'shopscope.customers.pages:router',
        'shopscope.customers.pages_audiences:router',
    ),
    commands=(
        ('customers', 'shopscope.customers.commands:customers_app'),
        ('audience', 'shopscope.customers.commands:audience_app'),
    ),
    nav=(
        NavItem('/customers', 'nav.customers', order=20),
        NavItem('/audiences', 'nav.audiences', order=50, exact=True),
    ),
    warm=(
        'shopscope.customers.warm:customers_page',
        'shopscope.customers.warm:audiences_page',
    ),
)
