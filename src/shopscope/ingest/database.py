"""Read a table or a query from PostgreSQL or MySQL/MariaDB, whole or incrementally.

A mapping's ``[[source]]`` may name a database instead of a file::

    [[source]]
    url = "${SHOP_DB_URL}"          # postgresql://… or mysql://…; ${VAR} from the environment
    db_table = "public.orders"      # or: query = "SELECT … FROM …"
    watermark = "updated_at"        # optional: read only rows newer than the last load's
    table = "orders"                # the canonical table, as for files

Rows are streamed from a server-side cursor in batches into Arrow (typed: integers,
numbers, booleans, dates and times keep their type; everything else is text), then go
through the same mapping, validation and atomic load as a file's rows.

The watermark: a run reads ``WHERE watermark > last`` (``last`` = the highest value an
earlier load of the same source stored) ordered by it, and the new highest value is part
of the load's fingerprint in the ingest log, so it is committed with the rows in the same
transaction (a load that fails or is rolled back leaves the old watermark). A run that
finds no newer row loads nothing. Rows whose key is already stored are never added twice,
so re-reading rows (``--force``, or a watermark that ties) is idempotent; a changed row
whose key is stored is not updated (the store only appends).

The drivers are the optional extra ``db`` (``pip install 'shopscope[db]'``): psycopg 3 for
PostgreSQL and PyMySQL for MySQL/MariaDB. DuckDB's postgres/mysql extensions are not used:
they are downloaded at run time, and shopscope runs without network.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from shopscope.errors import InputError, SchemaError
from shopscope.ingest.readers import ROW

__all__ = ["DbRead", "DbSource", "build_query", "dialect_of", "read_rows", "safe_url"]

Dialect = Literal["postgresql", "mysql"]
SCHEMES: dict[str, Dialect] = {
    "postgresql": "postgresql", "postgres": "postgresql",
    "mysql": "mysql", "mariadb": "mysql",
}
#: Rows fetched per round trip and per Arrow batch.
BATCH_ROWS = 50_000
#: Prefix of the ingest log's fingerprint of a database load (the watermark follows it).
FINGERPRINT_PREFIX = "db1"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONNECT_HINT = ("check the host, port, database, user and password (a password can come from "
                 "the environment: ${VAR} in the URL, or PGPASSWORD / ~/.pgpass for PostgreSQL)")


@dataclass(frozen=True)
class DbSource:
    """What to read: the server, the relation (a table or a query) and the watermark."""

    url: str
    db_table: str | None = None
    query: str | None = None
    watermark: str | None = None

    @property
    def dialect(self) -> Dialect:
        return dialect_of(self.url)

    def label(self) -> str:
        """How loads and problems name this source: the URL without password, and what
        was read from it."""
        what = self.db_table or "query"
        return f"{safe_url(self.url)} {what}"


@dataclass
class DbRead:
    """The rows read (with ``_row`` numbers) and the highest watermark among them."""

    data: pa.Table
    high: Any = None
    notes: list[str] = field(default_factory=list)


def expand_env(url: str) -> str:
    """``${VAR}`` replaced by the environment's value (passwords stay out of mapping files).

    >>> os.environ["SS_DOCTEST_PW"] = "s3cret"
    >>> expand_env("postgresql://shop:${SS_DOCTEST_PW}@db/shop")
    'postgresql://shop:s3cret@db/shop'
    """
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise SchemaError(f"database URL: the environment variable {name} is not set",
                              hint=f"export {name}=… before running, or write the URL out")
        return os.environ[name]

    return _ENV.sub(value, url)


def dialect_of(url: str) -> Dialect:
    """The database kind of a URL.

    >>> dialect_of("postgresql://u@h/db"), dialect_of("mariadb://u@h/db")
    ('postgresql', 'mysql')
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    scheme = scheme.split("+", 1)[0]  # postgresql+psycopg:// as SQLAlchemy writes it
    if scheme not in SCHEMES:
        raise SchemaError(f"database URL {safe_url(url)!r}: unknown kind {scheme!r}",
                          hint="use postgresql://user@host:5432/db or mysql://user@host:3306/db")
    return SCHEMES[scheme]


