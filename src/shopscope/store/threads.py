"""One DuckDB connection per thread for an Ibis DuckDB backend.

A DuckDB connection is not safe across threads: a query from a second thread invalidates the
first thread's pending result ("Attempting to execute an unsuccessful or closed pending query
result"), and a thread that waits for the connection while holding the GIL can deadlock with
one that needs the GIL to hand its result over. The server reads the store from its worker
threads, its warm-up and its data-version watcher at once, so each thread gets its own
cursor: a connection to the same database (DuckDB's documented way to share one between
threads), which sees every committed table and keeps its own transaction.

Session settings do not carry over to a cursor, so each new one gets Ibis's (UTC time zone,
no replacement scans). Temporary tables and registered views stay with the thread that made
them, which is where they are used (a load stages and writes in one thread); Ibis's record of
registered in-memory tables is per thread to match.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

#: What Ibis sets on its own connection (``Backend._post_connect``); a cursor starts without.
_SESSION = ("SET TimeZone = 'UTC'", "SET python_enable_replacements = false")


class _Connections(threading.local):
    con: Any = None
    memtables: weakref.WeakSet | None = None


def _con(self: Any) -> Any:
    local: _Connections = self.__dict__["_ss_local"]
    if local.con is None:
        con = self.__dict__["_ss_base"].cursor()
        for sql in _SESSION:
            con.execute(sql)
        local.con = con
    return local.con


def _set_con(self: Any, con: Any) -> None:
    self.__dict__["_ss_base"] = con


def _memtables(self: Any) -> weakref.WeakSet:
    local: _Connections = self.__dict__["_ss_local"]
    if local.memtables is None:
        local.memtables = weakref.WeakSet()
    return local.memtables


def _ignore(self: Any, value: Any) -> None:
    return None


def _disconnect(self: Any) -> None:
    self.__dict__["_ss_base"].close()


def per_thread(backend: Any) -> Any:
    """Make a connected Ibis DuckDB ``backend`` use one connection per thread (in place);
    the connecting thread keeps the original one. Returns the backend."""
    if "_ss_local" in backend.__dict__:
        return backend
    base = backend.__dict__.pop("con")
    local = _Connections()
    local.con = base
    local.memtables = backend.__dict__.pop("_memtables", None) or weakref.WeakSet()
    backend.__dict__["_ss_base"] = base
    backend.__dict__["_ss_local"] = local
    backend.__class__ = type("PerThread" + type(backend).__name__, (type(backend),), {
        "con": property(_con, _set_con),
        "_memtables": property(_memtables, _ignore),
        "disconnect": _disconnect,
    })
    return backend
