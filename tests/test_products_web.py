"""The products API, pages and CLI on a small synthetic shop (issue 16, points 1 and 2):
the same numbers as the service, totals equal to the KPI API's, downloads, and bad input
answered with 422/404, never a 500."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from shopscope.app import create_app
from shopscope.errors import OptionError
from tests.shops import synth_product_shop
from tests.test_web import client_for, login


@pytest.fixture(scope="module")
def shop_ws(tmp_path_factory):
    ws = synth_product_shop(tmp_path_factory.mktemp("products-web"),
                            {"ada": ("admin", None), "li": ("analyst", "zh")})
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def client(shop_ws):
    c = client_for(create_app(shop_ws))
    assert login(c, "ada").status_code == 303
    return c


def test_product_api_adds_up_to_the_kpi_api(client):
    body = client.get("/api/products", params={"limit": 5}).json()
    assert len(body["items"]) == 5 and body["matched"] > 5
    gmvs = [i["values"]["gmv"] for i in body["items"]]
    assert gmvs == sorted(gmvs, reverse=True)
    assert all(len(i["sparkline"]) == len(body["periods"]) for i in body["items"])
    kpi = client.get("/api/kpis/summary").json()
    assert body["totals"]["gmv"] == pytest.approx(kpi["gmv"])
    assert body["totals"]["net_sales"] == pytest.approx(kpi["net_sales"])
    cats = client.get("/api/products", params={"level": "category"}).json()
    assert cats["totals"]["gmv"] == pytest.approx(kpi["gmv"])
    # the first month (both APIs take the last day included)
    june = client.get("/api/products", params={"start": "2023-06-01", "end": "2023-06-30"})
    kpi_june = client.get("/api/kpis/summary",
                          params={"start": "2023-06-01", "end": "2023-06-30",
                                  "end_inclusive": "true"}).json()
    assert june.json()["totals"]["gmv"] == pytest.approx(kpi_june["gmv"])


def test_downloads_hold_every_matching_row(client):
    csv = client.get("/api/products", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(csv.text))
    assert len(frame) == client.get("/api/products").json()["matched"]
    parquet = client.get("/api/products/rules", params={"format": "parquet",
                                                        "min_support": 0.002})
    rules = pd.read_parquet(io.BytesIO(parquet.content))
    assert {"antecedents", "consequents", "lift", "conviction"} <= set(rules.columns)


def test_rules_bundles_and_detail(client):
    body = client.get("/api/products/rules", params={"min_support": 0.002,
                                                     "limit": 10}).json()
    lifts = [r["lift"] for r in body["rules"]]
    assert lifts == sorted(lifts, reverse=True) and all(x >= 1 for x in lifts)
    assert body["baskets"] > 0
    bundles = client.get("/api/products/bundles", params={"min_support": 0.002}).json()
    values = [b["added_value"] for b in bundles["bundles"]]
    assert values == sorted(values, reverse=True)
    top = client.get("/api/products", params={"limit": 1}).json()["items"][0]
    d = client.get(f"/api/products/{top['product_id']}").json()
    assert d["performance"]["gmv"] == pytest.approx(top["values"]["gmv"])
    assert d["funnel"]["viewers"] >= d["funnel"]["purchasers"]
    assert sum(row["gmv"] for row in d["trend"]) == pytest.approx(top["values"]["gmv"])


@pytest.mark.parametrize(("url", "status"), [
    ("/api/products?sort=bogus", 422),
    ("/api/products?start=2023-05-01&end=2023-04-01", 422),
    ("/api/products?start=31/12/2023", 422),
    ("/api/products/rules?min_support=0", 422),
    ("/api/products/no-such-sku", 404),
    ("/products?sort=bogus", 422),
    ("/products?start=2023-05-01&end=2023-04-01", 422),
    ("/products/bundles?min_support=2", 422),
    ("/products/no-such-sku", 404),
])
def test_bad_input_is_a_clear_error(client, url, status):
    r = client.get(url)
    assert r.status_code == status, r.text[:300]


def test_pages_in_both_languages(client, shop_ws):
    zh_client = client_for(create_app(shop_ws))
    assert login(zh_client, "li").status_code == 303
    en = client.get("/products")
    assert en.status_code == 200 and "Products" in en.text
    assert 'data-testid="product-table"' in en.text and "<polyline" in en.text
    zh = zh_client.get("/products")
    assert "商品分析" in zh.text and "动销率" in zh.text
    top = client.get("/api/products", params={"limit": 1}).json()["items"][0]["product_id"]
    detail = zh_client.get(f"/products/{top}")
    assert detail.status_code == 200 and "经常一起购买" in detail.text
    bundles = client.get("/products/bundles?min_support=0.002")
    assert bundles.status_code == 200 and 'data-testid="rules"' in bundles.text


def test_cli_commands(shop_ws, tmp_path):
    from typer.testing import CliRunner

    from shopscope.cli import _register_subcommands, app

    if not any(g.name == "products" for g in app.registered_groups):
        _register_subcommands()
    path = str(shop_ws.path)
    runner = CliRunner()
    out = tmp_path / "t.csv"
    r = runner.invoke(app, ["products", "table", "-w", path, "--format", "csv",
                            "--output", str(out)])
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(out)
    assert list(frame["gmv"]) == sorted(frame["gmv"], reverse=True)
    top = str(frame["product_id"].iloc[0])
    for args in (["detail", top], ["rules", "--min-support", "0.002"], ["bundles"]):
        r = runner.invoke(app, ["products", *args, "-w", path])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["products", "table", "-w", path, "--start", "2023-05-01",
                            "--end", "2023-04-01"])
    # main() prints an OptionError as one line and exits with 2
    assert isinstance(r.exception, OptionError) and "--start comes after --end" in str(
        r.exception)
