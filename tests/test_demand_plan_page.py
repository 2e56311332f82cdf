"""The replenishment page (issue 17, point 6) on the four-SKU workspace of
``test_demand_plan``: the list is the service's, the alerts are the SKUs whose cover is at
most their lead time, the export and both languages work, a workspace without stock counts
says what to load, and the page never reads a policy file named in its URL."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from shopscope.app import create_app
from shopscope.auth import UserStore
from shopscope.core.service import LocalContext
from shopscope.demand import service as svc
from tests import demand_shop
from tests.test_demand import _intermittent_rows
from tests.test_demand_plan import client, ws  # noqa: F401  (the shared fixtures)
from tests.test_web import PASSWORD, charts, client_for, login, text_of


def _rows(html: str, attr: str) -> list[str]:
    return re.findall(rf'<tr {attr}="([^"]+)">', html)


def test_list_and_alerts_are_the_plans(client, ws):  # noqa: F811
    plan = svc.plan(LocalContext(ws), svc.PlanParams(csl=0.9))
    r = client.get("/demand/plan", params={"csl": "0.9"})
    assert r.status_code == 200
    assert _rows(r.text, "data-key") == plan.orders["product_id"].tolist()
    qty = re.findall(r'<td class="num" data-col="qty">([^<]*)</td>', r.text)
    assert [float(q.replace(",", "")) for q in qty] == plan.orders["order_qty"].tolist()
    # the alerts by their definition: cover at most the lead time, with some demand
    f = plan.frame
    cover = pd.to_numeric(f["days_of_cover"])
    due = f[(cover <= pd.to_numeric(f["lead_time_days"])) & (pd.to_numeric(f["mean"]) > 0)]
    want = due.assign(c=cover).sort_values(["c", "product_id"])["product_id"].tolist()
    assert _rows(r.text, "data-alert") == want and len(want) >= 1
    assert text_of(r.text, "card-alerts") == str(len(want))
    assert text_of(r.text, "card-skus") == "4"
    bars = charts(r.text)["chart-alerts"]["data"][0]
    assert bars["y"][::-1] == want  # the fewest days of cover on top
    # the export link downloads the list the page shows
    link = re.search(r'href="([^"]+)" data-testid="export-csv"', r.text).group(1)
    csv = client.get(link.replace("&amp;", "&"))
    assert csv.status_code == 200
    assert pd.read_csv(io.StringIO(csv.text))["product_id"].tolist() == \
        plan.orders["product_id"].tolist()


def test_a_policy_path_in_the_url_is_ignored(client, tmp_path):  # noqa: F811
    # a page must not read server files: the policy file is a CLI option only
    secret = tmp_path / "policy.toml"
    secret.write_text("[default]\nlead_time_days = 99\n")
    plain = client.get("/demand/plan")
    poked = client.get("/demand/plan", params={"policy": str(secret)})
    assert poked.status_code == 200
    assert _rows(poked.text, "data-key") == _rows(plain.text, "data-key")
    assert "99" not in re.findall(r'<td class="num">([^<]*)</td>', poked.text)


def test_chinese_and_a_workspace_without_stock_counts(ws, tmp_path):  # noqa: F811
    users = UserStore(ws.path)
    if "zoe" not in {u.username for u in users.list()}:
        users.add("zoe", PASSWORD, "viewer", lang="zh")
    zh = client_for(create_app(ws))
    assert login(zh, "zoe").status_code == 303
    r = zh.get("/demand/plan")
    assert r.status_code == 200 and "补货清单" in r.text
    empty = demand_shop.workspace(tmp_path, _intermittent_rows())  # orders, no inventory
    try:
        c = client_for(create_app(empty))
        assert login(c, "ada").status_code == 303
        page = c.get("/demand/plan")
        assert page.status_code == 200
        assert "stock count" in text_of(page.text, "no-stock")
    finally:
        empty.close()


@pytest.mark.parametrize("query", [{"csl": "2"}, {"review": "-1"}, {"as_of": "nope"}])
def test_bad_plan_options_are_an_error_page(client, query):  # noqa: F811
    assert client.get("/demand/plan", params=query).status_code == 422
