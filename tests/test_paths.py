"""Sessions and paths (``behaviour/paths.py``) on DuckDB and, when present, Spark.

Expected values are worked out by hand from the event rows below (the comments show the
working), or, on the Taobao sample, by an independent pandas computation (sort + shift).
"""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from shopscope.behaviour.paths import END, START, PathResult, paths, sessionize
from shopscope.errors import OptionError
from tests.behaviour_shop import events_frame, make_store
from tests.conftest import shared_file

D = "2024-03-01 "


def _rows() -> list:
    rows = []

    def add(visitor: str, session: str | None, events: list[tuple[str, str]],
            tag: str | None = None) -> None:
        # product_id "<tag>-<i>" names each event, to check which session it lands in
        for i, (hhmmss, etype) in enumerate(events):
            rows.append({"event_at": D + hhmmss, "user_id": visitor, "session_id": session,
                         "event_type": etype, "product_id": f"{tag or visitor}-{i}"})

    # -- sessions cut by inactivity (no session_id) ---------------------------------------
    # g: 10:00:00, +29:59 (same session), +30:00 exactly (new), +0:01 (same), +1h (new)
    add("g", None, [("10:00:00", "view"), ("10:29:59", "view"), ("10:59:59", "view"),
                    ("11:00:00", "view"), ("12:00:00", "view")])
    # h: the same times as g; its sessions must not merge with g's.
    add("h", None, [("10:00:00", "view"), ("10:29:59", "view")])
    # -- given session ids ------------------------------------------------------------------
    # k: s1 and s2 interleave in time; one untagged event; m reuses the id s1.
    add("k", "s1", [("09:00:00", "view"), ("09:10:00", "add_to_cart")], tag="k1")
    add("k", "s2", [("09:05:00", "search")], tag="k2")
    add("k", None, [("09:07:00", "favorite")], tag="k0")
    add("m", "s1", [("09:00:00", "view")])
    # an anonymous visitor, and an event from nobody (dropped)
    rows.append({"event_at": D + "08:00:00", "anonymous_id": "dev-1", "session_id": "s1",
                 "event_type": "view", "product_id": "dev-1-0"})
    rows.append({"event_at": D + "08:00:00", "event_type": "view", "product_id": "nobody"})

    # -- paths -------------------------------------------------------------------------------
    p = [
        ("P1", ["view", "view", "add_to_cart", "checkout", "purchase"]),
        ("P7", ["view", "view", "add_to_cart", "checkout", "purchase"]),
        ("P2", ["search", "view", "add_to_cart", "view", "add_to_cart", "checkout"]),
        ("P3", ["view", "search", "view", "favorite"]),
        ("P4", ["search", "search", "favorite"]),
        ("P5", ["view"]),
        ("P6", ["add_to_cart", "view", "purchase"]),
        ("P8", ["purchase", "view"]),
    ]
    for visitor, types in p:
        add(visitor, "s", [(f"14:{i:02d}:00", e) for i, e in enumerate(types)])
    # P9: two events at the same instant; ties are ordered by event type (add_to_cart < view).
    rows += [
        {"event_at": D + "15:00:00", "user_id": "P9", "session_id": "s", "event_type": "view",
         "product_id": "a"},
        {"event_at": D + "15:00:00", "user_id": "P9", "session_id": "s",
         "event_type": "add_to_cart", "product_id": "b"},
        {"event_at": D + "15:01:00", "user_id": "P9", "session_id": "s", "event_type": "purchase",
         "product_id": "b"},
    ]
    return rows


EVENTS = events_frame(_rows())
PATH_VISITORS = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"]


@pytest.fixture(scope="module")
def duckdb_store(tmp_path_factory):
    s = make_store("duckdb", tmp_path_factory.mktemp("paths_duckdb"), events=EVENTS)
    yield s
    s.close()


@pytest.fixture(scope="module")
def pyspark_store(spark_session, tmp_path_factory):
    return make_store("pyspark", tmp_path_factory.mktemp("paths_pyspark"), events=EVENTS)


@pytest.fixture(scope="module")
def any_store(engine, request):
    """Both engines: for the core cases only, since Spark takes seconds per query here."""
    return request.getfixturevalue(f"{engine}_store")


@pytest.fixture
def store(duckdb_store):
    return duckdb_store


def _only(store, visitors: list[str]):
    t = store.table("events")
    return t.filter(t.user_id.isin(visitors) | t.anonymous_id.isin(visitors))


@functools.cache
def _paths(store, visitors: tuple[str, ...], **kw) -> PathResult:
    return paths(_only(store, list(visitors)), top=100, **kw)


