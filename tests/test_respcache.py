"""Serving under load: cached GET answers (shopscope.ui.respcache), the in-memory cache of
sessions and tokens (shopscope.auth), the data version read off the request path."""

from __future__ import annotations

import gzip
import itertools
import threading
import time

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from shopscope.app import create_app
from shopscope.auth import AUTH_CHECK_SECONDS, UserStore
from shopscope.cli import demo_data_path
from shopscope.ingest import ingest_file
from shopscope.store import Workspace
from shopscope.ui.deps import CurrentUser
from shopscope.ui.respcache import Entry, ResponseStore, cached_response, etag_of

PASSWORDS = {"ada": "admin-pass-123", "ann": "analyst-pass-123", "vic": "viewer-pass-123"}
ECHO_CALLS = itertools.count(1)
INSIDE = threading.Event()  # set while /api/test/slow runs


def _slice(path, start: int, stop: int) -> None:
    """Lines ``start``..``stop`` of the bundled Online Retail file, with its header."""
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as src:
        header = next(src)
        rows = itertools.islice(src, start, stop)
        path.write_text(header + "".join(rows), encoding="utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A small workspace served with its lifespan (the data-version watcher runs; the
    warm-up has nothing to do), plus a marked endpoint that echoes who asked and counts
    its runs: a replayed answer does not run it."""
    root = tmp_path_factory.mktemp("respcache")
    _slice(root / "a.csv", 0, 4_000)
    ws = Workspace.create(root / "ws")
    ingest_file(ws, root / "a.csv", preset="online_retail")
    users = UserStore(ws.path)
    for name, role in (("ada", "admin"), ("ann", "analyst"), ("vic", "viewer")):
        users.add(name, PASSWORDS[name], role)
    app = create_app(ws)
    echo = APIRouter()

    @echo.get("/api/test/echo")
    @cached_response
    def _echo(user: CurrentUser, q: str = "") -> dict:
        return {"role": user.role, "lang": user.lang, "q": q, "run": next(ECHO_CALLS)}

    @echo.get("/api/test/slow")
    def _slow(user: CurrentUser) -> dict:
        INSIDE.set()
        time.sleep(2.5 * app.state.shopscope.version_seconds)
        INSIDE.clear()
        return {}

    app.include_router(echo)
    state = app.state.shopscope
    state.warmup.steps = ()
    with TestClient(app, base_url="https://testserver") as lifespan:
        assert state.known_version()
        yield app, state, ws, lifespan
    # the lifespan closed the workspace


def login(app, user: str) -> TestClient:
    c = TestClient(app, base_url="https://testserver")
    r = c.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.text
    c.headers["x-csrf-token"] = r.json()["csrf_token"]
    return c


# -- the store of answers ---------------------------------------------------------------
def _entry(body: bytes) -> Entry:
    return Entry(((b"content-type", b"application/json"),), body, etag_of(body))


def test_store_keys_versions_and_bounds():
    store = ResponseStore(max_bytes=10_000, max_entries=3)
    key = ("/api/kpis", b"grain=month", "viewer", "en")
    assert store.get("v1", key) is None
    assert store.put("v1", key, _entry(b"[1]"))
    assert store.get("v1", key).body == b"[1]"
    # role, language and parameters are part of the key
    for other in (("/api/kpis", b"grain=month", "admin", "en"),
                  ("/api/kpis", b"grain=month", "viewer", "zh"),
                  ("/api/kpis", b"grain=week", "viewer", "en")):
        assert store.get("v1", other) is None
    # a new data version empties the store; an answer computed at the old one is refused
    assert store.get("v2", key) is None and not store.entries
    assert not store.put("v1", key, _entry(b"[1]"))
    # at most 3 answers, least recently used out
    for i in range(5):
        store.put("v2", ("/p", str(i).encode(), "viewer", "en"), _entry(b"x" * 10))
    assert [k[1] for k in store.entries] == [b"2", b"3", b"4"]
    # bytes: 10,000 in all, one answer at most a quarter of that
    assert not store.put("v2", ("/big", b"", "viewer", "en"), _entry(b"x" * 2_600))
    for i in range(8):
        store.put("v2", ("/m", str(i).encode(), "viewer", "en"), _entry(b"x" * 2_000))
    assert store.used <= 10_000 and len(store.entries) == 3
    assert store.used == sum(e.size for e in store.entries.values())


# -- through the app ----------------------------------------------------------------------
def test_hit_replays_identical_bytes_without_running_the_endpoint(served):
    app, _, _, _ = served
    c = login(app, "ann")
    first = c.get("/api/test/echo?q=a")
    second = c.get("/api/test/echo?q=a")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content  # the counter did not move: not run again
    assert second.headers["etag"] == first.headers["etag"] == etag_of(first.content).decode()
    assert second.headers["cache-control"] == "no-store"  # security headers on hits too
    assert c.get("/api/test/echo?q=b").json()["run"] == first.json()["run"] + 1


def test_real_endpoint_is_served_from_the_cache(served, monkeypatch):
    app, state, _, _ = served
    c = login(app, "vic")
    first = c.get("/api/kpis?grain=month")
    assert first.status_code == 200
    calls = []
    monkeypatch.setattr(state, "cached", lambda *a: calls.append(a))  # a miss would fail
    again = c.get("/api/kpis?grain=month")
    assert again.content == first.content and calls == []


def test_roles_and_languages_get_their_own_answers(served):
    app, state, _, _ = served
    answers = {u: login(app, u).get("/api/test/echo?q=roles").json() for u in PASSWORDS}
    assert {u: a["role"] for u, a in answers.items()} == {
        "ada": "admin", "ann": "analyst", "vic": "viewer"}
    assert len({a["run"] for a in answers.values()}) == 3  # three entries, none shared
    c = login(app, "vic")
    assert c.get("/api/test/echo?q=roles").json() == answers["vic"]  # vic's own, replayed
    UserStore(state.workspace.path).set_lang("vic", "zh")  # e.g. the account page
    time.sleep(3 * AUTH_CHECK_SECONDS)  # another process's change: seen by the watcher
    zh = c.get("/api/test/echo?q=roles").json()
    assert zh["lang"] == "zh" and zh["run"] != answers["vic"]["run"]
    state.users.set_lang("vic", "en")


def test_etag_and_not_modified(served):
    app, _, _, _ = served
    c = login(app, "ann")
    full = c.get("/api/test/echo?q=etag")
    tag = full.headers["etag"]
    same = c.get("/api/test/echo?q=etag", headers={"if-none-match": tag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == tag
    weak = c.get("/api/test/echo?q=etag", headers={"if-none-match": f'"x", W/{tag}'})
    assert weak.status_code == 304
    other = c.get("/api/test/echo?q=etag", headers={"if-none-match": '"not-it"'})
    assert other.status_code == 200 and other.content == full.content
    # the first answer of a URL (a miss) carries its ETag and honours If-None-Match too
    fresh = c.get("/api/kpis/summary", headers={"if-none-match": '"not-it"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == etag_of(
        fresh.content).decode()
    assert c.get("/api/kpis/summary",
                 headers={"if-none-match": fresh.headers["etag"]}).status_code == 304


def test_unauthenticated_and_refused_answers_are_not_kept(served):
    app, state, _, _ = served
    anonymous = TestClient(app, base_url="https://testserver")
    for _ in range(2):
        r = anonymous.get("/api/test/echo?q=anon")
        assert r.status_code == 401 and "etag" not in r.headers
    bad = anonymous.get("/api/test/echo?q=anon", headers={"authorization": "Bearer ssk_nope"})
    assert bad.status_code == 401
    assert all(k[1] != b"q=anon" for k in state.responses.entries)


def test_logout_ends_cached_access(served):
    app, _, _, _ = served
    c = login(app, "ann")
    assert c.get("/api/test/echo?q=out").status_code == 200
    cookie = c.cookies.get("ss_session")
    assert c.post("/api/logout").status_code == 204
    stale = TestClient(app, base_url="https://testserver", cookies={"ss_session": cookie})
    assert stale.get("/api/test/echo?q=out").status_code == 401
    assert stale.get("/api/kpis?grain=month").status_code == 401


def test_revoked_token_by_another_process(served):
    app, state, ws, _ = served
    token, info = state.users.create_token("ann", "bench")
    c = TestClient(app, base_url="https://testserver",
                   headers={"authorization": f"Bearer {token}"})
    assert c.get("/api/test/echo?q=tok").status_code == 200
    assert c.get("/api/test/echo?q=tok").status_code == 200  # from memory
    assert UserStore(ws.path).revoke_token(info.id)  # e.g. `shopscope token revoke`
    time.sleep(3 * AUTH_CHECK_SECONDS)
    assert c.get("/api/test/echo?q=tok").status_code == 401


def test_a_load_invalidates_cached_answers(served, tmp_path):
    app, state, ws, _ = served
    c = login(app, "ann")
    before = c.get("/api/kpis/summary")
    assert c.get("/api/kpis/summary").content == before.content
    _slice(tmp_path / "b.csv", 4_000, 8_000)
    with state.lock:
        ingest_file(ws, tmp_path / "b.csv", preset="online_retail")
    state.refresh_version()  # what a load through the app does
    after = c.get("/api/kpis/summary")
    assert after.status_code == 200 and after.content != before.content
    assert after.headers["etag"] != before.headers["etag"]


# -- sessions and tokens in memory ------------------------------------------------------
def test_auth_cache_hits_skip_sqlite_and_changes_end_them(tmp_path, monkeypatch):
    users = UserStore(tmp_path)
    users.add("ann", PASSWORDS["ann"], "analyst")
    token, info = users.create_token("ann", "t")
    sid, _ = users.create_session(users.get("ann"))
    assert users.token_user(token).username == "ann"
    assert users.session(sid).user.username == "ann"
    opened = []
    real = users._db
    monkeypatch.setattr(users, "_db", lambda: opened.append(1) or real())
    for _ in range(5):
        assert users.token_user(token).role == "analyst"
        assert users.session(sid).user.role == "analyst"
    assert opened == []
    monkeypatch.undo()
    users.end_session(sid)  # logout: at once
    assert users.session(sid) is None
    assert users.revoke_token(info.id)
    assert users.token_user(token) is None
    sid, _ = users.create_session(users.get("ann"))
    assert users.session(sid) is not None
    users.set_password("ann", "another-pass-456")  # ends the sessions
    assert users.session(sid) is None


def test_auth_cache_is_bounded_and_refuses_stale_entries(tmp_path):
    users = UserStore(tmp_path)
    users.add("ann", PASSWORDS["ann"], "analyst")
    users._known.size = 3
    tokens = [users.create_token("ann", f"t{i}")[0] for i in range(5)]
    for t in tokens:
        assert users.token_user(t) is not None
    assert len(users._known.entries) == 3
    # a value read before a commit is not kept after it (a logout must not be undone)
    users._known.clear()
    _, version = users._known.get("t:x")
    UserStore(tmp_path).add("bob", "bob-pass-12345")
    users._known.put("t:x", users.get("ann"), version)
    assert "t:x" not in users._known.entries


def test_data_version_is_read_off_the_request_path(served, monkeypatch):
    app, state, _, _ = served
    asked = []
    store, known = state.workspace.store, state.known_version()
    real = type(store).data_version

    def spy(self):
        asked.append(threading.current_thread())
        return real(self)

    monkeypatch.setattr(type(store), "data_version", spy)
    c = login(app, "ann")
    for _ in range(3):
        assert state.data_version() == known
        assert c.get("/api/kpis?grain=week").status_code == 200
    time.sleep(2 * state.version_seconds)
    assert asked  # the watcher asks, every version_seconds, on its own thread ...
    assert all(t.name == "shopscope-version" for t in asked)  # ... and nobody else


def test_the_watcher_waits_while_a_request_is_inside(served, monkeypatch):
    # pages use the engine's connection outside the store lock, and it is not safe across
    # threads: the watcher must not query while a request runs
    app, state, _, _ = served
    asked, overlapping = [], []
    store = state.workspace.store
    real = type(store).data_version

    def spy(self):
        asked.append(1)
        if INSIDE.is_set():
            overlapping.append(1)
        return real(self)

    monkeypatch.setattr(type(store), "data_version", spy)
    c = login(app, "ann")
    assert c.get("/api/test/slow").status_code == 200
    assert overlapping == []
    time.sleep(2 * state.version_seconds)
    assert asked  # and it asks again once the request is done
