"""Connect to an engine by URL and keep the canonical tables in it.

URLs:

* ``duckdb:///path/to/shop.duckdb`` (default; ``duckdb://`` alone is in memory)
* ``pyspark://local[2]`` — a local Spark session (extra ``[spark]``, needs Java 17)
* anything else ``ibis.connect`` understands (``clickhouse://…``, ``postgres://…``)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import ibis
import pyarrow as pa

from shopscope.errors import ShopscopeError, UnsupportedOnEngine
from shopscope.schema import TABLES, get_table
from shopscope.store import people, threads

# SQL types of the schema's dtypes, for columns added to tables made by older versions.
_SQL_TYPES = {
    engine: dict(zip(("string", "int64", "float64", "timestamp", "date"), names, strict=True))
    for engine, names in (
        ("duckdb", ("VARCHAR", "BIGINT", "DOUBLE", "TIMESTAMP", "DATE")),
        ("pyspark", ("STRING", "BIGINT", "DOUBLE", "TIMESTAMP", "DATE")),
    )
}
# Bookkeeping tables live beside the canonical ones; a leading underscore keeps them apart.
INGEST_LOG = "_ingest_log"
REJECTS = "_rejects"
#: One row per load begun on DuckDB, committed before the load writes (see :meth:`Store.load`).
LOADS = "_loads"
#: The load that wrote a row: a hidden column of every DuckDB table a load writes to.
LOAD_COLUMN = "_load"
_META_SCHEMAS = {
    INGEST_LOG: ibis.schema(
        {
            "fingerprint": "string",
            "source": "string",
            "preset": "string",
            "table_name": "string",
            "rows_read": "int64",
            "rows_added": "int64",
            "rows_rejected": "int64",
            "loaded_at": "timestamp",
        }
    ),
    REJECTS: ibis.schema(
        {
            "table_name": "string",
            "source": "string",
            "row": "int64",
            "column": "string",
            "value": "string",
            "reason": "string",
            "loaded_at": "timestamp",
        }
    ),
    people.PERSON_MAP: people.PERSON_MAP_SCHEMA,
}
_LOADS_SCHEMA = ibis.schema({"load_id": "int64", "started_at": "timestamp"})


#: Times outside this range are not data (see :meth:`Store.table`); both ends fit pandas'
#: nanosecond timestamps (1677..2262) with room for period arithmetic.
TIME_RANGE = ("1900-01-01", "2200-01-01")


def _in_time_range(t: ibis.Table, name: str) -> Any:
    spec = TABLES.get(name)
    if spec is None or not spec.time_column or spec.time_column not in t.columns:
        return None
    col = t[spec.time_column]
    lo, hi = (ibis.literal(v).cast(col.type()) for v in TIME_RANGE)
    return col.isnull() | ((col >= lo) & (col < hi))


def declared_ddl(name: str) -> str | None:
    """Spark DDL of a canonical or bookkeeping table (None for other names)."""
    types = _SQL_TYPES["pyspark"]
    if name in TABLES:
        cols = [(c.name, c.dtype) for c in get_table(name).columns]
    elif name in _META_SCHEMAS:
        cols = [(c, str(t).lstrip("!")) for c, t in _META_SCHEMAS[name].items()]
    else:
        return None
    return ", ".join(f"`{c}` {types[t]}" for c, t in cols)


def declared_tables() -> dict[str, str]:
    """Spark DDL of every table a workspace starts with."""
    return {n: ddl for n in (*TABLES, *_META_SCHEMAS) if (ddl := declared_ddl(n))}


def _spark_session(master: str, warehouse: str | None = None):
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on extras
        raise UnsupportedOnEngine(
            "pyspark is not installed", hint='pip install "shopscope[spark]"'
        ) from exc
    if master.startswith("sc://"):  # Spark Connect: the server owns its configuration;
        return SparkSession.builder.remote(master).create()  # a new session each time
    return (
        SparkSession.builder.master(master or "local[2]")
        .appName("shopscope")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        # Managed tables go under the workspace (or a temp folder), never the cwd.
        .config("spark.sql.warehouse.dir", warehouse or tempfile.mkdtemp(prefix="shopscope-spark-"))
        .getOrCreate()
    )


class Store:
    """An Ibis backend plus the canonical tables kept in it.

    Parameters
    ----------
    backend
        A connected Ibis backend.
    url
        The URL it was opened from, for messages.
    """

    def __init__(self, backend: Any, url: str = "", catalog: Any = None) -> None:
        self.backend = backend
        self.url = url
        #: a Spark workspace's persistent tables (:class:`~shopscope.store.catalog.ParquetCatalog`)
        self.catalog = catalog
        self._version: tuple[str, str] | None = None
        self._seen = ""  # the catalog commit this process last saw
        self._arrow_views = 0
        self._scratch: str | None = None
        # Tables known to hold rows outside TIME_RANGE (checked once; writes reset it).
        self._out_of_range: dict[str, bool] = {}
        self._load: Load | None = None  # the load being written (see :meth:`load`)
        self._depth = 0  # open transactions; nested ones join the outermost
        # The person map when it merges anyone (None: it does not; False: not read yet),
        # and whether a write to customers/identities awaits its recomputation.
        self._people: ibis.Table | bool | None = False
        self._people_stale = False
        self._in_transaction = False

    @property
    def engine(self) -> str:
        return self.backend.name

    # -- tables -------------------------------------------------------------------------
    def list_tables(self) -> list[str]:
        if self.catalog is not None:
            self._sync()
            return self.catalog.names()
        return list(self.backend.list_tables())

    def _sync(self) -> str:
        """Follow commits of other processes (Spark workspace); returns the commit id."""
        commit = self.catalog.commit_id()
        if commit != self._seen:
            self._out_of_range.clear()
            self._people = False
            self._seen = commit
        return commit

    def has_table(self, name: str) -> bool:
        return name in self.list_tables()

    def ensure_tables(self, names: list[str] | None = None) -> None:
        """Create the canonical and bookkeeping tables that do not exist yet, empty."""
        if self.catalog is not None:  # read with the declared schema: no columns to add
            self.catalog.ensure([*(names or list(TABLES)), *_META_SCHEMAS])
            return
        existing = set(self.list_tables())
        tagged = self._tracks_loads
        for name in names or list(TABLES):
            if name not in existing:
                schema = get_table(name).ibis_schema()
                if tagged:
                    schema = ibis.schema({**schema, LOAD_COLUMN: "int64"})
                self.backend.create_table(name, schema=schema)
            else:
                self._add_new_columns(name)
        for name, schema in _META_SCHEMAS.items():
            # the person map is derived and rewritten whole: no load owns its rows
            track = tagged and name != people.PERSON_MAP
            if name not in existing:
                if track:
                    schema = ibis.schema({**schema, LOAD_COLUMN: "int64"})
                self.backend.create_table(name, schema=schema)
            elif track:
                self._add_load_column(name)
        if tagged and LOADS not in existing:
            self.backend.create_table(LOADS, schema=_LOADS_SCHEMA)
        if people.PERSON_MAP not in existing and existing & {"customers", "identities"}:
            people.refresh(self)  # a workspace made before people were resolved

    @property
    def _tracks_loads(self) -> bool:
        """Whether loads carry the commit protocol of :meth:`load` (DuckDB files)."""
        return self.engine == "duckdb" and self.catalog is None

    def _add_load_column(self, name: str) -> None:
        if LOAD_COLUMN not in self.backend.table(name).columns:
            self.backend.raw_sql(f'ALTER TABLE "{name}" ADD COLUMN "{LOAD_COLUMN}" BIGINT'
                                 ).fetchall()

    def _add_new_columns(self, name: str) -> None:
        """Give a table made by an older shopscope the nullable columns added to the schema
        since (they read as null), so loads and queries see one schema."""
        have = set(self.backend.table(name).columns)
        missing = [c for c in get_table(name).columns if c.name not in have]
        if self._tracks_loads:
            self._add_load_column(name)
        for col in missing:
            if not col.nullable:  # a required column cannot appear in old rows
                raise ShopscopeError(
                    f"table {name!r} lacks the required column {col.name!r}",
                    hint="re-create the workspace with this version and ingest again",
                )
            sql_type = _SQL_TYPES[self.engine][col.dtype]
            if self.engine == "duckdb":
                self.backend.raw_sql(
                    f'ALTER TABLE "{name}" ADD COLUMN "{col.name}" {sql_type}'
                ).fetchall()
            else:
                self.backend.raw_sql(f"ALTER TABLE `{name}` ADD COLUMNS (`{col.name}` {sql_type})")

    def table(self, name: str, *, raw: bool = False) -> ibis.Table:
        """A canonical table; an empty one of the right schema if nothing was loaded.

        Analyses count people: when ``identities`` (or shared e-mails and phones) merge
        customer ids, ``orders``, ``returns``, ``events`` and ``experiments`` carry the person
        id in place of the customer id and ``customers`` has one row per person (see
        :mod:`shopscope.store.people`). ``raw=True`` gives the rows as stored: ingestion
        (keys, references) and drill-down read those.

        Rows whose time column lies outside ``TIME_RANGE`` (1900 to 2199) are left out:
        ingestion refuses such dates, but a row that got in another way (dated 9999, say)
        would stretch every period spine over millennia and overflow pandas' timestamps.
        :meth:`out_of_range` counts them for the data page.
        """
        if self.has_table(name):
            t = self.backend.table(name)
            if LOAD_COLUMN in t.columns:  # bookkeeping of the commit protocol, not data
                t = t.drop(LOAD_COLUMN)
            bounded = _in_time_range(t, name)
            if bounded is not None:
                if name not in self._out_of_range:
                    self._out_of_range[name] = self.out_of_range(name) > 0
                # Only a table that has such rows gets the filter: the tuned queries over
                # clean data keep their plans (and their speed).
                t = t.filter(bounded) if self._out_of_range[name] else t
            if raw or (name not in people.PERSON_COLUMNS and name != "customers"):
                return t
            merged = self.person_map()
            return t if merged is None else people.resolved(t, name, merged)
        spec = TABLES.get(name)
        if spec is None:
            schema = _META_SCHEMAS.get(name)
            if schema is None:
                raise ShopscopeError(f"no table {name!r} in {self.url or self.engine}")
            return ibis.memtable(pa.Table.from_pylist([], schema=schema.to_pyarrow()))
        return ibis.memtable(pa.Table.from_pylist([], schema=spec.ibis_schema().to_pyarrow()))

    def person_map(self) -> ibis.Table | None:
        """``_person_map`` (customer id → person id) when it merges anyone, else None."""
        if self._people is False:
            merged = None
            if self.has_table(people.PERSON_MAP):
                t = self.backend.table(people.PERSON_MAP)
                merged = t if int(t.count().execute()) else None
            self._people = merged
        return self._people if isinstance(self._people, ibis.Table) else None

    def person_of(self, customer_id: str) -> str:
        """The person id a stored customer id counts as (itself unless merged): for
        drill-down from a raw id, such as a marketplace buyer's, to its person."""
        merged = self.person_map()
        if merged is None:
            return customer_id
        hit = merged.filter(merged.customer_id == customer_id).person_id.execute()
        return str(hit.iloc[0]) if len(hit) else customer_id

    def _wrote(self, name: str) -> None:
        """After a write: the person map follows customers and identities (at the end of
        the transaction, so that a load and its people commit together)."""
        self._out_of_range.pop(name, None)
        if name in ("customers", "identities"):
            self._people_stale = True
            if not self._in_transaction:
                self._refresh_people()

    def _refresh_people(self) -> None:
        self._people_stale = False
        people.refresh(self)
        self._people = False

    def out_of_range(self, name: str) -> int:
        """Rows of ``name`` hidden by :meth:`table` for an implausible time."""
        if not self.has_table(name):
            return 0
        t = self.backend.table(name)
        bounded = _in_time_range(t, name)
        return 0 if bounded is None else int(t.filter(~bounded).count().execute())

    def row_count(self, name: str) -> int:
        return int(self.table(name, raw=True).count().execute()) if self.has_table(name) else 0

    def insert(self, name: str, expr: ibis.Table) -> None:
        """Append rows; inside :meth:`load` they are tagged with the load's id."""
        self._out_of_range.pop(name, None)
        if self.catalog is not None:
            with self._spark_frame(expr) as frame:
                self.catalog.append(name, frame)
        else:
            if self._load is not None and LOAD_COLUMN in self.backend.table(name).columns:
                expr = expr.mutate(**{LOAD_COLUMN: ibis.literal(self._load.id, "int64")})
            self.backend.insert(name, expr)
        self._wrote(name)

    def replace(self, name: str, expr: ibis.Table) -> None:
        """Replace a whole table's rows (small derived tables such as products). On DuckDB
        the new table has no ``_load`` column until the store is opened again: not for use
        inside :meth:`load`."""
        self._out_of_range.pop(name, None)
        if self.catalog is not None:
            with self._spark_frame(expr) as frame:
                self.catalog.overwrite(name, frame)
        else:
            self.backend.create_table(name, expr, overwrite=True)
        if name != people.PERSON_MAP:
            self._wrote(name)

    @contextlib.contextmanager
    def _spark_frame(self, expr: ibis.Table) -> Iterator[Any]:
        """The Spark DataFrame of an Ibis expression, through a temporary view (public Ibis
        API, which also registers the expression's in-memory tables)."""
        self._arrow_views += 1
        name = f"_frame_{id(self)}_{self._arrow_views}"
        self.backend.create_view(name, expr, overwrite=True)
        try:
            yield self.catalog.session.table(name)
        finally:
            self.catalog.session.catalog.dropTempView(name)

    # -- reading files through the engine ------------------------------------------------
    def read_parquet(self, path: str) -> ibis.Table:
        return self.backend.read_parquet(path)

    def from_arrow(self, data: pa.Table) -> ibis.Table:
        """Make an in-memory Arrow table queryable by the engine."""
        if self.engine == "duckdb":
            # Registering the Arrow table as a view is zero-copy; ibis.memtable copies
            # (measured: 0.4 s against 1.3 s for Online Retail's 542k lines). Ibis has no
            # public call for it: DuckDB's own register, on the backend's public `con`.
            self._arrow_views += 1
            name = f"_arrow_{id(self)}_{self._arrow_views}"
            self.backend.con.register(name, data)
            return self.backend.table(name)
        # ibis's PySpark path goes through pandas, which turns null strings into 'NaN';
        # Parquet keeps nulls as nulls on every engine.
        import pyarrow.parquet as pq

        if self._scratch is None:
            # A workspace's staging folder, which a cluster's executors can read too
            # (shared storage); else the machine's temporary folder.
            where = None if self.catalog is None else self.catalog.scratch_root()
            self._scratch = tempfile.mkdtemp(prefix="arrow-", dir=where)
        self._arrow_views += 1
        path = f"{self._scratch}/{self._arrow_views}.parquet"
        pq.write_table(data, path)
        return self.backend.read_parquet(path)

    def materialize(self, expr: ibis.Table, name: str) -> ibis.Table:
        """Compute an expression once into a temporary table (reused by several queries)."""
        if self.engine == "duckdb":
            return self.backend.create_table(name, expr, temp=True, overwrite=True)
        if self.catalog is not None:
            with self._spark_frame(expr) as frame:
                self.catalog.scratch(name, frame)
            return self.backend.table(name)
        return self.backend.create_table(name, expr, overwrite=True)

    def drop(self, name: str) -> None:
        if self.catalog is not None:
            self.catalog.remove(name)
            return
        with contextlib.suppress(Exception):
            self.backend.drop_table(name, force=True)

    # -- transactions ---------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: on any exception (Ctrl-C included) the store is left as it was.

        DuckDB runs the block in one transaction. A Spark workspace writes new Parquet
        folders and names them in its catalog at the end (see :mod:`shopscope.store.catalog`).
        Other engines without multi-statement transactions run it as is; their loads are
        append-only and keyed, so a rerun completes an interrupted load without duplicates.
        """
        if self.catalog is not None:
            self._out_of_range.clear()
            try:
                with self.catalog.transaction(), self._people_follow():
                    yield
            finally:
                self._out_of_range.clear()
            return
        if self.engine != "duckdb" or self._depth:  # a nested block joins the outer one
            self._depth += 1
            try:
                with self._people_follow():
                    yield
            finally:
                self._depth -= 1
            return
        self._out_of_range.clear()
        raw = self.backend.raw_sql
        raw("BEGIN TRANSACTION").fetchall()
        self._depth = 1
        try:
            with self._people_follow():
                yield
        except BaseException:
            raw("ROLLBACK").fetchall()
            raise
        finally:  # what was seen inside may be rolled back
            self._depth = 0
            self._out_of_range.clear()
        raw("COMMIT").fetchall()

    @contextlib.contextmanager
    def load(self) -> Iterator[Load]:
        """One load: everything written inside becomes visible at once, or none of it.

        On DuckDB files the engine's transaction is not enough: killed (kill -9, power
        loss) while it commits, DuckDB 1.5 can recover a large table's rows without the
        rest of the transaction. So a load also keeps a protocol of its own
        (docs/ingest.md, "How a load commits"): its id is committed to ``_loads`` first;
        every row it writes carries the id in the hidden ``_load`` column; its
        ``_ingest_log`` rows, written last in the same transaction, are its commit record;
        and :meth:`recover` removes the rows of a load without one when the store opens.
        A nested ``load`` joins the outer one (several files, one load). Start a load
        outside :meth:`transaction`: inside one, its id could not be committed first.
        """
        if self._load is not None:
            with self.transaction():
                yield self._load
            return
        load = Load(self._begin_load() if self._tracks_loads else 0)
        self._load = load
        try:
            with self.transaction():
                yield load
                if load.log:  # the commit record, last: present only if all else is
                    schema = _META_SCHEMAS[INGEST_LOG]
                    self.insert(INGEST_LOG, ibis.memtable(pa.Table.from_pylist(
                        load.log, schema=schema.to_pyarrow())))
                elif self._tracks_loads:  # nothing written (all skipped): no recovery needed
                    self.backend.raw_sql(f"DELETE FROM {LOADS} WHERE load_id = {load.id}"
                                         ).fetchall()
        except BaseException:
            if self._tracks_loads:  # rolled back: nothing carries the id; forget it
                with contextlib.suppress(Exception):
                    self.backend.raw_sql(f"DELETE FROM {LOADS} WHERE load_id = {load.id}"
                                         ).fetchall()
            raise
        finally:
            self._load = None
            self._out_of_range.clear()

    def _begin_load(self) -> int:
        """Commit a new load id to ``_loads`` (before any of its rows exist)."""
        if LOADS not in self.list_tables():
            self.ensure_tables()
        raw = self.backend.raw_sql
        row = raw(f"SELECT coalesce(max(load_id), 0) + 1 FROM {LOADS}").fetchone()
        last = raw(f'SELECT coalesce(max("{LOAD_COLUMN}"), 0) FROM {INGEST_LOG}').fetchone()
        load_id = max(int(row[0]), int(last[0]) + 1)
        raw(f"INSERT INTO {LOADS} VALUES ({load_id}, now()::TIMESTAMP)").fetchall()
        return load_id

    def recover(self) -> list[int]:
        """Remove the rows of loads that began but have no commit record (a process killed
        during a load or its commit); returns their ids. Cheap when there are none: two
        small tables are compared. Called when a DuckDB store opens, before any read."""
        if not self._tracks_loads or LOADS not in self.list_tables():
            return []
        raw = self.backend.raw_sql
        torn = [int(r[0]) for r in raw(
            f'SELECT load_id FROM {LOADS} l WHERE NOT EXISTS (SELECT 1 FROM {INGEST_LOG} g '
            f'WHERE g."{LOAD_COLUMN}" = l.load_id) ORDER BY load_id').fetchall()]
        if not torn:
            return []
        ids = ", ".join(map(str, torn))
        tagged = [n for n in self.list_tables()
                  if LOAD_COLUMN in self.backend.table(n).columns]
        raw("BEGIN TRANSACTION").fetchall()
        try:
            for name in tagged:
                raw(f'DELETE FROM "{name}" WHERE "{LOAD_COLUMN}" IN ({ids})').fetchall()
            raw(f"DELETE FROM {LOADS} WHERE load_id IN ({ids})").fetchall()
        except BaseException:
            raw("ROLLBACK").fetchall()
            raise
        raw("COMMIT").fetchall()
        self._out_of_range.clear()
        if {"customers", "identities"} & set(self.list_tables()):
            people.refresh(self)  # the torn load's customers may have merged people
        return torn

    @contextlib.contextmanager
    def _people_follow(self) -> Iterator[None]:
        """Inside a transaction: recompute the person map once, at its end, if the block
        wrote customers or identities."""
        outer = self._in_transaction
        self._in_transaction = True
        try:
            yield
            if self._people_stale and not outer:
                self._refresh_people()
        except BaseException:
            self._people_stale = False
            raise
        finally:
            self._in_transaction = outer
            self._people = False  # what was read inside may be rolled back

    def data_version(self) -> str:
        """Changes whenever an ingestion commits: the key for caches."""
        if self.catalog is not None:
            # Another process may have committed: the catalog's commit id says whether the
            # log must be read again (a stat, not a Spark job, on every call).
            commit = self._sync()
            if self._version is None or self._version[0] != commit:
                self._version = (commit, self._log_version())
            return self._version[1]
        return self._log_version()

    def _log_version(self) -> str:
        if not self.has_table(INGEST_LOG):
            return "0"
        t = self.backend.table(INGEST_LOG)
        n = t.count().execute()
        last = t.loaded_at.max().execute() if n else None
        return f"{n}:{last}"

    def close(self) -> None:
        if self.catalog is not None:
            self.catalog.close()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None
        if self.engine == "pyspark":
            return  # the Spark session is process-wide; other stores may still use it
        with contextlib.suppress(Exception):
            self.backend.disconnect()


class Load:
    """A load in progress: its id and the ``_ingest_log`` rows written when it commits."""

    def __init__(self, load_id: int) -> None:
        self.id = load_id
        self.log: list[dict[str, Any]] = []


#: Share of the machine's memory DuckDB may use (its own default is 80%). Measured on 105M
#: events, 2 cores, 24 GB: a 3-step funnel took 58 s with 17 GB peak at DuckDB's default and
#: 37-40 s with 7.7-8.3 GB at 28-30% (less memory to manage; spilling only where it pays);
#: 28% keeps the whole process under 8 GB there; see
#: docs/engines.md. Override with ``?memory_limit=…`` in the URL or SHOPSCOPE_DUCKDB_MEMORY.
DUCKDB_MEMORY_SHARE = 0.28


def _limit_memory(backend: Any) -> None:
    limit = os.environ.get("SHOPSCOPE_DUCKDB_MEMORY")
    if not limit:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # not a POSIX system: DuckDB's default
            return
        limit = f"{max(1.0, DUCKDB_MEMORY_SHARE * total / 2**30):.1f}GiB"
    backend.raw_sql(f"SET memory_limit = '{limit}'").fetchall()


class StoreInUse(ShopscopeError):
    """Another process holds the DuckDB file (DuckDB allows one writer); ``pid`` is that
    process when DuckDB names it."""

    exit_code = 75  # EX_TEMPFAIL: try again once the other process is done

    def __init__(self, url: str, pid: int | None, message: str = "", hint: str = "") -> None:
        who = f" (pid {pid})" if pid else ""
        super().__init__(message or f"the store at {url!r} is in use by another process{who}",
                         hint=hint or "DuckDB allows one writer: stop the other shopscope "
                         "command (or `shopscope serve`) and retry")
        self.url = url
        self.pid = pid


def _lock_holder(message: str) -> int | None:
    """The pid in DuckDB's 'Conflicting lock is held in /usr/bin/python (PID 123)'.

    >>> _lock_holder('Conflicting lock is held in /usr/bin/python3 (PID 3917) by user x')
    3917
    """
    import re

    found = re.search(r"\(PID (\d+)\)", message)
    return int(found.group(1)) if found else None


def connect(url: str = "duckdb://", *, warehouse: str | None = None,
            tables: str | None = None) -> Store:
    """Open a store by URL; ``warehouse`` is where Spark keeps managed tables; ``tables``,
    for Spark, is a catalog folder that keeps the tables across processes (a workspace's).

    Examples
    --------
    >>> store = connect("duckdb://")
    >>> store.engine
    'duckdb'
    """
    if url.startswith("pyspark://"):
        session = _spark_session(url.removeprefix("pyspark://"), warehouse)
        if tables is None:
            return Store(ibis.pyspark.connect(session), url)
        from pathlib import Path

        from shopscope.store.catalog import ParquetCatalog

        # A session of its own: its temporary views are this workspace's tables, apart from
        # those of any other workspace or test opened in the process.
        remote = url.removeprefix("pyspark://").startswith("sc://")
        own = session if remote else session.newSession()
        own.conf.set("spark.sql.session.timeZone", "UTC")
        own.conf.set("spark.sql.shuffle.partitions", "4")
        backend = ibis.pyspark.connect(own)
        return Store(backend, url, ParquetCatalog(Path(tables), own, declared_tables()))
    try:
        backend = ibis.connect(url)
        if backend.name == "duckdb":
            threads.per_thread(backend)
            if "memory_limit" not in url:
                _limit_memory(backend)
        store = Store(backend, url)
        store.recover()  # before anything reads: rows of a load killed mid-way go
    except Exception as exc:
        if "lock" in str(exc).lower():
            raise StoreInUse(url, _lock_holder(str(exc))) from exc
        raise ShopscopeError(
            f"cannot open the store at {url!r}: {exc}",
            hint="use duckdb:///path/to/file.duckdb, pyspark://local[2] or an Ibis URL",
        ) from exc
    return store
