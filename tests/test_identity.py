"""People across channels: customer ids sharing an identifier count as one person.

The fixture shop (every number below is counted by hand from these rows):

* ``A`` buys on the site (e-mail ``Ann@Example.com``); ``tm-77`` is a Tmall buyer whose
  identities row holds the SHA-256 of ``ann@example.com``: one person, ``A``.
* ``C`` buys on the site, unrelated.
* ``J1``..``J8`` each buy once; their customers rows all carry the store's default phone
  ``+44 7700 900000``: a junk identifier (8 holders > MAX_SHARED = 5), eight people.
* ``M1`` and ``M2`` are members 1001 and 1002 sharing a household phone: two people (an
  account kind stronger than phone refuses the link).
* ``L1`` names ``L2`` with an explicit ``customer`` link: one person, ``L1``.

Raw customer ids with a non-cancelled order: A, tm-77, C, J1..J8, M1, M2, L2 = 14;
people: {A, tm-77}, C, J1..J8, M1, M2, {L1, L2} = 13.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

import ibis
import pyarrow as pa
import pytest

from shopscope.behaviour.funnels import funnel
from shopscope.customers.rfm import rfm_table
from shopscope.kpis import summary
from shopscope.schema import get_table
from shopscope.store import connect
from shopscope.store.people import MAX_SHARED, PERSON_MAP, junk_identifiers

ANN = hashlib.sha256(b"ann@example.com").hexdigest()
DEFAULT_PHONE = "+44 7700 900000"
JUNK = [f"J{i}" for i in range(1, 9)]


def _c(cid: str, **kw: object) -> dict:
    return {"customer_id": cid, "first_seen_at": kw.pop("seen", dt.datetime(2024, 1, 1)), **kw}


CUSTOMERS = [
    _c("A", email="Ann@Example.com ", seen=dt.datetime(2024, 1, 5), signup_channel="web"),
    _c("tm-77", seen=dt.datetime(2023, 12, 1), signup_channel="tmall"),
    _c("C", email="c@example.com"),
    *[_c(j, phone=DEFAULT_PHONE, email=f"{j.lower()}@example.com") for j in JUNK],
    _c("M1", phone="0123 456 789"),
    _c("M2", phone="0123-456-789"),
    _c("L1"),
    _c("L2"),
]
IDENTITIES = [
    ("tm-77", "email_sha256", ANN),
    ("tm-77", "tmall", "nick77"),
    ("M1", "member", "1001"),
    ("M2", "member", "1002"),
    ("L1", "customer", "L2"),
]


def _order(oid: str, cid: str, day: int, channel: str = "web") -> dict:
    return {"order_id": oid, "customer_id": cid, "ordered_at": dt.datetime(2024, 3, day, 12),
            "channel": channel, "status": "completed", "gross_amount": 10.0,
            "discount_amount": 0.0, "shipping_amount": 0.0, "net_amount": 10.0,
            "currency": "GBP"}


ORDERS = [_order("o1", "A", 1), _order("o2", "tm-77", 5, "tmall"), _order("o3", "C", 2),
          *[_order(f"oj{i}", j, 3) for i, j in enumerate(JUNK)],
          _order("om1", "M1", 4), _order("om2", "M2", 4), _order("ol2", "L2", 6)]


def _ev(user: str, kind: str, minute: int, channel: str = "web") -> dict:
    return {"event_at": dt.datetime(2024, 3, 1, 10, minute), "user_id": user,
            "event_type": kind, "channel": channel}


# A views on the site; the same person adds to cart and buys on Tmall as tm-77. C views only.
EVENTS = [_ev("A", "view", 0), _ev("tm-77", "add_to_cart", 5, "tmall"),
          _ev("tm-77", "purchase", 9, "tmall"), _ev("C", "view", 1)]


def _arrow(name: str, rows: list[dict]) -> pa.Table:
    schema = get_table(name).ibis_schema().to_pyarrow()
    return pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows],
                                schema=schema)


def _load(store, **tables: list[dict]) -> None:
    with store.transaction():
        for name, rows in tables.items():
            store.insert(name, ibis.memtable(_arrow(name, rows)))


@pytest.fixture
def shop():
    store = connect("duckdb://")
    store.ensure_tables()
    idents = [{"customer_id": c, "channel": k, "external_id": v} for c, k, v in IDENTITIES]
    _load(store, customers=CUSTOMERS, identities=idents, orders=ORDERS, events=EVENTS)
    yield store
    store.close()


def _map(store) -> dict[str, str]:
    frame = store.table(PERSON_MAP).execute()
    return dict(zip(frame.customer_id, frame.person_id, strict=True))


def test_person_map_follows_the_rule(shop):
    # hand-built components: only tm-77 → A and L2 → L1 resolve to another id
    assert _map(shop) == {"tm-77": "A", "L2": "L1"}
    junk = junk_identifiers(shop)
    assert list(junk.kind) == ["phone"] and list(junk.n) == [8]


def test_kpis_count_the_person_once(shop):
    got = summary(shop)
    assert got["orders"] == 14  # o1, o2, o3, 8 junk-phone orders, om1, om2, ol2
    assert got["buyers"] == 13  # 14 raw ids, A and tm-77 are one person, L1 and L2 another
    assert got["new_buyers"] == 13
    # A's two orders (site and Tmall) make A the only repeat buyer
    assert got["repurchase_rate"] == pytest.approx(1 / 13)
    raw = shop.table("orders", raw=True)
    assert raw.customer_id.nunique().execute() == 14  # drill-down keeps the stored ids


def test_customers_and_rfm_count_people(shop):
    customers = shop.table("customers").execute().set_index("customer_id")
    assert len(customers) == 13  # 15 customer rows, 2 merged away
    assert "tm-77" not in customers.index and "L2" not in customers.index
    # the person's row is A's own, first seen at the earliest of A's ids (tm-77's)
    assert customers.loc["A", "signup_channel"] == "web"
    assert customers.loc["A", "first_seen_at"] == dt.datetime(2023, 12, 1)
    rfm = rfm_table(shop, "2024-04-01").execute().set_index("customer_id")
    assert len(rfm) == 13
    assert rfm.loc["A", "frequency"] == 2 and rfm.loc["A", "monetary"] == pytest.approx(20.0)


def test_funnel_users_are_people(shop):
    # view (A on the site) → add_to_cart → purchase (tm-77 on Tmall): one person converts
    result = funnel(shop, ["view", "add_to_cart", "purchase"], window="1d")
    counts = [int(v) for v in result.steps["count"]]
    assert counts == [2, 1, 1]  # A (as a person) and C view; only A goes on


def test_a_load_checks_against_stored_ids(shop):
    """Keys and references are checked against the stored rows, not the people: loading
    tm-77's next order is accepted (not an orphan), and its customer row is not added again."""
    from shopscope.ingest.load import _new_rows

    again = ibis.memtable(_arrow("customers", [_c("tm-77")]))
    assert _new_rows(shop, "customers", again).count().execute() == 0
    _load(shop, orders=[_order("o9", "tm-77", 20, "tmall")])
    assert summary(shop)["buyers"] == 13
    assert shop.row_count("customers") == 15