def path_table(result: PathResult) -> dict[str, int]:
    return dict(zip(result.paths["text"], result.paths["sessions"], strict=True))


def steps(frame: pd.DataFrame) -> dict[str, int]:
    return dict(zip(frame["step"], frame["sessions"], strict=True))


def _groups(store, visitors, **kw) -> list[list[str]]:
    """Events (by product_id) grouped by session, each group in time order."""
    df = sessionize(_only(store, visitors), **kw).execute()
    df = df.sort_values(["session", "event_at", "product_id"])
    return sorted(list(g["product_id"]) for _, g in df.groupby("session"))


# -- sessions ---------------------------------------------------------------------------------
def test_gap_of_exactly_30_minutes_starts_a_new_session(any_store):
    store = any_store
    # g: 29:59 after the first event stays; exactly 30:00 later starts session 2; 1 s later
    # stays; an hour later starts session 3. h's identical times are h's own session.
    assert _groups(store, ["g", "h"]) == [["g-0", "g-1"], ["g-2", "g-3"], ["g-4"],
                                          ["h-0", "h-1"]]


def test_gap_option(store):
    # With 1h: 12:00:00 is exactly 1h after 11:00:00, so it still starts a new session.
    assert _groups(store, ["g"], gap="1h") == [["g-0", "g-1", "g-2", "g-3"], ["g-4"]]
    # With 29m59s the 29:59 pause also splits.
    assert _groups(store, ["g"], gap="29m59s") == [["g-0"], ["g-1"], ["g-2", "g-3"], ["g-4"]]


def test_given_session_ids_are_scoped_to_the_visitor(any_store):
    store = any_store
    # k's s1 and s2 interleave (09:00, 09:05, 09:10) but stay apart; the untagged 09:07
    # event is a session of its own; m's and dev-1's s1 are other sessions; "nobody" is out.
    assert _groups(store, ["k", "m", "dev-1"]) == [["dev-1-0"], ["k0-0"], ["k1-0", "k1-1"],
                                                   ["k2-0"], ["m-0"]]
    keys = sessionize(_only(store, ["k", "m"])).session.nunique().execute()
    assert keys == 4
    everyone = sessionize(store)
    assert "nobody" not in set(everyone.product_id.execute())


def test_use_given_false_cuts_every_session_by_gap(store):
    # k's four events lie within 10 minutes: one session when ids are ignored.
    assert _groups(store, ["k"], use_given=False) == [["k1-0", "k2-0", "k0-0", "k1-1"]]


# -- paths ------------------------------------------------------------------------------------
def test_paths_from_first_view(any_store):
    store = any_store
    r = _paths(store, tuple(PATH_VISITORS), start="view", length=3)
    # Collapsed sessions, from the first view, 3 steps:
    # P1, P7: view add_to_cart checkout | P2: view add_to_cart view | P3: view search view
    # P5: view | P6: view purchase | P8: view | P4 has no view.
    assert path_table(r) == {
        "view → add_to_cart → checkout": 2,
        "view": 2,
        "view → add_to_cart → view": 1,
        "view → purchase": 1,
        "view → search → view": 1,
    }
    assert r.sessions == 7 and r.distinct_paths == 5 and r.error is None
    # a tie at 2 sessions is broken by the text
    assert list(r.paths["text"][:2]) == ["view", "view → add_to_cart → checkout"]
    assert r.paths["share"].sum() == pytest.approx(1.0)
    assert r.paths["path"][0] == ("view",)
    assert steps(r.next_steps) == {"add_to_cart": 3, END: 2, "purchase": 1, "search": 1}
    assert r.previous_steps.empty


def test_top_and_length_cap(store):
    r = paths(_only(store, PATH_VISITORS), start="view", length=2, top=2)
    # 2 steps: view add_to_cart (P1, P7, P2) 3; view (P5, P8) 2; view search 1; view purchase 1
    assert path_table(r) == {"view → add_to_cart": 3, "view": 2}
    assert r.sessions == 7 and r.distinct_paths == 4
    assert list(r.paths["share"]) == pytest.approx([3 / 7, 2 / 7])


def test_without_collapsing_repeats(store):
    r = _paths(store, tuple(PATH_VISITORS), start="view", length=3, collapse_repeats=False)
    # P1, P7 now start view view add_to_cart; P4 search search favorite has no view anyway.
    assert path_table(r)["view → view → add_to_cart"] == 2
    assert "view → add_to_cart → checkout" not in path_table(r)


