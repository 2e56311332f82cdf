"""The demand pages (issue 17, point 6) on the small workspace of ``test_demand_web``: the
ABC-XYZ matrix adds up to the service's classes, a cell lists its SKUs, the SKU page shows
the chosen model, the forecast points and the stock-out weeks, exports download, and both
languages render."""

from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
import pytest

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.core.service import LocalContext
from shopscope.demand import service as svc
from tests.test_demand_web import OUT, client, ws  # noqa: F401  (the shared fixtures)
from tests.test_web import PASSWORD, charts, client_for, login, text_of


def _keys(html: str) -> list[str]:
    return re.findall(r'<tr data-key="([^"]+)">', html)


def test_classes_page_matrix_adds_up_to_the_service(client, ws):  # noqa: F811
    out = svc.classes(LocalContext(ws), svc.ClassParams())
    r = client.get("/demand")
    assert r.status_code == 200
    figs = charts(r.text)
    heat = figs["chart-matrix"]["data"][0]
    # every series sits in one cell; the cells' revenue adds up to the total
    assert sum(map(sum, heat["customdata"])) == len(out.frame) == 4
    assert sum(map(sum, heat["z"])) == pytest.approx(out.total_revenue)
    # the pattern chart counts every series once
    assert sum(figs["chart-patterns"]["data"][0]["y"]) == len(out.frame)
    # the SKUs in revenue order, as the service ranks them
    assert _keys(r.text) == out.frame["product_id"].astype(str).tolist()
    assert text_of(r.text, "card-series") == "4"


def test_a_cell_lists_its_skus_and_the_export_holds_them_all(client, ws):  # noqa: F811
    out = svc.classes(LocalContext(ws), svc.ClassParams()).frame
    a = out[out["abc"] == "A"]
    x = a["xyz"].iloc[0]
    r = client.get("/demand", params={"abc": "A", "xyz": x})
    assert r.status_code == 200
    want = a[a["xyz"] == x]["product_id"].astype(str).tolist()
    assert _keys(r.text) == want
    csv = client.get("/api/demand/classes", params={"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    got = pd.read_csv(io.StringIO(csv.text), dtype={"product_id": str})
    assert sorted(got["product_id"]) == sorted(out["product_id"].astype(str))
    assert got.set_index("product_id")["abc"].to_dict() == out.set_index("product_id")[
        "abc"].to_dict()


def test_sku_page_shows_the_forecast_model_and_stockouts(client, ws):  # noqa: F811
    ctx = LocalContext(ws)
    # 70 days are too few weeks for the weekly default: 14 days ahead on daily demand
    params = svc.ForecastParams(grain="day", h=14, windows=2, skus=("A",))
    fc = svc.forecast(ctx, params)
    r = client.get("/demand/sku/A")
    assert r.status_code == 200
    cls = svc.classes(ctx, svc.ClassParams(skus=("A",))).frame.iloc[0]
    assert text_of(r.text, "card-class") == f"{cls['abc']}{cls['xyz']}"
    assert text_of(r.text, "card-model") == fc.chosen[cls["pattern"]]
    fig = charts(r.text)["chart-sku"]
    traces = {t["name"]: t for t in fig["data"]}
    forecast = traces["Forecast"]
    assert forecast["y"] == pytest.approx(fc.forecast["forecast"].tolist())
    assert len(forecast["x"]) == 14
    # A was out of stock on 10 and 11 January 2024
    stock = traces["Stock-out (demand censored)"]
    assert [dt.date.fromisoformat(d[:10]) for d in stock["x"]] == list(OUT)
    assert text_of(r.text, "card-stockouts") == "2"
    export = client.get("/api/demand/forecast", params={"h": 14, "windows": 2, "sku": "A",
                                                        "format": "csv"})
    rows = pd.read_csv(io.StringIO(export.text))
    assert rows["forecast"].tolist() == pytest.approx(fc.forecast["forecast"].tolist())


def test_pages_render_in_chinese_and_refuse_bad_input(client, ws):  # noqa: F811
    users = UserStore(ws.path)
    if "zoe" not in {u.username for u in users.list()}:
        users.add("zoe", PASSWORD, "viewer", lang="zh")
    zh = client_for(create_app(ws))
    assert login(zh, "zoe").status_code == 303
    r = zh.get("/demand")
    assert r.status_code == 200 and "<h1>需求预测与库存</h1>" in r.text
    r = zh.get("/demand/sku/A")
    assert r.status_code == 200
    assert {t["name"] for t in charts(r.text)["chart-sku"]["data"]} >= {"预测", "需求"}
    assert client.get("/demand", params={"grain": "month"}).status_code == 422
    missing = client.get("/demand/sku/NOPE")
    assert missing.status_code == 404
