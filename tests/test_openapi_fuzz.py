"""Schemathesis against the OpenAPI spec: generated requests never get a 5xx, and every
JSON body of a successful response is valid against the response schema that the OpenAPI
document declares for it (checked with ``jsonschema`` when installed, else with
``jsonschema_rs``, which schemathesis brings)."""

from __future__ import annotations

import gzip
import json

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
DOC = APP.openapi()
#: Fail when an endpoint's JSON success response declares no schema (every endpoint has a
#: response model; downloads declare their media types instead).
REQUIRE_RESPONSE_SCHEMAS = True
JSON = "application/json"


def _validator(schema_: dict):
    """A JSON Schema 2020-12 validator whose ``#/components/...`` references resolve in
    the OpenAPI document (OpenAPI 3.1 schemas are JSON Schema 2020-12)."""
    root = {**schema_, "components": DOC.get("components", {})}
    try:
        import jsonschema
    except ImportError:
        import jsonschema_rs

        return jsonschema_rs.Draft202012Validator(root).validate
    return jsonschema.Draft202012Validator(root).validate


def _untyped(schema_: dict | None) -> bool:
    """No schema, or an object (or list of objects) with no declared fields."""
    if not schema_:
        return True
    if schema_.get("type") == "array":
        return _untyped(schema_.get("items"))
    return (schema_.get("type") == "object" and not schema_.get("properties")
            and schema_.get("additionalProperties", True) in (True, {}))


def _success_schema(path: str, method: str, status: int) -> dict | None:
    responses = DOC["paths"].get(path, {}).get(method.lower(), {}).get("responses", {})
    content = responses.get(str(status), {}).get("content", {})
    return content.get(JSON, {}).get("schema")


def _only_downloads(responses: dict) -> bool:
    """A download endpoint: it declares file types and no JSON schema for its 200."""
    content = responses.get("200", {}).get("content", {})
    return any(t != JSON for t in content) and not content.get(JSON, {}).get("schema")


def untyped_endpoints() -> list[str]:
    """``METHOD /path`` of every endpoint whose JSON 200 response declares no schema."""
    found = []
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            responses = op.get("responses", {})
            if "200" not in responses or _only_downloads(responses):
                continue
            if _untyped(responses["200"].get("content", {}).get(JSON, {}).get("schema")):
                found.append(f"{method.upper()} {path}")
    return sorted(found)


def check_response_schema(case, response) -> None:
    """A successful JSON body is valid against the declared schema (where one is)."""
    if not 200 <= response.status_code < 300:
        return
    if not response.headers.get("content-type", [""])[0].startswith(JSON):
        return
    declared = _success_schema(case.operation.path, case.method, response.status_code)
    if _untyped(declared):
        return
    _validator(declared)(json.loads(response.content))


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_server_errors(case):
    if case.path == "/api/logout" or (case.method == "DELETE" and "tokens" in case.path):
        pytest.skip("would end the fuzzing session's own credentials")
    response = case.call(headers={"authorization": f"Bearer {TOKEN}"})
    case.validate_response(response, checks=[not_a_server_error])
    check_response_schema(case, response)


def test_every_json_endpoint_declares_a_response_schema():
    missing = untyped_endpoints()
    if not REQUIRE_RESPONSE_SCHEMAS:
        pytest.skip(f"not enforced yet; without a response schema: {', '.join(missing)}")
    assert not missing, f"endpoints without a response schema: {', '.join(missing)}"


def test_the_schema_check_finds_a_wrong_body():
    """The check is not vacuous: a body that breaks the declared schema is refused."""
    declared = _success_schema("/api/kpis", "GET", 200)
    assert not _untyped(declared)
    with pytest.raises(Exception, match="page"):
        _validator(declared)({"grain": "month", "by": None, "items": [], "page_size": 1,
                              "total": 0})
    assert _untyped({}) and _untyped({"type": "object", "additionalProperties": True})
    assert not _untyped(_success_schema("/api/data/rejects", "GET", 200))
