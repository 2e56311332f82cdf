"""Saved audiences over the API: roles, stats equal to the analytics, masked exports."""

from __future__ import annotations

import pandas as pd
import pytest

from shopscope.customers import audience_stats, build_profile
from shopscope.customers.audiences import parse_definition
from tests.test_api import app, client, ws  # noqa: F401 - fixtures

VIP = {"name": "vip", "description": "top spenders",
       "filters": [{"field": "m_score", "op": "ge", "value": 4}],
       "columns": ["customer_id", "email", "monetary"]}


def test_audience_lifecycle_over_the_api(app, ws):  # noqa: F811
    viewer, analyst = client(app, "vic"), client(app, "ann")
    assert viewer.post("/api/audiences", json=VIP).status_code == 403
    assert analyst.post("/api/audiences", json=VIP).status_code == 201
    assert "vip" in viewer.get("/api/audiences").json()
    stats = viewer.get("/api/audiences/vip/stats", params={"as_of": "2011-01-01"}).json()
    import datetime as dt

    expected = audience_stats(parse_definition(VIP),
                              build_profile(ws.store, dt.date(2011, 1, 1)))
    assert stats["size"] == expected.size > 0
    assert stats["monetary_sum"] == pytest.approx(expected.monetary_sum)
    assert viewer.get("/api/audiences/vip/export").status_code == 403
    csv = analyst.get("/api/audiences/vip/export", params={"as_of": "2011-01-01"})
    frame = pd.read_csv(pd.io.common.StringIO(csv.text), dtype=str)
    assert len(frame) == expected.size
    assert analyst.get("/api/audiences/vip/export", params={"pii": "raw"}).status_code == 403
    bad = analyst.post("/api/audiences", json={"name": "x", "filters": [
        {"field": "nope", "op": "eq", "value": 1}]})
    assert bad.status_code == 201  # fields are checked against the profile when it runs
    run = viewer.get("/api/audiences/x/stats")
    assert run.status_code == 422 and "nope" in run.json()["error"]["message"]
    assert viewer.get("/api/audiences/missing/stats").status_code == 404
    assert analyst.delete("/api/audiences/vip").status_code == 204
    assert "vip" not in viewer.get("/api/audiences").json()


def test_preview_filters_on_clv_without_saving(app, ws):  # noqa: F811
    import datetime as dt

    from shopscope.customers import clv_columns

    viewer = client(app, "vic")
    day = dt.date(2011, 1, 1)
    definition = {"name": "likely_alive", "filters": [
        {"field": "p_alive", "op": "ge", "value": 0.5},
        {"field": "frequency", "op": "ge", "value": 2}]}
    r = viewer.post("/api/audiences/preview", json=definition, params={"as_of": str(day)})
    assert r.status_code == 200, r.text
    # independently: CLV columns and RFM frequency joined in pandas
    clv = clv_columns(ws.store, day)
    profile = build_profile(ws.store, day).select("customer_id", "frequency").execute()
    both = profile.merge(clv, on="customer_id", how="left")
    chosen = both[(both.p_alive >= 0.5) & (both.frequency >= 2)]
    assert r.json()["size"] == len(chosen) > 0
    assert r.json()["clv_sum"] == pytest.approx(chosen.clv.sum())
    assert "likely_alive" not in viewer.get("/api/audiences").json()
    bad = viewer.post("/api/audiences/preview", json={"name": "b", "filters": [
        {"field": "p_alive", "op": "ge", "value": "high"}]})
    assert bad.status_code == 422 and "not a number" in bad.json()["error"]["message"]