def test_exclude_drops_event_types_before_paths_are_formed(store):
    r = _paths(store, tuple(PATH_VISITORS), start="view", length=3, exclude=("search",))
    # P3 becomes view view favorite → view favorite; P2 search view … → view add_to_cart view
    assert path_table(r)["view → favorite"] == 1
    assert not any("search" in t for t in r.paths["text"])
    r2 = _paths(store, tuple(PATH_VISITORS), length=2, exclude=("search",))
    # From session start: P4 search search favorite → favorite (one step)
    assert path_table(r2)["favorite"] == 1


def test_paths_to_first_purchase(store):
    r = _paths(store, tuple(PATH_VISITORS), end="purchase", length=3)
    # P1, P7: add_to_cart checkout purchase | P6: add_to_cart view purchase | P8: purchase
    assert path_table(r) == {"add_to_cart → checkout → purchase": 2,
                             "add_to_cart → view → purchase": 1, "purchase": 1}
    assert steps(r.previous_steps) == {"checkout": 2, "view": 1, START: 1}
    assert r.next_steps.empty


def test_paths_between_start_and_end(any_store):
    store = any_store
    # From the first view to the first purchase after it, within `length` steps.
    r4 = _paths(store, tuple(PATH_VISITORS), start="view", end="purchase", length=4)
    assert path_table(r4) == {"view → add_to_cart → checkout → purchase": 2,
                              "view → purchase": 1}
    r3 = _paths(store, tuple(PATH_VISITORS), start="view", end="purchase", length=3)
    assert path_table(r3) == {"view → purchase": 1}  # P1 and P7 need 4 steps


def test_paths_from_session_start_with_ties_ordered_by_event_type(any_store):
    store = any_store
    r = _paths(store, ("P8", "P9", "P4"), length=3)
    # P9's view and add_to_cart share 15:00:00: add_to_cart sorts first.
    assert path_table(r) == {"add_to_cart → view → purchase": 1, "purchase → view": 1,
                             "search → favorite": 1}
    assert steps(r.next_steps) == {"view": 2, "favorite": 1}


def test_step_with_filter_is_named_after_the_step(store):
    r = paths(_only(store, PATH_VISITORS), start="view:product_id=P6-1", length=2)
    assert path_table(r) == {"view [product_id=P6-1] → purchase": 1}


def test_no_matching_session_degrades_to_an_empty_result(store):
    r = paths(_only(store, PATH_VISITORS), start="signup")
    assert r.error == "no_paths" and r.sessions == 0
    assert r.paths.empty and r.next_steps.empty and r.sankey.links.empty
    assert r.to_dict()["paths"] == []


def test_date_range_applies_before_sessions(store):
    # Every path event is on 2024-03-01: a range starting the next day leaves nothing, a
    # range ending that day (inclusive) keeps all 7 sessions with a view.
    later = paths(_only(store, PATH_VISITORS), start="view", start_date="2024-03-02")
    assert later.error == "no_paths"
    same = paths(_only(store, PATH_VISITORS), start="view", end_date="2024-03-01")
    assert same.sessions == 7 and same.options.end_date.isoformat() == "2024-03-01"


# -- Sankey -------------------------------------------------------------------------------------
def _check_sankey(r: PathResult, right_aligned: bool) -> None:
    """Nodes and links must add up to the (complete) path counts."""
    length = r.options.length
    expect_nodes: dict[tuple[int, str], int] = {}
    expect_links: dict[tuple[int, str, str], int] = {}
    for path, n in zip(r.paths["path"], r.paths["sessions"], strict=True):
        first = length - len(path) + 1 if right_aligned else 1
        for i, name in enumerate(path):
            expect_nodes[(first + i, name)] = expect_nodes.get((first + i, name), 0) + n
            if i + 1 < len(path):
                key = (first + i, name, path[i + 1])
                expect_links[key] = expect_links.get(key, 0) + n
    nodes, links = r.sankey.nodes, r.sankey.links
    keys = zip(nodes["position"], nodes["name"], strict=True)
    assert dict(zip(keys, nodes["sessions"], strict=True)) == expect_nodes
    assert dict(zip(zip(links["source_position"], links["source"], links["target"], strict=False),
                    links["sessions"], strict=False)) == expect_links
    assert (links["target_position"] == links["source_position"] + 1).all()
    # Flow is conserved: what enters a node leaves it or ends there.
    for (pos, name), n in expect_nodes.items():
        out = links[(links.source_position == pos) & (links.source == name)].sessions.sum()
        inn = links[(links.target_position == pos) & (links.target == name)].sessions.sum()
        assert out <= n and inn <= n
        if right_aligned and pos < length:
            assert out == n
        if not right_aligned and pos > 1:
            assert inn == n


