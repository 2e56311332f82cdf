"""The store: a connection to the analytics engine through Ibis, and the workspace around it.

This is the only package that knows which engine runs the queries. Everything above it
receives Ibis tables and builds engine-free expressions.
"""

from shopscope.store.engine import Store, connect
from shopscope.store.workspace import Workspace, WorkspaceSettings

__all__ = ["Store", "Workspace", "WorkspaceSettings", "connect"]