def test_without_shared_identifiers_tables_are_untouched():
    store = connect("duckdb://")
    store.ensure_tables()
    _load(store, customers=[_c("x", email="x@e.com"), _c("y", email="y@e.com")],
          orders=[_order("o1", "x", 1), _order("o2", "y", 2)])
    assert store.person_map() is None
    # the very same expression as the stored table (less the commit protocol's load id):
    # no join added to any query
    stored = store.backend.table("orders")
    assert store.table("orders").equals(stored.drop("_load"))
    assert summary(store)["buyers"] == 2


def test_workspace_made_before_people_gets_its_map(tmp_path):
    """A DuckDB file written without ``_person_map`` (older shopscope) resolves on open."""
    path = tmp_path / "old.duckdb"
    store = connect(f"duckdb:///{path}")
    store.ensure_tables()
    idents = [{"customer_id": c, "channel": k, "external_id": v} for c, k, v in IDENTITIES]
    _load(store, customers=CUSTOMERS, identities=idents, orders=ORDERS)
    store.backend.drop_table(PERSON_MAP)
    store.close()
    store = connect(f"duckdb:///{path}")
    store.ensure_tables()
    assert _map(store) == {"tm-77": "A", "L2": "L1"}
    assert summary(store)["buyers"] == 13
    store.close()


def test_junk_cap_is_a_boundary():
    """MAX_SHARED holders of one phone are one person; one more and none are merged."""
    for holders, people in ((MAX_SHARED, 1), (MAX_SHARED + 1, MAX_SHARED + 1)):
        store = connect("duckdb://")
        store.ensure_tables()
        ids = [f"p{i}" for i in range(holders)]
        _load(store, customers=[_c(i, phone="020 7946 0000") for i in ids],
              orders=[_order(f"o{i}", c, 1) for i, c in enumerate(ids)])
        assert summary(store)["buyers"] == people
        store.close()