def test_sankey_links_sum_to_path_counts(store):
    r = _paths(store, tuple(PATH_VISITORS), start="view", length=3)
    _check_sankey(r, right_aligned=False)
    # Everything leaving position 1 = paths with 2 steps or more = 7 - 2 single views.
    links = r.sankey.links
    assert links[links.source_position == 1].sessions.sum() == 5
    # view at depth 1 and view at depth 3 are different nodes
    assert {"1:view", "3:view"} <= set(r.sankey.nodes["id"])
    end = _paths(store, tuple(PATH_VISITORS), end="purchase", length=3)
    _check_sankey(end, right_aligned=True)
    assert set(end.sankey.nodes.query("position == 3")["name"]) == {"purchase"}


def test_to_dict_is_plain_data(store):
    import json

    d = _paths(store, tuple(PATH_VISITORS), start="view", length=3).to_dict()
    text = json.dumps(d)
    assert d["options"]["start"] == "view" and d["options"]["mode"] == "start"
    assert d["paths"][0]["path"] == ["view"] and "sankey" in json.loads(text)


# -- engines agree ------------------------------------------------------------------------------
@pytest.mark.spark
def test_duckdb_and_pyspark_give_the_same_results(duckdb_store, pyspark_store):
    out = {}
    for engine, s in (("duckdb", duckdb_store), ("pyspark", pyspark_store)):
        out[engine] = (paths(s, start="view", length=4).to_dict(),
                       paths(s, end="purchase", length=3, exclude=["search"]).to_dict(),
                       paths(s, collapse_repeats=False, gap="10m").to_dict(),
                       sessionize(s).session.value_counts().execute()
                       .sort_values("session").to_dict(orient="list"))
    assert out["duckdb"] == out["pyspark"]


# -- options ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, words", [
    ({"exclude": ["click"]}, "unknown event type"),
    ({"start": "view", "exclude": ["view"]}, "excluded"),
    ({"length": 0}, "length"),
    ({"length": 21}, "length"),
    ({"top": 0}, "top"),
    ({"gap": "soon"}, "gap"),
    ({"gap": "0m"}, "positive"),
    ({"start": "view", "end": "purchase", "length": 1}, "length >= 2"),
    ({"start": "stare"}, "unknown event type"),
    ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "before"),
])
def test_bad_options_raise(kw, words):
    from shopscope.store import connect

    with pytest.raises(OptionError, match=words):
        paths(connect("duckdb://"), **kw)


# -- real data: Taobao UserBehavior sample against pandas -----------------------------------------
@pytest.mark.realdata
def test_taobao_top_paths_from_view_match_pandas(tmp_path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("taobao_userbehavior", "UserBehavior_prefix.csv.gz")
    ws = Workspace.create(tmp_path / "tb", timezone="Asia/Shanghai")
    ingest_file(ws, path, preset="taobao")
    result = paths(ws.store, start="view", length=4, top=20)
    ws.close()

    # Independent: pandas on the raw file. Sessions by 30-minute inactivity per user
    # (a pause of >= 1800 s starts one), ties ordered by type, item and category as text.
    raw = pd.read_csv(path, header=None, dtype=str,
                      names=["user", "item", "cat", "behaviour", "ts"])
    raw["etype"] = raw.behaviour.map({"pv": "view", "cart": "add_to_cart", "fav": "favorite",
                                      "buy": "purchase"})
    raw["ts"] = raw.ts.astype("int64")
    df = raw.sort_values(["user", "ts", "etype", "item", "cat"], ignore_index=True)
    new = (df.user != df.user.shift()) | (df.ts - df.ts.shift() >= 1800)
    df["session"] = new.cumsum()
    repeat = (df.session == df.session.shift()) & (df.etype == df.etype.shift())
    df = df[~repeat].reset_index(drop=True)
    for k in (1, 2, 3):
        same = df.session.shift(-k) == df.session
        df[f"n{k}"] = df.etype.shift(-k).where(same)
    df["n_views"] = (df.etype == "view").groupby(df.session).cumsum()
    first = df[(df.etype == "view") & (df.n_views == 1)]
    texts = first[["etype", "n1", "n2", "n3"]].apply(
        lambda r: " → ".join(v for v in r if isinstance(v, str)), axis=1)
    counts = texts.value_counts()
    expected = (pd.DataFrame({"text": counts.index, "sessions": counts.to_numpy()})
                .sort_values(["sessions", "text"], ascending=[False, True]).head(20))

    assert result.sessions == len(first)
    assert list(result.paths["text"]) == list(expected["text"])
    assert list(result.paths["sessions"]) == list(expected["sessions"])
    after = first.n1.fillna(END).value_counts()
    assert steps(result.next_steps) == after.to_dict()
