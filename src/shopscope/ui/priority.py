"""Serving before computing: the threads that run queries get a lower CPU priority than the
event loop that answers cached requests.

A cached answer needs ~1 ms of CPU on the event loop (the main thread). An uncached query
keeps every core busy (DuckDB's workers and the worker thread that builds and reads it), so
on a small machine the event loop waited for a core behind them: at 400 requests/s beside a
client running path queries, the median of a cached endpoint went from 2 ms to 18 ms on 2
cores. With the query threads at nice 10 the kernel runs the event loop first whenever it
has work, and the queries still get every idle cycle.

Linux only (a thread's nice value is its own there); elsewhere, or when the system refuses,
nothing changes. ``$SHOPSCOPE_BACKGROUND_NICE`` sets the value; 0 turns this off.
"""

from __future__ import annotations

import os
import threading

ENV = "SHOPSCOPE_BACKGROUND_NICE"
_local = threading.local()


def background_nice() -> int:
    raw = os.environ.get(ENV, "").strip()
    return int(raw) if raw.isdigit() else 10


def _lower(tid: int, nice: int) -> bool:
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except (AttributeError, OSError):  # not Linux, or the thread is gone
        return False


def background_thread() -> None:
    """Lower the calling thread (once per thread): it is about to run a query."""
    if getattr(_local, "lowered", False):
        return
    _local.lowered = True
    nice = background_nice()
    if nice:
        _lower(threading.get_native_id(), nice)


def other_threads() -> int:
    """Lower every thread of this process but the main one (the event loop): at start-up,
    the engine's worker threads, the data-version watcher and the warm-up. Returns how many
    were lowered."""
    nice = background_nice()
    main = threading.main_thread().native_id
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return 0
    return sum(_lower(t, nice) for t in tids if t != main) if nice else 0