def safe_url(url: str) -> str:
    """The URL without its password (for logs, messages and the ingest log).

    >>> safe_url("postgresql://shop:s3cret@db.local:5432/shop?sslmode=require")
    'postgresql://shop@db.local:5432/shop'
    >>> safe_url("postgresql:///shop?host=/tmp&password=x")
    'postgresql:///shop'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unreadable URL)"
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


def quote_ident(name: str, dialect: Dialect) -> str:
    """A (schema-qualified) table or column name quoted for ``dialect``; names must be
    plain identifiers, so no SQL can ride along.

    >>> quote_ident("public.orders", "postgresql"), quote_ident("shop.orders", "mysql")
    ('"public"."orders"', '`shop`.`orders`')
    """
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(_IDENT.match(p) for p in parts):
        raise SchemaError(f"{name!r} is not a table or column name",
                          hint="letters, digits, _ and $, optionally schema.table; "
                               "for anything else use query = \"SELECT …\"")
    q = '"' if dialect == "postgresql" else "`"
    return ".".join(f"{q}{p}{q}" for p in parts)


def build_query(source: DbSource, since: Any = None) -> tuple[str, list[Any]]:
    """The SQL and parameters that read ``source``: the table or the query as a subquery,
    with ``watermark > since`` and ordered by the watermark when there is one.

    >>> build_query(DbSource("postgresql://h/d", db_table="orders", watermark="id"), 5)
    ('SELECT * FROM "orders" AS src WHERE src."id" > %s ORDER BY src."id"', [5])
    >>> build_query(DbSource("mysql://h/d", query="SELECT * FROM t;", watermark="ts"))
    ('SELECT * FROM (SELECT * FROM t) AS src WHERE src.`ts` IS NOT NULL ORDER BY src.`ts`', [])
    """
    dialect = source.dialect
    if (source.db_table is None) == (source.query is None):
        raise SchemaError("a database source needs db_table or query (one of them)",
                          hint='db_table = "public.orders" or query = "SELECT … FROM …"')
    if source.db_table is not None:
        relation = quote_ident(source.db_table, dialect)
    else:
        text = source.query.strip().rstrip(";").strip()  # type: ignore[union-attr]
        if not text or ";" in text:
            raise SchemaError("query must be one SELECT statement",
                              hint="remove the other statements")
        relation = f"({text})"
    # the mapping's author writes the query; it runs in a read-only session
    sql = f"SELECT * FROM {relation} AS src"  # noqa: S608
    params: list[Any] = []
    if source.watermark:
        wm = f"src.{quote_ident(source.watermark, dialect)}"
        if since is None:
            sql += f" WHERE {wm} IS NOT NULL"
        else:
            sql += f" WHERE {wm} > %s"
            params.append(since)
        sql += f" ORDER BY {wm}"
    return sql, params


# -- watermarks in the ingest log's fingerprints ---------------------------------------------


def identity(source: DbSource, settings: str) -> str:
    """What names one source across runs: server (without password), relation, watermark
    column and the mapping settings that shape its rows."""
    h = hashlib.sha256()
    for part in (safe_url(source.url), source.db_table or "", source.query or "",
                 source.watermark or "", settings):
        h.update(part.encode() + b"\x00")
    return h.hexdigest()[:32]


def encode_watermark(value: Any) -> str:
    """A watermark as text that :func:`decode_watermark` turns back into the same value.

    >>> encode_watermark(dt.datetime(2024, 5, 1, 12, 30))
    '{"t": "ts", "v": "2024-05-01T12:30:00"}'
    >>> decode_watermark(encode_watermark(dt.datetime(2024, 5, 1, 12, 30)))
    datetime.datetime(2024, 5, 1, 12, 30)
    """
    if isinstance(value, dt.datetime):
        kind, text = "ts", value.isoformat()
    elif isinstance(value, dt.date):
        kind, text = "date", value.isoformat()
    elif isinstance(value, bool):
        raise SchemaError("a watermark column cannot be true/false",
                          hint="use a time, a date or an increasing number")
    elif isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, float | decimal.Decimal):
        kind, text = "num", str(value)
    else:
        kind, text = "str", str(value)
    return json.dumps({"t": kind, "v": text})


def decode_watermark(text: str) -> Any:
    data = json.loads(text)
    kind, value = data["t"], data["v"]
    if kind == "ts":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "int":
        return int(value)
    if kind == "num":
        return decimal.Decimal(value)
    return value


def fingerprint_of(ident: str, high: Any, content: str = "") -> str:
    """The ingest log's fingerprint of one database load: the source's identity, then the
    highest watermark loaded (or, without a watermark, a hash of the rows read)."""
    tail = encode_watermark(high) if high is not None else f"rows:{content}"
    return f"{FINGERPRINT_PREFIX}:{ident}:{tail}"


def last_watermark(fingerprints: Sequence[str], ident: str) -> Any:
    """The highest watermark among the ingest log's fingerprints of source ``ident``
    (None: never loaded incrementally)."""
    prefix = f"{FINGERPRINT_PREFIX}:{ident}:"
    values = [decode_watermark(f[len(prefix):]) for f in fingerprints
              if f.startswith(prefix) and f[len(prefix):].startswith("{")]
    return max(values) if values else None


# -- reading ---------------------------------------------------------------------------------

_PG_TYPES: dict[str, pa.DataType] = {
    "int2": pa.int64(), "int4": pa.int64(), "int8": pa.int64(), "oid": pa.int64(),
    "float4": pa.float64(), "float8": pa.float64(), "numeric": pa.float64(),
    "bool": pa.bool_(), "date": pa.date32(), "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


def _arrow_type_pg(type_name: str) -> pa.DataType:
    return _PG_TYPES.get(type_name, pa.string())


def _arrow_type_mysql(type_code: int) -> pa.DataType:
    from pymysql.constants import FIELD_TYPE as F

    if type_code in (F.TINY, F.SHORT, F.LONG, F.LONGLONG, F.INT24, F.YEAR):
        return pa.int64()
    if type_code in (F.FLOAT, F.DOUBLE, F.DECIMAL, F.NEWDECIMAL):
        return pa.float64()
    if type_code in (F.DATE, F.NEWDATE):
        return pa.date32()
    if type_code in (F.DATETIME, F.TIMESTAMP):
        return pa.timestamp("us")
    return pa.string()


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(kind):
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value).decode("utf-8", "replace")
        return str(value)
    if pa.types.is_floating(kind) and isinstance(value, decimal.Decimal):
        return float(value)
    if pa.types.is_timestamp(kind) and kind.tz and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value


def _fits(value: Any, kind: pa.DataType) -> bool:
    try:
        pa.array([value], type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    return True


def _batches(rows: Iterator[Sequence[Any]], schema: pa.Schema, first_row: int,
             label: str = "database") -> Iterator[pa.RecordBatch]:
    n = first_row
    chunk: list[Sequence[Any]] = []

    def column(values: tuple[Any, ...], field: pa.Field) -> pa.Array:
        try:  # most columns convert as they come (C speed); the rest cell by cell
            return pa.array(values, type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        cells = [_cell(v, field.type) for v in values]
        try:
            return pa.array(cells, type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # e.g. MySQL's zero date 0000-00-00, which is no date
            bad = next(v for v in cells if not _fits(v, field.type))
            raise InputError(f"{label}: column {field.name!r} holds {bad!r}, which is not "
                             f"a {field.type}", hint=f"cast or clean it in a query "
                             f"(query = \"SELECT …, NULLIF(…) AS {field.name} …\")") from None

    def flush() -> pa.RecordBatch:
        by_column = list(zip(*chunk, strict=True))
        columns = [column(by_column[i], f) for i, f in enumerate(schema) if f.name != ROW]
        numbers = pa.array(range(n, n + len(chunk)), type=pa.int64())
        return pa.RecordBatch.from_arrays([*columns, numbers], schema=schema)

    for row in rows:
        chunk.append(row)
        if len(chunk) >= BATCH_ROWS:
            yield flush()
            n += len(chunk)
            chunk = []
    if chunk:
        yield flush()


def _schema(names: list[str], types: list[pa.DataType], label: str) -> pa.Schema:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{label}: the result has two columns named {name!r}",
                             hint="give every column its own name (… AS other_name)")
        if name == ROW:
            raise InputError(f"{label}: a column is named {ROW!r}, which shopscope uses "
                             "for row numbers", hint=f"rename it (… AS {ROW}_src)")
        seen.add(name)
    return pa.schema([*(pa.field(n, t) for n, t in zip(names, types, strict=True)),
                      pa.field(ROW, pa.int64())])


def _fetch(cursor: Any, size: int) -> Iterator[Sequence[Any]]:
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        yield from rows


def _read_postgresql(source: DbSource, url: str, sql: str, params: list[Any],
                     timeout: int) -> pa.Table:
    try:
        import psycopg
    except ImportError as exc:
        raise InputError("reading PostgreSQL needs the psycopg driver",
                         hint="pip install 'shopscope[db]'") from exc
    label = source.label()
    try:
        conn = psycopg.connect(_plain_scheme(url), connect_timeout=timeout, autocommit=False)
    except psycopg.Error as exc:
        raise InputError(f"{safe_url(url)}: cannot connect: {_first_line(exc)}",
                         hint=_CONNECT_HINT) from None
    try:
        conn.read_only = True  # shopscope only reads; a query cannot change the shop's data
        with conn.cursor(name="shopscope_read") as cur:
            cur.execute(sql, params or None)
            names, types = [], []
            for d in cur.description or []:
                info = psycopg.adapters.types.get(d.type_code)
                names.append(d.name)
                types.append(_arrow_type_pg(info.name if info else ""))
            schema = _schema(names, types, label)
            rows = _fetch(cur, BATCH_ROWS)
            table = pa.Table.from_batches(list(_batches(rows, schema, 1, label)), schema=schema)
        conn.rollback()
        return table
    except psycopg.Error as exc:
        raise InputError(f"{label}: the database refused the read: {_first_line(exc)}",
                         hint=_relation_hint(source)) from None
    finally:
        conn.close()


def _plain_scheme(url: str) -> str:
    """``postgresql+psycopg://`` (SQLAlchemy's spelling) as libpq reads it.

    >>> _plain_scheme("postgresql+psycopg://u@h/db")
    'postgresql://u@h/db'
    """
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def _mysql_args(url: str, timeout: int) -> dict[str, Any]:
    """PyMySQL's connect() arguments for a mysql:// URL.

    >>> a = _mysql_args("mysql://shop:p%40ss@db.local:3307/shop?charset=utf8mb4", 5)
    >>> (a["host"], a["port"], a["user"], a["password"], a["database"], a["charset"])
    ('db.local', 3307, 'shop', 'p@ss', 'shop', 'utf8mb4')
    >>> _mysql_args("mysql://root@/shop?unix_socket=/tmp/my.sock", 5)["unix_socket"]
    '/tmp/my.sock'
    """
    from urllib.parse import parse_qsl

    parts = urlsplit(url)
    args: dict[str, Any] = {
        "host": parts.hostname or "localhost", "port": parts.port or 3306,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else
        os.environ.get("MYSQL_PWD", ""),
        "database": parts.path.lstrip("/") or None, "connect_timeout": timeout,
        "charset": "utf8mb4",
    }
    for key, value in parse_qsl(parts.query):
        if key in ("charset", "unix_socket"):
            args[key] = value
        elif key in ("ssl_ca", "ssl_cert", "ssl_key"):
            args.setdefault("ssl", {})[key.removeprefix("ssl_")] = value
    return args


def _read_mysql(source: DbSource, url: str, sql: str, params: list[Any],
                timeout: int) -> pa.Table:
    try:
        import pymysql
        import pymysql.cursors
    except ImportError as exc:
        raise InputError("reading MySQL needs the PyMySQL driver",
                         hint="pip install 'shopscope[db]'") from exc
    label = source.label()
    try:
        conn = pymysql.connect(**_mysql_args(url, timeout),
                               cursorclass=pymysql.cursors.SSCursor)
    except pymysql.MySQLError as exc:
        raise InputError(f"{safe_url(url)}: cannot connect: {_first_line(exc)}",
                         hint=_CONNECT_HINT) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute("START TRANSACTION")
            cur.execute(sql, params or None)
            desc = cur.description or []
            schema = _schema([d[0] for d in desc], [_arrow_type_mysql(d[1]) for d in desc],
                             label)
            rows = _fetch(cur, BATCH_ROWS)
            return pa.Table.from_batches(list(_batches(rows, schema, 1, label)), schema=schema)
    except pymysql.MySQLError as exc:
        raise InputError(f"{label}: the database refused the read: {_first_line(exc)}",
                         hint=_relation_hint(source)) from None
    finally:
        conn.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _relation_hint(source: DbSource) -> str:
    if source.db_table:
        return (f"check that {source.db_table} exists and the user may read it"
                + (f", and that it has the column {source.watermark}" if source.watermark
                   else ""))
    return "run the query in the database's own client to see what is wrong"


def read_rows(source: DbSource, since: Any = None, *, timeout: int = 15) -> DbRead:
    """Read ``source`` (rows with a watermark above ``since``, when it has one).

    Raises
    ------
    InputError
        No driver, no connection, or the server refused the query (message from the server,
        password never shown).
    SchemaError
        A bad URL, table name or query.
    """
    url = expand_env(source.url)
    sql, params = build_query(source, since)
    reader = _read_postgresql if source.dialect == "postgresql" else _read_mysql
    table = reader(source, url, sql, params, timeout)
    read = DbRead(table)
    if source.watermark:
        if source.watermark not in table.column_names:
            raise InputError(f"{source.label()}: no column {source.watermark!r} to use as "
                             "the watermark", hint="name a column the table or query returns")
        column = table.column(source.watermark)
        if table.num_rows:
            read.high = max(v for v in column.to_pylist() if v is not None)
            if isinstance(read.high, dt.datetime) and read.high.tzinfo is not None:
                read.high = read.high.astimezone(dt.UTC)
        read.notes.append(
            f"{table.num_rows:,} row(s) with {source.watermark} > {since}" if since is not None
            else f"{table.num_rows:,} row(s) (first incremental load by {source.watermark})")
    return read


def content_hash(table: pa.Table) -> str:
    """A hash of the rows read (a source without a watermark loaded twice unchanged is
    skipped as already loaded)."""
    from pyarrow import ipc

    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:32]


# -- a mapping's database sources ---------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseOverride:
    """What the command line says about a mapping's database sources (those without
    ``file``): the URL, and the table or query when the mapping has one such source."""

    url: str | None = None
    db_table: str | None = None
    query: str | None = None


def resolve_databases(label: str, plans: list[tuple[int, Any]],
                      override: DatabaseOverride | None) -> list[tuple[int, Any]]:
    """The mapping's ``(number, source)`` pairs with the command line's URL, table or query
    put into its database sources, each checked to name a server and what to read."""
    db = [i for i, s in plans if s.file is None]
    if override is not None and not db:
        raise SchemaError(f"{label}: a database URL was given but every source reads a file",
                          hint="a [[source]] without file reads the database: give it table "
                               "and db_table (or query)")
    if override is not None and (override.db_table or override.query) and len(db) > 1:
        raise SchemaError(f"{label}: --db-table / --query given but {len(db)} sources read "
                          "the database", hint="name db_table or query in each [[source]]")
    out = []
    for i, src in plans:
        if src.file is None:
            update: dict[str, Any] = {}
            if override is not None and override.url:
                update["url"] = override.url
            if override is not None and (override.db_table or override.query):
                update.update(db_table=override.db_table, query=override.query)
            src = src.model_copy(update=update) if update else src
            key = f"{label}: source[{i}]"
            if not src.url:
                raise SchemaError(f"{key}: no file and no database URL",
                                  hint='add file = "…", or url = "postgresql://…", or give '
                                       "the URL on the command line: shopscope ingest URL "
                                       "--mapping …")
            if not src.db_table and not src.query:
                raise SchemaError(f"{key}: what to read from {safe_url(src.url)} is not said",
                                  hint='db_table = "schema.table" or query = "SELECT …" '
                                       "(or --db-table / --query)")
            dialect_of(src.url)
        out.append((i, src))
    return out


def _logged_fingerprints(store: Any, ident: str) -> list[str]:
    from shopscope.store.engine import INGEST_LOG

    if not store.has_table(INGEST_LOG):
        return []
    log = store.table(INGEST_LOG)
    mine = log.filter(log.fingerprint.startswith(f"{FINGERPRINT_PREFIX}:{ident}:"))
    return list(mine.select("fingerprint").distinct().execute()["fingerprint"])


def read_database(store: Any, src: Any, settings: str, preset: str, *,
                  force: bool = False, progress: Any = None,
                  ) -> tuple[DbRead | None, str, str, str | None]:
    """Read a mapping's database source: ``(rows, fingerprint, name, why_skipped)``.

    With a watermark, only rows above the last committed one are read (all with
    ``force``); nothing new, or the same rows as an earlier load, gives ``why_skipped``.
    """
    from shopscope.ingest.load import already_loaded

    source = DbSource(src.url, src.db_table, src.query, src.watermark)
    ident = identity(source, settings)
    shown = source.label()
    since = None
    if source.watermark and not force:
        since = last_watermark(_logged_fingerprints(store, ident), ident)
    if progress:
        progress(f"reading {shown}", 0, 1)
    read = read_rows(source, since)
    if read.data.num_rows == 0:
        why = (f"no rows with {source.watermark} after {since}; nothing added"
               if since is not None else "the database returned no rows; nothing added")
        return None, "", shown, why
    fp = fingerprint_of(ident, read.high, "" if source.watermark else content_hash(read.data))
    if not force and already_loaded(store, fp, preset):
        return None, fp, shown, "already loaded (same content); nothing added"
    return read, fp, shown, None
