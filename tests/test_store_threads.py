"""The DuckDB store from many threads at once: each thread has its own connection, so
concurrent reads neither fail nor see each other's temporary tables, and session settings
(UTC) hold in every thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import ibis
import pyarrow as pa
import pytest

from shopscope.store import connect


@pytest.fixture
def store(tmp_path):
    s = connect(f"duckdb:///{tmp_path}/t.duckdb")
    s.backend.raw_sql("CREATE TABLE n AS SELECT range AS i FROM range(200000)")
    yield s
    s.close()


def test_concurrent_reads_all_answer(store):
    t = store.backend.table("n")
    expected = sum(range(200000))  # hand formula n(n-1)/2 = 19,999,900,000

    def read(k: int) -> int:
        return int((t.i + k - k).sum().execute())

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(read, range(64)))
    assert expected == 19_999_900_000
    assert got == [expected] * 64


def test_each_thread_has_its_own_connection_and_settings(store):
    cons: dict[str, object] = {}

    def look(name: str) -> None:
        cons[name] = store.backend.con
        tz = store.backend.con.sql("SELECT current_setting('TimeZone')").fetchone()[0]
        repl = store.backend.con.sql(
            "SELECT current_setting('python_enable_replacements')").fetchone()[0]
        cons[name + "-settings"] = (tz, repl)

    threads = [threading.Thread(target=look, args=(f"t{i}",)) for i in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ids = {id(cons[f"t{i}"]) for i in range(3)} | {id(store.backend.con)}
    assert len(ids) == 4
    assert {cons[f"t{i}-settings"] for i in range(3)} == {("UTC", False)}


def test_memtable_registered_in_one_thread_is_usable_in_another(store):
    mt = ibis.memtable(pa.table({"a": [1, 2, 3]}))
    assert int(mt.a.sum().execute()) == 6
    out: list[int] = []
    th = threading.Thread(target=lambda: out.append(int(mt.a.sum().execute())))
    th.start()
    th.join()
    assert out == [6]


def test_a_thread_sees_committed_writes_of_another(store):
    def write() -> None:
        with store.transaction():
            store.backend.raw_sql("CREATE TABLE w AS SELECT 41 + 1 AS v")

    th = threading.Thread(target=write)
    th.start()
    th.join()
    assert store.backend.table("w").v.execute().tolist() == [42]
