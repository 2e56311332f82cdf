"""Shared fixtures: paths to the real data sets (skip when absent) and fresh workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """A file from ../shared/data, or skip the test when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def workspace(tmp_path):
    from shopscope.store import Workspace

    ws = Workspace.create(tmp_path / "ws")
    yield ws
    ws.close()


def api_client(app, user: str | None = None, password: str | None = None):  # noqa: ANN001, ANN201
    """A TestClient over HTTPS (the session cookie is Secure), signed in as ``user`` when
    given, with the session's CSRF token set for requests that change something."""
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver")
    if user:
        r = c.post("/api/login", json={"username": user, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c
