"""The server's own tuning (issue 14, point 10): query threads behind the event loop
(``shopscope.ui.priority``) and the heap frozen after a warm-up
(``shopscope.ui.warmup.freeze_heap``). The latencies themselves are measured by
``bench/load.py``, not here; these check that the mechanisms do what they claim."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref

import pytest

from shopscope.ui import priority
from shopscope.ui.warmup import freeze_heap

linux = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux thread ids")


def _in_thread(fn) -> tuple[int, int]:
    """Run ``fn`` in a new thread; its native id and nice value after ``fn``."""
    out: list[int] = []

    def run() -> None:
        fn()
        tid = threading.get_native_id()
        out.extend([tid, os.getpriority(os.PRIO_PROCESS, tid)])

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return out[0], out[1]


@linux
def test_a_query_thread_runs_at_background_priority(monkeypatch) -> None:
    monkeypatch.delenv(priority.ENV, raising=False)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    _, nice = _in_thread(priority.background_thread)
    assert nice == max(base, 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # caller kept


@linux
def test_zero_turns_it_off(monkeypatch) -> None:
    monkeypatch.setenv(priority.ENV, "0")
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert _in_thread(priority.background_thread)[1] == base


@linux
def test_other_threads_lowers_all_but_the_main_thread() -> None:
    # in a child process: lowering is one-way, the test process keeps its priorities
    code = """
import os, threading
from shopscope.ui.priority import other_threads
go = threading.Event()
t = threading.Thread(target=go.wait); t.start()
base = os.getpriority(os.PRIO_PROCESS, 0)
n = other_threads()
print(n, os.getpriority(os.PRIO_PROCESS, t.native_id), os.getpriority(os.PRIO_PROCESS,
      threading.main_thread().native_id), base)
go.set(); t.join()
"""
    env = {**os.environ, priority.ENV: "7"}
    env.pop("PYTHONSTARTUP", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=60).stdout.split()
    lowered, worker, main, base = map(int, out)
    assert lowered >= 1
    assert worker == max(base, 7)
    assert main == base


class _Node:
    me: object = None


def test_freeze_heap_moves_the_live_heap_out_of_the_collectors_way() -> None:
    try:
        held = [[i] for i in range(1000)]  # live, tracked objects
        node = _Node()
        node.me = node  # a cycle: only the cyclic collector frees it
        ref = weakref.ref(node)
        freeze_heap()
        assert gc.get_freeze_count() >= len(held)
        assert sum(gc.get_count()) < 1000  # a full pass no longer walks the frozen heap
        del node
        gc.collect()
        assert ref() is not None  # frozen: out of the collector's reach
        freeze_heap()  # the next warm-up unfreezes first: the old cycle goes
        assert ref() is None
    finally:
        gc.unfreeze()
