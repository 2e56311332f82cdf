"""Ingest from a database (shopscope.ingest.database): a real PostgreSQL server in a
throwaway cluster in a temporary folder of the test's own, whole tables, queries and incremental
loads by a watermark; the same against a real MariaDB server (Debian's mariadb-server), and
MySQL's SQL, URL and type handling without one.

The servers come from Debian's ``postgresql`` and ``mariadb-server`` packages (scripts/test.sh
installs them for CI). As root, initdb refuses to run and mariadbd wants a user, so the
servers run as the ``postgres`` and ``mysql`` users (runuser).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from shopscope.errors import InputError, SchemaError, ValidationFailed
from shopscope.ingest import database
from shopscope.ingest.database import DbSource, build_query
from shopscope.ingest.mapping import MappingError, ingest_mapping, load_mapping
from shopscope.store import Workspace
from shopscope.store.engine import INGEST_LOG, REJECTS
from tests.conftest import unavailable

psycopg = pytest.importorskip("psycopg", reason="the db extra (psycopg) is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A PostgreSQL cluster in ``root``: started on a free port (TCP on 127.0.0.1 and a
    unix socket in ``root``), stopped by :meth:`stop`."""

    def __init__(self, root: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            unavailable("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                unavailable("running as root without runuser: cannot start PostgreSQL")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres")

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], capture_output=True, text=True,
                              timeout=120, check=False)

    def start(self) -> None:
        for _ in range(2):  # once seen failing under memory pressure; a second try passed
            init = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                             "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
            if init.returncode == 0:
                break
            shutil.rmtree(self.data, ignore_errors=True)
        if init.returncode:
            unavailable(f"initdb failed: {init.stderr.strip()[-1500:]}")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=20")
        started = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts,
                            "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        if started.returncode:
            log = (self.root / "server.log")
            tail = log.read_text()[-400:] if log.exists() else started.stderr
            unavailable(f"PostgreSQL did not start: {tail.strip()}")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def url(self, db: str = "shop", password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{db}"

    def socket_url(self, db: str = "shop") -> str:
        return f"postgresql://postgres@/{db}?host={self.root}&port={self.port}"


@contextlib.contextmanager
def server_folder(prefix: str):
    """A temporary folder of the test's own, removed afterwards. Not under pytest's
    numbered folders: pytest sessions running beside this one prune those and reset
    their modes, which pulls the folder from under a server running as another user."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg():
    with server_folder("shopscope-pg-") as folder:
        server = PgServer(folder)
        server.start()
        try:
            with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
                conn.execute("CREATE DATABASE shop")
            yield server
        finally:
            server.stop()


def sql(server: PgServer, *statements: str, params: tuple = ()) -> None:
    with psycopg.connect(server.url()) as conn:
        for s in statements:
            conn.execute(s, params or None)


LINES = """CREATE TABLE {name} (
    line_id serial PRIMARY KEY, order_no text, customer text, ordered timestamp,
    sku text, qty integer, price numeric(10,2), updated_at timestamptz)"""

MAPPING = """
[[source]]
table = "order_lines"
{where}
constants = {{ channel = "web", status = "completed" }}
[source.columns]
order_id = "order_no"
customer_id = "customer"
ordered_at = "ordered"
product_id = "sku"
quantity = "qty"
unit_price = "price"
"""


def _mapping(tmp_path: Path, where: str) -> Path:
    path = tmp_path / "shop.toml"
    path.write_text(MAPPING.format(where=where), encoding="utf-8")
    return path


def _insert(server: PgServer, table: str, rows: list[tuple]) -> None:
    with psycopg.connect(server.url()) as conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} (order_no, customer, ordered, sku, qty, price, "
                        "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)


T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)


def _ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "ws", timezone="UTC")


def _gross(ws: Workspace) -> dict[str, float]:
    frame = ws.store.table("orders").execute()
    return dict(zip(frame.order_id, frame.gross_amount, strict=True))


def test_whole_table_loads_with_types_and_is_not_read_twice(pg, tmp_path):
    sql(pg, LINES.format(name="lines_a"))
    _insert(pg, "lines_a", [
        ("A1", "c1", dt.datetime(2024, 5, 1, 9, 30), "TEA", 2, "3.50", T0),
        ("A1", "c1", dt.datetime(2024, 5, 1, 9, 30), "CUP", 1, "8.00", T0),
        ("B7", "c2", dt.datetime(2024, 5, 2, 14, 0), "TEA", 3, "3.25", T0),
    ])
    mapping = _mapping(tmp_path, f'url = "{pg.url()}"\ndb_table = "public.lines_a"')
    ws = _ws(tmp_path)
    try:
        (result,) = ingest_mapping(ws, mapping)
        assert result.rows_added == {"customers": 2, "products": 2, "orders": 2,
                                     "order_items": 3}
        # by hand: A1 = 2 × 3.50 + 1 × 8.00; B7 = 3 × 3.25
        assert _gross(ws) == {"A1": 15.0, "B7": 9.75}
        ordered = ws.store.table("orders").execute().set_index("order_id").ordered_at
        assert ordered["B7"] == dt.datetime(2024, 5, 2, 14, 0)  # a timestamp cell, as stored
        assert result.source == f"postgresql://postgres@127.0.0.1:{pg.port}/shop public.lines_a"
        (again,) = ingest_mapping(ws, mapping)  # same rows: skipped, nothing logged
        assert again.skipped and "already loaded" in again.report.notes[0]
        assert ws.store.row_count(INGEST_LOG) == 4
    finally:
        ws.close()


def test_incremental_load_reads_only_newer_rows_and_survives_reopening(pg, tmp_path):
    sql(pg, LINES.format(name="lines_b"))
    _insert(pg, "lines_b", [
        ("A1", "c1", dt.datetime(2024, 5, 1, 9), "TEA", 2, "3.50", T0),
        ("A2", "c1", dt.datetime(2024, 5, 1, 11), "CUP", 1, "8.00", T0 + dt.timedelta(hours=1)),
    ])
    mapping = _mapping(tmp_path, f'url = "{pg.url()}"\ndb_table = "lines_b"\n'
                                 'watermark = "updated_at"')
    ws = _ws(tmp_path)
    (first,) = ingest_mapping(ws, mapping)
    assert first.rows_added["orders"] == 2
    ws.close()

    # A new order, and a row whose watermark is not newer (it must not be read).
    _insert(pg, "lines_b", [
        ("A3", "c2", dt.datetime(2024, 5, 3, 9), "TEA", 4, "3.50", T0 + dt.timedelta(hours=2)),
        ("A9", "c9", dt.datetime(2024, 5, 3, 9), "TEA", 1, "1.00", T0 - dt.timedelta(days=1)),
    ])
    ws = Workspace.open(tmp_path / "ws")  # the watermark is in the workspace, not in memory
    try:
        (second,) = ingest_mapping(ws, mapping)
        assert second.rows_added == {"customers": 1, "products": 0, "orders": 1,
                                     "order_items": 1}
        assert any("1 row(s) with updated_at > 2024-05-01 11:00:00+00:00" in n
                   for n in second.report.notes), second.report.notes
        assert set(_gross(ws)) == {"A1", "A2", "A3"}
        log_rows = ws.store.row_count(INGEST_LOG)
        (third,) = ingest_mapping(ws, mapping)  # nothing newer: nothing read, nothing logged
        assert third.skipped and "no rows with updated_at after" in third.report.notes[0]
        assert ws.store.row_count(INGEST_LOG) == log_rows
        # --force reads every row again: only A9, never read, is new; the others are keyed
        (forced,) = ingest_mapping(ws, mapping, force=True)
        assert forced.rows_added == {"customers": 1, "products": 0, "orders": 1,
                                     "order_items": 1}
        assert set(_gross(ws)) == {"A1", "A2", "A3", "A9"}
    finally:
        ws.close()


def test_rejected_increment_keeps_the_watermark_so_fixed_rows_load_next_time(pg, tmp_path):
    sql(pg, LINES.format(name="lines_c"))
    _insert(pg, "lines_c", [("A1", "c1", dt.datetime(2024, 5, 1, 9), "TEA", 2, "3.50", T0)])
    mapping = _mapping(tmp_path, f'url = "{pg.url()}"\ndb_table = "lines_c"\n'
                                 'watermark = "updated_at"')
    ws = _ws(tmp_path)
    try:
        ingest_mapping(ws, mapping)
        later = T0 + dt.timedelta(hours=1)
        _insert(pg, "lines_c", [
            ("A2", "c1", dt.datetime(2024, 5, 2, 9), "TEA", 1, "3.50", later),
            ("A3", "c1", dt.datetime(2024, 5, 2, 9), "TEA", -5, "3.50", later),
        ])
        with pytest.raises(ValidationFailed) as info:
            ingest_mapping(ws, mapping)
        (problem,) = info.value.report.problems
        assert (problem.row, problem.column) == (2, "qty")  # row 2 of what was read
        assert set(_gross(ws)) == {"A1"}  # all or nothing: A2 did not load either
        sql(pg, "UPDATE lines_c SET qty = 5 WHERE order_no = 'A3'")
        (fixed,) = ingest_mapping(ws, mapping)  # the same rows are read again
        assert fixed.rows_added["orders"] == 2
        assert _gross(ws) == {"A1": 7.0, "A2": 3.5, "A3": 17.5}
    finally:
        ws.close()


def test_query_source_by_socket_with_quarantine_names_source_without_password(pg, tmp_path,
                                                                               monkeypatch):
    sql(pg, LINES.format(name="lines_d"))
    _insert(pg, "lines_d", [
        ("A1", "c1", dt.datetime(2024, 5, 1, 9), "TEA", 2, "3.50", T0),
        ("A2", "c1", dt.datetime(2024, 5, 1, 9), "TEA", 0, "3.50", T0),  # quantity 0: bad
        ("Z9", "c1", dt.datetime(2024, 5, 1, 9), "TEA", 9, "9.00", T0),  # filtered out
    ])
    monkeypatch.setenv("SS_TEST_PG_PW", "s3cret")
    mapping = _mapping(tmp_path, f'url = "{pg.url(password="${SS_TEST_PG_PW}")}"\n'
                                 "query = \"SELECT * FROM lines_d WHERE order_no LIKE 'A%'\"")
    ws = _ws(tmp_path)
    try:
        (result,) = ingest_mapping(ws, mapping, policy="quarantine")
        assert _gross(ws) == {"A1": 7.0}
        rejects = ws.store.table(REJECTS).execute()
        assert list(rejects.column.unique()) == ["qty"]
        logged = " ".join(ws.store.table(INGEST_LOG).execute().source)
        assert "s3cret" not in logged + " ".join(rejects.source) + result.source
        assert result.source.endswith("/shop query")
    finally:
        ws.close()
    # the unix socket form of the URL, from the command line as the brief's example
    _insert(pg, "lines_d", [("A5", "c3", dt.datetime(2024, 5, 4, 9), "CUP", 1, "8", T0)])
    plain = _mapping(tmp_path, "")
    proc = subprocess.run(
        [sys.executable, "-m", "shopscope.cli", "ingest", pg.socket_url(), "--mapping",
         str(plain), "--db-table", "lines_d", "--policy", "quarantine", "-w", str(tmp_path / "ws")],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    assert "loaded postgresql://postgres@/shop lines_d" in " ".join(proc.stdout.split())
    ws = Workspace.open(tmp_path / "ws")
    try:
        assert set(_gross(ws)) == {"A1", "A5", "Z9"}
    finally:
        ws.close()


def test_database_errors_say_what_and_how(pg, tmp_path):
    ws = _ws(tmp_path)
    try:
        missing = _mapping(tmp_path, f'url = "{pg.url()}"\ndb_table = "no_such_table"')
        with pytest.raises(InputError, match="refused the read: .*no_such_table") as info:
            ingest_mapping(ws, missing)
        assert "check that no_such_table exists" in info.value.hint
        closed = _mapping(tmp_path, f'url = "postgresql://postgres:pw@127.0.0.1:{_free_port()}'
                                    '/shop"\ndb_table = "orders"')
        with pytest.raises(InputError, match="cannot connect") as info:
            ingest_mapping(ws, closed)
        assert ":pw@" not in info.value.message
        injected = _mapping(tmp_path, f'url = "{pg.url()}"\ndb_table = "x; DROP TABLE y"')
        with pytest.raises(SchemaError, match="not a table or column name"):
            ingest_mapping(ws, injected)
        no_url = _mapping(tmp_path, 'db_table = "orders"')
        with pytest.raises(SchemaError, match="no file and no database URL"):
            ingest_mapping(ws, no_url)
        both = _mapping(tmp_path, 'file = "x.csv"\nurl = "postgresql://h/d"')
        with pytest.raises(MappingError, match="a file or a database, not both"):
            load_mapping(both)
    finally:
        ws.close()


def test_a_query_cannot_write_to_the_database(pg, tmp_path):
    sql(pg, "CREATE SEQUENCE counter")
    mapping = _mapping(tmp_path, f'url = "{pg.url()}"\n'
                                 "query = \"SELECT nextval('counter') AS n\"")
    ws = _ws(tmp_path)
    try:
        with pytest.raises(InputError, match="read-only"):
            ingest_mapping(ws, mapping)
    finally:
        ws.close()


# -- MySQL / MariaDB: a real server (Debian's mariadb-server) ----------------------------------


class MariaServer:
    """A MariaDB server in ``root`` on a free port, grant tables skipped (any user may
    connect: the test is about reading, not about MariaDB's accounts)."""

    def __init__(self, root: Path) -> None:
        self.install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        self.server = shutil.which("mariadbd", path="/usr/sbin:/usr/bin") or shutil.which(
            "mysqld", path="/usr/sbin:/usr/bin")
        if not self.install or not self.server:
            unavailable("MariaDB is not installed (apt-get install mariadb-server)")
        self.root = root
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "mysql", "--"]
            shutil.chown(root, "mysql")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        init = subprocess.run([*self.as_user, self.install, f"--datadir={self.root / 'data'}",
                               "--auth-root-authentication-method=normal", "--skip-test-db"],
                              capture_output=True, text=True, timeout=300, check=False)
        if init.returncode:
            unavailable(f"mariadb-install-db failed: {init.stderr.strip()[-800:]}")
        self.proc = subprocess.Popen(
            [*self.as_user, self.server, "--no-defaults", f"--datadir={self.root / 'data'}",
             f"--socket={self.root / 'sock'}", f"--port={self.port}",
             "--bind-address=127.0.0.1", "--skip-grant-tables",
             "--innodb-flush-log-at-trx-commit=0", f"--log-error={self.root / 'err.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import pymysql

        deadline = time.monotonic() + 90
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root").close()
                return
            except pymysql.MySQLError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    log = self.root / "err.log"
                    self.stop()
                    unavailable("MariaDB did not start: "
                                + (log.read_text()[-400:] if log.exists() else "no log"))
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def url(self) -> str:
        return f"mysql://shop:pw@127.0.0.1:{self.port}/shop"


@pytest.fixture(scope="module")
def maria():
    pymysql = pytest.importorskip("pymysql", reason="the db extra (pymysql) is not installed")
    with server_folder("shopscope-maria-") as folder:
        yield from _maria(pymysql, folder)


def _maria(pymysql, folder: Path):
    server = MariaServer(folder)
    server.start()
    try:
        conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", autocommit=True)
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE shop")
            # LINES is a reserved word: the reader must quote the name
            cur.execute("""CREATE TABLE shop.`lines` (
                line_id int AUTO_INCREMENT PRIMARY KEY, order_no varchar(20),
                customer varchar(20), ordered datetime, sku varchar(20), qty int,
                price decimal(10,2), updated_at datetime(6))""")
        conn.close()
        yield server
    finally:
        server.stop()


def _maria_insert(server: MariaServer, rows: list[tuple]) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=server.port, user="root", database="shop",
                           autocommit=True)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO `lines` (order_no, customer, ordered, sku, qty, price, "
                        "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    conn.close()


def test_mariadb_table_loads_incrementally(maria, tmp_path):
    t0 = dt.datetime(2024, 5, 1, 10, 0, 0, 250000)
    _maria_insert(maria, [
        ("M1", "c1", dt.datetime(2024, 5, 1, 9, 0), "TEA", 2, "3.50", t0),
        ("M1", "c1", dt.datetime(2024, 5, 1, 9, 0), "CUP", 1, "8.00", t0),
    ])
    mapping = _mapping(tmp_path, f'url = "{maria.url()}"\ndb_table = "shop.lines"\n'
                                 'watermark = "updated_at"')
    ws = _ws(tmp_path)
    try:
        (first,) = ingest_mapping(ws, mapping)
        assert first.rows_added["order_items"] == 2
        assert _gross(ws) == {"M1": 15.0}  # 2 × 3.50 + 8.00, decimals read as numbers
        assert first.source == f"mysql://shop@127.0.0.1:{maria.port}/shop shop.lines"
        _maria_insert(maria, [
            ("M2", "c2", dt.datetime(2024, 5, 2, 9, 0), "TEA", 3, "3.25",
             t0 + dt.timedelta(microseconds=1)),  # newer by a microsecond: read
            ("M0", "c0", dt.datetime(2024, 5, 2, 9, 0), "TEA", 1, "1.00", t0),  # tie: not read
        ])
        (second,) = ingest_mapping(ws, mapping)
        assert second.rows_added["orders"] == 1
        assert _gross(ws) == {"M1": 15.0, "M2": 9.75}
        (third,) = ingest_mapping(ws, mapping)
        assert third.skipped
        bad = _mapping(tmp_path, f'url = "{maria.url()}"\ndb_table = "shop.nothing"')
        with pytest.raises(InputError, match="refused the read: .*nothing"):
            ingest_mapping(ws, bad)
    finally:
        ws.close()


# -- MySQL: the SQL, URL, types and watermarks without a server -------------------------------


def test_mysql_sql_quotes_names_and_filters_by_watermark():
    src = DbSource("mysql://u@h/shop", db_table="shop.orders", watermark="updated_at")
    expected = ("SELECT * FROM `shop`.`orders` AS src WHERE src.`updated_at` > %s "
                "ORDER BY src.`updated_at`")
    assert build_query(src, dt.datetime(2024, 1, 2)) == (expected, [dt.datetime(2024, 1, 2)])
    with pytest.raises(SchemaError, match="one SELECT statement"):
        build_query(DbSource("mysql://u@h/shop", query="SELECT 1; DROP TABLE t"))
    with pytest.raises(SchemaError, match="not a table or column name"):
        build_query(DbSource("mysql://u@h/shop", db_table="orders`; --"))


def test_mysql_types_become_arrow_types():
    import pyarrow as pa
    from pymysql.constants import FIELD_TYPE as F

    assert database._arrow_type_mysql(F.LONGLONG) == pa.int64()
    assert database._arrow_type_mysql(F.NEWDECIMAL) == pa.float64()
    assert database._arrow_type_mysql(F.DATETIME) == pa.timestamp("us")
    assert database._arrow_type_mysql(F.VAR_STRING) == pa.string()


def test_watermarks_round_trip_and_the_highest_wins():
    ident = "abc"
    logged = [database.fingerprint_of(ident, v) for v in
              (dt.datetime(2024, 1, 3), dt.datetime(2024, 1, 10), dt.datetime(2024, 1, 5))]
    logged += [database.fingerprint_of("other", dt.datetime(2030, 1, 1)),
               database.fingerprint_of(ident, None, "rowshash")]
    assert database.last_watermark(logged, ident) == dt.datetime(2024, 1, 10)
    assert database.last_watermark(logged[3:], ident) is None
    for value in (17, dt.date(2024, 2, 29), "k-0009",
                  dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=dt.UTC)):
        assert database.decode_watermark(database.encode_watermark(value)) == value


def test_mysql_server_unreachable_is_a_clear_error(tmp_path):
    pytest.importorskip("pymysql")
    mapping = _mapping(tmp_path, f'url = "mysql://shop:pw@127.0.0.1:{_free_port()}/shop"\n'
                                 'db_table = "orders"')
    ws = _ws(tmp_path)
    try:
        with pytest.raises(InputError, match=r"mysql://shop@127.0.0.1:\d+/shop: cannot connect"):
            ingest_mapping(ws, mapping)
    finally:
        ws.close()


def test_values_that_fit_no_type_are_named_not_crashed_on():
    import pyarrow as pa

    schema = database._schema(["id", "placed"], [pa.int64(), pa.timestamp("us")], "db t")
    rows = [(1, dt.datetime(2024, 1, 1)), (2, "0000-00-00 00:00:00")]  # MySQL's zero date
    with pytest.raises(InputError, match="column 'placed' holds '0000-00-00 00:00:00'"):
        list(database._batches(iter(rows), schema, 1, "db t"))
    good = [(1, dt.datetime(2024, 1, 1)), (None, None)]
    (batch,) = database._batches(iter(good), schema, 1, "db t")
    assert batch.column("_row").to_pylist() == [1, 2]
    assert batch.column("id").to_pylist() == [1, None]
