"""Plugs KPIs and the overview page into the app, the CLI and the navigation."""

from shopscope.core.registry import Area, NavItem

AREA = Area(
    name='kpis',
    package="shopscope.kpis",
    api=(
        'shopscope.kpis.http:router',
    ),
    pages=(
        'shopscope.kpis.pages:router',
    ),
    top_commands=(
        ('kpi', 'shopscope.kpis.commands:kpi'),
        ('report', 'shopscope.kpis.commands:report'),
    ),
    nav=(
        NavItem('/', 'nav.overview', order=10, exact=True),
    ),
    warm=(
        'shopscope.kpis.warm:overview_page',
    ),
)
