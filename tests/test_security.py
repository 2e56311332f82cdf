"""Security findings of issue 13: body and cache bounds, PII pseudonyms, login rate limits
and CSRF, CSV formula injection, token revocation, headers, 4xx instead of 500, terminal
escapes."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from shopscope.api import create_app
from shopscope.api.deps import AppState, size_of
from tests.test_api import PASSWORDS, app, client, ws  # noqa: F401 - fixtures

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "cache-control",
                    "content-security-policy", "referrer-policy")


# -- bounded bodies, definitions and caches -------------------------------------------------
def test_large_bodies_get_413_with_a_reason(app):  # noqa: F811
    viewer = client(app, "vic")
    big = b'{"name": "x", "description": "' + b"a" * (2 << 20) + b'"}'
    r = viewer.post("/api/audiences/preview", content=big,
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"
    assert "1,048,576" in r.json()["error"]["message"]

    def chunks():  # no Content-Length: the bound counts streamed bytes
        for _ in range(40):
            yield b"a" * 65536

    r = viewer.post("/api/audiences/preview", content=chunks(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413
    # a declared length over the bound is refused before any byte is read
    r = viewer.post("/api/login", content=b"{}", headers={
        "content-type": "application/json", "content-length": str(200 << 20)})
    assert r.status_code == 413


def test_body_bound_is_configurable(ws, monkeypatch):  # noqa: F811
    small = create_app(ws, max_body=100)
    r = client(small).post("/api/login", json={"username": "vic", "password": "x" * 200})
    assert r.status_code == 413
    monkeypatch.setenv("SHOPSCOPE_MAX_BODY_BYTES", "5000000")
    roomy = create_app(ws)
    r = client(roomy).post("/api/login", content=b"{" + b" " * (2 << 20) + b"}",
                           headers={"content-type": "application/json"})
    assert r.status_code == 422  # read and parsed: the bound let 2 MiB through


@pytest.mark.parametrize("definition, where", [
    ({"name": "x", "filters": [{"field": "frequency", "op": "ge", "value": 1}] * 51},
     "filters"),
    ({"name": "x", "filters": [{"field": "country", "op": "in",
                                "value": [f"c{i}" for i in range(1001)]}]}, "1,001 values"),
    ({"name": "x", "filters": [{"field": "country", "op": "eq", "value": "a" * 501}]},
     "longer than 500"),
    ({"name": "x", "columns": ["customer_id"] * 201}, "columns"),
    ({"name": "x", "filters": [{"field": "country", "op": "in", "value": [["nested"]]}]},
     "filters.0"),
])
def test_definitions_are_bounded(app, definition, where):  # noqa: F811
    r = client(app, "vic").post("/api/audiences/preview", json=definition)
    assert r.status_code == 422, r.text
    assert where in r.json()["error"]["message"]


def test_cache_keys_are_hashes_and_the_cache_is_bounded_by_bytes(ws):  # noqa: F811
    state = AppState(workspace=ws, users=None, cache_bytes=3_000_000)  # type: ignore[arg-type]
    frame = lambda n: pd.DataFrame({"x": np.arange(n, dtype="int64")})  # noqa: E731
    huge_key = ("audience", "x" * 1_000_000)
    assert len(state.cached(huge_key, lambda: frame(10))) == 10
    assert all(isinstance(k, str) and len(k) == 64 for k in state.cache)
    for i in range(10):  # 10 × 800 kB into a 3 MB budget
        state.cached(("big", i), lambda: frame(100_000))
        assert state.cache_used <= 3_000_000
    assert len(state.cache) == 3  # 3 × ~800 kB; the oldest went first
    assert state.cache_used == sum(size_of(v) for v in state.cache.values())
    calls = []
    state.cached(("big", 9), lambda: calls.append(1))
    assert calls == []  # the newest is still there
    state.cached(("huge",), lambda: frame(1_000_000))  # 8 MB > budget: not kept
    assert state.cache_used <= 3_000_000 and len(state.cache) == 3


def test_size_of_counts_frames_by_their_buffers():
    frame = pd.DataFrame({"x": np.zeros(1000)})
    assert 8000 <= size_of(frame) <= 9000
    assert size_of({"a": frame, "b": [frame]}) < 2 * 8000 + 2000  # counted once


# -- security headers on every response -----------------------------------------------------
def test_api_responses_carry_security_headers(app):  # noqa: F811
    viewer = client(app, "vic")
    for r in (viewer.get("/api/me"), viewer.get("/api/nope"), client(app).get("/api/kpis"),
              viewer.get("/api/kpis", params={"grain": "decade"}),
              viewer.get("/api/health")):
        for h in SECURITY_HEADERS:
            assert h in r.headers, (r.request.url, h)
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["cache-control"] == "no-store"
    page = client(app, "vic").get("/")
    # pages keep their own (stricter for HTML) policy
    assert "script-src 'self'" in page.headers["content-security-policy"]
