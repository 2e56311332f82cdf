"""Schemathesis against the OpenAPI spec: generated requests never get a 5xx."""

from __future__ import annotations

import gzip

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.store import Workspace


def _app():
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="shopscope-fuzz-"))
    head = root / "retail.csv"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        head.write_text("".join(next(src) for _ in range(3_001)), encoding="utf-8")
    ws = Workspace.create(root / "ws")
    ingest_file(ws, head, preset="online_retail")
    users = UserStore(ws.path)
    users.add("fuzz", "fuzz-password-1", "admin")
    token, _ = users.create_token("fuzz", "schemathesis")
    return create_app(ws), token


APP, TOKEN = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_server_errors(case):
    if case.path == "/api/logout" or (case.method == "DELETE" and "tokens" in case.path):
        pytest.skip("would end the fuzzing session's own credentials")
    case.call_and_validate(headers={"authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error])
