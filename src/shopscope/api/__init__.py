"""REST API and dashboard server (FastAPI). Build the app with :func:`create_app`."""

from shopscope.api.app import create_app

__all__ = ["create_app"]
