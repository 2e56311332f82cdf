"""What every playbook area shares: the area registry and the table-source protocol.

The core knows no area: areas register themselves (``core.registry``) and the app, the CLI
and the navigation are assembled from that registry.
"""
