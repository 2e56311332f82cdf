"""Experiments through the API, the CLI and the dashboard: the sample-size calculator
(hand-computed reference), and saved experiments analysed end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from scipy.stats import norm

from shopscope.api import create_app
from shopscope.auth import UserStore
from shopscope.store import Workspace

PASSWORDS = {"ann": "analyst-pass-123", "vic": "viewer-pass-123"}


def unpooled_n(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Per-arm n for a two-sided two-proportion z-test, unpooled variance (by hand)."""
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return math.ceil(z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    workspace = Workspace.create(tmp_path_factory.mktemp("exp") / "ws")
    users = UserStore(workspace.path)
    users.add("ann", PASSWORDS["ann"], "analyst")
    users.add("vic", PASSWORDS["vic"], "viewer", lang="zh")
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def app(ws):
    return create_app(ws)


def client(app, user: str | None = None) -> TestClient:  # noqa: ANN001
    c = TestClient(app, base_url="https://testserver")
    if user:
        assert c.post("/api/login", json={"username": user,
                                          "password": PASSWORDS[user]}).status_code == 200
    return c


def test_plan_api_matches_the_textbook_formula(app):
    assert client(app).get("/api/experiments/plan").status_code == 401
    c = client(app, "vic")
    body = c.get("/api/experiments/plan", params={
        "baseline": 0.10, "mde": 0.10, "daily_traffic": 2000}).json()
    assert unpooled_n(0.10, 0.11) == 14749
    assert body["plan"]["n_per_variant"] == 14749
    assert body["days"] == math.ceil(14749 * 2 / 2000)
    week = body["tradeoff"][0]  # 7 days: 7,000 per arm
    assert week["days"] == 7 and week["n_per_variant"] == 7000
    assert unpooled_n(0.10, 0.10 + week["mde_abs"]) == pytest.approx(7000, abs=1)
    three = c.get("/api/experiments/plan", params={
        "baseline": 0.10, "mde": 0.10, "variants": 3}).json()
    assert three["plan"]["n_per_variant"] == unpooled_n(0.10, 0.11, alpha=0.025)
    bad = c.get("/api/experiments/plan", params={"metric": "mean", "mde": 5})
    assert bad.status_code == 422 and "standard deviation" in bad.json()["error"]["message"]


def test_plan_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "shopscope.cli", "experiment", "plan",
                           "--baseline", "0.1", "--mde", "0.1", "--format", "json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["plan"]["n_per_variant"] == 14749
