"""The adapter kit every area's HTTP, page and CLI adapters share.

Request state and caches (:mod:`.deps`), page dependencies (:mod:`.pagedeps`), the
translator (:mod:`.i18n`), charts, filters, CLI formatting (:mod:`.clifmt`), the base
templates and static files, login and health routes. :func:`shopscope.ui.routes.mount`
adds the pages of every registered area, the static files and plotly.js (from the installed
plotly package: no CDN, works offline).
"""
