"""Audiences on the KPI shop (tests/kpi_shop.py) plus a customers table with PII: members and
stats by hand, PII masked in exports by default, saved definitions, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from shopscope.customers.audiences import (
    AudienceDefinition,
    AudienceError,
    AudienceNotFound,
    Filter,
    audience_expr,
    audience_stats,
    build_profile,
    parse_definition,
)
from shopscope.customers.lifecycle import LifecycleWindows
from shopscope.customers.storage import AudienceStore, export_audience
from shopscope.schema import get_table
from shopscope.store import connect
from tests.kpi_shop import load

W = LifecycleWindows(new_days=30, active_days=60, churn_days=120)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "customers.md"

CUSTOMERS = [
    # c3 has no customers row: a buyer known only from orders.
    ("c1", "2023-12-01", "jane@shop.cn", "+86 138 0013 8000", "Jane", "London"),
    ("c2", "2023-12-05", "bob@mail.fr", "06 12 34 56 78", "Bob", "Paris"),
    ("c4", "2024-02-20", "li@qq.com", None, "Li", "London"),
    ("p5", "2024-02-01", "pat@x.com", "+44 20 7946 0000", "Pat", None),
]
CLV = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "clv": [300.0, 50.0, 120.0],
                    "p_alive": [0.9, 0.4, 0.8]})


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    store = connect("duckdb://")
    load(store, tmp_path_factory.mktemp("audience_shop"))
    rows = [{"customer_id": c, "first_seen_at": dt.datetime.fromisoformat(s), "email": e,
             "phone": ph, "name": n, "region": r} for c, s, e, ph, n, r in CUSTOMERS]
    schema = get_table("customers").ibis_schema().to_pyarrow()
    store.backend.create_table("customers", pa.Table.from_pylist(rows, schema=schema))
    return store


@pytest.fixture(scope="module")
def profile(shop):
    return build_profile(shop, "2024-03-01", windows=W, extra=ibis.memtable(CLV))


def _members(definition, profile):
    return sorted(audience_expr(definition, profile).execute().customer_id)


def test_profile_by_hand(profile):
    got = profile.execute().set_index("customer_id").sort_index()
    assert list(got.index) == ["c1", "c2", "c3", "c4", "p5"]
    # As of 2024-03-01 with windows 30/60/120 (RFM values as in test_rfm.py):
    # c1 first Jan 5 (56 days), last Feb 3 (27 days) -> active; c2 last Jan 28 (33) -> active;
    # c3 only Feb 14 (16 days) -> new; c4 (only a cancelled order) and p5 -> prospects.
    assert got.stage.tolist() == ["active", "active", "new", "prospect", "prospect"]
    assert got.days_since.tolist()[:3] == [27, 33, 16]
    assert got.monetary.tolist()[:3] == pytest.approx([115.0, 65.0, 72.0])
    assert got.monetary.isna().tolist()[3:] == [True, True]
    assert got.classic_segment.tolist()[:3] == ["important_retention", "general_retention",
                                                "general_development"]
    # Tags: c1 toys 70 vs books 20 + 60 -> books; c2 books; c3 toys.
    assert got.preferred_category.tolist()[:3] == ["books", "books", "toys"]
    assert got.region.tolist()[:2] == ["London", "Paris"]
    assert pd.isna(got.loc["c3", "email"])  # no customers row
    assert got.clv.tolist()[:3] == [300.0, 50.0, 120.0]
    assert got.clv.isna().tolist()[3:] == [True, True]


def test_filters_members_and_stats_by_hand(profile):
    vip = AudienceDefinition(name="vip", filters=[
        Filter(field="stage", op="in", value=["active", "new"]),
        Filter(field="monetary", op="ge", value=70)])
    assert _members(vip, profile) == ["c1", "c3"]  # c2 has 65
    s = audience_stats(vip, profile)
    assert (s.size, s.customers, s.buyers, s.code) == (2, 5, 2, "ok")
    assert s.share == pytest.approx(0.4)
    assert s.monetary_sum == pytest.approx(115 + 72)
    assert s.monetary_mean == pytest.approx(93.5)
    assert s.clv_sum == pytest.approx(300 + 120)

    prospects = AudienceDefinition(name="prospects",
                                   filters=[Filter(field="days_since", op="is_null")])
    assert _members(prospects, profile) == ["c4", "p5"]
    s = audience_stats(prospects, profile)
    assert (s.size, s.buyers, s.monetary_sum, s.monetary_mean, s.clv_sum) == (
        2, 0, 0.0, None, 0.0)

    # ne and not_in also match missing values (prospects have no preferred category).
    not_toys = AudienceDefinition(name="not_toys", filters=[
        Filter(field="preferred_category", op="ne", value="toys")])
    assert _members(not_toys, profile) == ["c1", "c2", "c4", "p5"]
    not_in = AudienceDefinition(name="n", filters=[
        Filter(field="region", op="not_in", value=["London"])])
    assert _members(not_in, profile) == ["c2", "c3", "p5"]
    # Dates as strings; between includes both ends. Last orders: c1 Feb 3, c2 Jan 28, c3 Feb 14.
    feb = AudienceDefinition(name="feb", filters=[
        Filter(field="last_order_at", op="between", value=["2024-02-01", "2024-02-14 15:00"])])
    assert _members(feb, profile) == ["c1", "c3"]
    low_p = AudienceDefinition(name="at_risk", filters=[
        Filter(field="p_alive", op="lt", value=0.5), Filter(field="clv", op="not_null")])
    assert _members(low_p, profile) == ["c2"]
    nobody = AudienceDefinition(name="nobody", filters=[
        Filter(field="monetary", op="gt", value=1e9)])
    s = audience_stats(nobody, profile)
    assert (s.size, s.code, s.monetary_mean) == (0, "empty", None)


def test_columns_and_no_filters(profile):
    d = AudienceDefinition(name="all", columns=["customer_id", "stage", "clv"])
    got = audience_expr(d, profile).execute()
    assert list(got.columns) == ["customer_id", "stage", "clv"] and len(got) == 5


def test_export_masks_pii_by_default(profile, tmp_path):
    d = AudienceDefinition(name="london", filters=[
        Filter(field="region", op="eq", value="London")],
        columns=["customer_id", "email", "phone", "name", "monetary"])
    expr = audience_expr(d, profile)
    out = export_audience(expr, tmp_path / "london.csv")
    got = pd.read_csv(out, dtype=str).sort_values("customer_id")
    assert got.customer_id.tolist() == ["c1", "c4"]
    assert got.email.tolist() == ["j***@shop.cn", "l***@qq.com"]
    assert got.phone.fillna("").tolist() == ["***8000", ""]
    assert got.name.tolist() == ["J***", "L***"]
    text = out.read_text(encoding="utf-8")
    assert "jane@" not in text and "Jane" not in text and "0013" not in text
    # Raw only when asked; Parquet by suffix; hashing gives pseudonyms.
    raw = pd.read_parquet(export_audience(expr, tmp_path / "raw.parquet", pii="raw"))
    assert sorted(raw.email) == ["jane@shop.cn", "li@qq.com"]
    hashed = pd.read_csv(export_audience(expr, tmp_path / "h.csv", pii="hash"), dtype=str)
    assert hashed.email.str.startswith("h_").all()
    # Nothing half-written is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "london.csv", "raw.parquet"]
    with pytest.raises(AudienceError, match="does not exist"):
        export_audience(expr, tmp_path / "missing" / "x.csv")
    with pytest.raises(AudienceError, match="unknown PII mode"):
        export_audience(expr, tmp_path / "x.csv", pii="plain")  # type: ignore[arg-type]
    with pytest.raises(AudienceError, match="unknown export format"):
        export_audience(expr, tmp_path / "x.csv", format="xlsx")  # type: ignore[arg-type]


def test_saved_definition_round_trip_and_rerun(shop, tmp_path):
    store = AudienceStore(tmp_path)
    assert store.list() == []
    d = AudienceDefinition(
        name="新潜客", description="Prospects first seen in 2024",
        filters=[Filter(field="stage", op="in", value=["prospect"]),
                 Filter(field="first_seen_at", op="ge", value=dt.date(2024, 1, 1))],
        columns=["customer_id", "email"])
    path = store.save(d)
    assert path == tmp_path / "audiences" / "新潜客.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["filters"][1] == {"field": "first_seen_at", "op": "ge", "value": "2024-01-01"}
    loaded = store.load("新潜客")
    assert loaded.model_dump(mode="json") == d.model_dump(mode="json")
    assert store.list() == ["新潜客"]
    # Re-run on newer data: c4 bought on 2025-01-20 and is no longer a prospect.
    before = _members(loaded, build_profile(shop, "2024-03-01", windows=W))
    after = _members(loaded, build_profile(shop, "2025-03-01", windows=W))
    assert (before, after) == (["c4", "p5"], ["p5"])
    with pytest.raises(AudienceError, match="already exists"):
        store.save(d, overwrite=False)
    store.delete("新潜客")
    assert store.list() == []
    with pytest.raises(AudienceNotFound, match="no saved audience") as err:
        store.load("新潜客")
    assert isinstance(err.value, LookupError)
    with pytest.raises(AudienceError, match="not a valid audience name"):
        store.load("../secrets")
    (tmp_path / "audiences" / "broken.json").write_text('{"name": "broken", "filters": 3}')
    with pytest.raises(AudienceError, match=r"broken\.json: invalid audience definition"):
        store.load("broken")


def test_unknown_fields_and_ops_are_named(profile):
    bad_field = AudienceDefinition(name="x", filters=[
        Filter(field="monetry", op="gt", value=1)])
    with pytest.raises(AudienceError, match="unknown field 'monetry'") as err:
        audience_expr(bad_field, profile)
    assert "did you mean 'monetary'" in err.value.message
    assert re.search(r"accepted fields: customer_id, stage, .*, clv, p_alive", err.value.hint)
    with pytest.raises(AudienceError, match="columns: unknown field 'mail'"):
        audience_expr(AudienceDefinition(name="x", columns=["customer_id", "mail"]), profile)
    with pytest.raises(ValueError, match="unknown op 'gte'; accepted ops: eq, ne, in"):
        Filter(field="monetary", op="gte", value=1)  # type: ignore[arg-type]
    with pytest.raises(AudienceError, match="filters.0: filter on 'stage': unknown op 'like'"):
        parse_definition({"name": "x", "filters": [{"field": "stage", "op": "like",
                                                    "value": "a%"}]})
    with pytest.raises(AudienceError, match="Extra inputs are not permitted"):
        parse_definition({"name": "x", "filter": []})
    with pytest.raises(AudienceError, match="needs a non-empty list"):
        parse_definition({"name": "x", "filters": [{"field": "stage", "op": "in",
                                                    "value": "new"}]})
    with pytest.raises(AudienceError, match="needs a numeric or date field"):
        audience_expr(AudienceDefinition(name="x", filters=[
            Filter(field="stage", op="gt", value="new")]), profile)
    with pytest.raises(AudienceError, match="'lots' is not a number"):
        audience_expr(AudienceDefinition(name="x", filters=[
            Filter(field="monetary", op="gt", value="lots")]), profile)
    with pytest.raises(AudienceError, match="is not a date"):
        audience_expr(AudienceDefinition(name="x", filters=[
            Filter(field="last_order_at", op="ge", value="last week")]), profile)
    with pytest.raises(ValueError, match="name"):
        AudienceDefinition(name="../x")


def test_extra_tables_are_checked(shop):
    with pytest.raises(AudienceError, match="no customer_id column"):
        build_profile(shop, "2024-03-01", windows=W, extra=[ibis.memtable({"id": ["c1"]})])
    with pytest.raises(AudienceError, match="repeats profile columns: monetary"):
        build_profile(shop, "2024-03-01", windows=W,
                      extra=pd.DataFrame({"customer_id": ["c1"], "monetary": [1.0]}))


def test_docs_example_parses():
    text = DOCS.read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block, "docs/customers.md should show a saved definition"
    d = parse_definition(block.group(1))
    assert d.filters
