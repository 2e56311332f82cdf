"""The data area: what the workspace holds (tables, row counts, loads, rejected rows).

Its page (``/data``) and API (``/api/data/...``) are the operator's view of the platform's
store; it has no queries of its own beyond the store's catalogue.
"""