def _components(edges: list[tuple[str, str]], nodes: list[str]) -> dict[str, str]:
    """Independent reference: breadth-first components over customer–identifier edges,
    identifiers with more than MAX_SHARED holders dropped; person = smallest id."""
    holders: dict[str, set[str]] = {}
    for cid, ident in edges:
        holders.setdefault(ident, set()).add(cid)
    adj: dict[str, set[str]] = {n: set() for n in nodes}
    for group in holders.values():
        if len(group) <= MAX_SHARED:
            for a in group:
                adj[a] |= group - {a}
    person: dict[str, str] = {}
    for start in sorted(nodes):
        if start in person:
            continue
        seen, todo = {start}, [start]
        while todo:
            for nxt in adj[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        for n in seen:
            person[n] = min(seen)
    return person


def test_random_shop_matches_plain_components():
    """E-mails and phones never refuse a link, so the map is the connected components."""
    rng = random.Random(15)
    nodes = [f"c{i:03d}" for i in range(120)]
    emails = [f"user{i}@shop.example" for i in range(60)]
    phones = [f"0161 496 {i:04d}" for i in range(40)]
    customers, idents, edges = [], [], []
    for n in nodes:
        e = rng.choice(emails) if rng.random() < 0.5 else None
        customers.append(_c(n, email=e))
        if e:
            edges.append((n, "e:" + e))
        for _ in range(rng.randrange(3)):
            if rng.random() < 0.5:
                e2 = rng.choice(emails)  # stored hashed, upper-cased: still the same address
                digest = hashlib.sha256(e2.encode()).hexdigest().upper()
                idents.append({"customer_id": n, "channel": "Email_SHA256",
                               "external_id": digest})
                edges.append((n, "e:" + e2))
            else:
                p = rng.choice(phones)
                idents.append({"customer_id": n, "channel": "phone", "external_id": p})
                edges.append((n, "p:" + p.replace(" ", "")))
    store = connect("duckdb://")
    store.ensure_tables()
    unique = {(r["customer_id"], r["channel"], r["external_id"]): r for r in idents}
    _load(store, customers=customers, identities=list(unique.values()))
    expected = {c: p for c, p in _components(edges, nodes).items() if c != p}
    assert expected  # the draw does merge some customers
    assert _map(store) == expected
    store.close()


def test_experiments_assign_people(shop):
    """A and tm-77 (one person) both in the treatment arm are one unit (a repeated
    exposure); C and M1 are the control's two units."""
    from shopscope.experiments.analysis import analyze
    from shopscope.experiments.registry import ExperimentDefinition, MetricDef

    at = dt.datetime(2024, 2, 28)
    rows = [{"experiment_id": "e1", "unit_id": u, "variant": v, "assigned_at": at}
            for u, v in (("A", "treatment"), ("tm-77", "treatment"), ("C", "control"),
                         ("M1", "control"))]
    _load(shop, experiments=rows)
    d = ExperimentDefinition(experiment_id="e1", variants=["control", "treatment"],
                             start="2024-03-01", end="2024-03-07",
                             metrics=[MetricDef(name="orders", kind="mean")])
    result = analyze(shop, d)
    assert dict(result.counts) == {"control": 2, "treatment": 1}
    units = shop.table("experiments").unit_id.execute()
    assert sorted(units) == ["A", "A", "C", "M1"]


def test_loads_through_ingest_merge_people(tmp_path):
    """The site's data, then a marketplace export (its buyer, an identity and an order) in
    a second load: the buyer is the site's customer, and a re-load changes nothing."""
    import pyarrow.parquet as pq

    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    def write(folder, **tables):
        folder.mkdir()
        for name, rows in tables.items():
            pq.write_table(_arrow(name, rows), folder / f"{name}.parquet")
        return folder

    site = write(tmp_path / "site", customers=[CUSTOMERS[0], CUSTOMERS[2]],
                 orders=[ORDERS[0], ORDERS[2]])
    market = write(tmp_path / "market", customers=[CUSTOMERS[1]],
                   identities=[{"customer_id": "tm-77", "channel": "email_sha256",
                                "external_id": ANN}],
                   orders=[ORDERS[1]])
    with Workspace.create(tmp_path / "ws") as ws:
        ingest_file(ws, site, preset="canonical")
        assert summary(ws.store)["buyers"] == 2
        ingest_file(ws, market, preset="canonical")
        assert summary(ws.store)["buyers"] == 2  # tm-77 is A: still A and C
        assert summary(ws.store)["orders"] == 3
        ingest_file(ws, market, preset="canonical", force=True)
        assert ws.store.row_count("customers") == 3
        assert summary(ws.store)["orders"] == 3
        assert ws.store.person_of("tm-77") == "A"


def test_person_lookup_keeps_scans_inlined(shop):
    """The events read twice by a funnel stay a scan (NOT MATERIALIZED) with the person
    lookup joined in; a real join in a CTE is still computed once."""
    from shopscope.store.execute import duckdb_sql

    ev = shop.table("events")
    views = ev.filter(ev.event_type == "view")
    sql = duckdb_sql(views.join(views.view(), "user_id").count())
    assert "_person_map" in sql and "AS NOT MATERIALIZED" in sql
    o = shop.table("orders", raw=True).select("order_id", "customer_id")
    per = o.join(shop.table("customers", raw=True).select("customer_id", "email"),
                 "customer_id")
    assert "NOT MATERIALIZED" not in duckdb_sql(per.join(per.view(), "order_id").count())
