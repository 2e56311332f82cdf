"""The dashboard: server-rendered pages in English and Chinese, served by the API app.

:func:`shopscope.web.routes.mount` adds the pages (``/login``, ``/``, ``/data``), the
static files and plotly.js (from the installed plotly package: no CDN, works offline).
"""
