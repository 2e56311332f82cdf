"""kill -9 during a real load, its commit included, leaves the store as it was before the
load or as it is after it, never in between; and re-running the load is idempotent.

DuckDB 1.5.6 alone fails this: killed a few milliseconds after its WAL appears, a
transaction inserting into several tables comes back with the largest table committed
(written to the database file before the commit) and the small ones empty. The store's own
protocol (Store.load, docs/ingest.md "How a load commits") must undo that on open.

The loads are real ``ingest_file`` calls in a forked process, killed with SIGKILL at
moments timed on the WAL file's growth: mid-load, and 0 to 60 ms after the commit starts
writing the WAL (the window is longer on a loaded machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shopscope.ingest import ingest_file
from shopscope.store import Workspace
from tests._kill_helpers import state, write_shop

ZYGOTE = Path(__file__).with_name("_kill_zygote.py")
# Kill moments, in ms after the commit's first WAL growth; negative: after the load's id
# was committed (the WAL's first appearance), long before the data commit.
DELAYS_MS = (-1, 0, 2, 5, 10, 25, 60)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")]


class Zygote:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH"))
            if p)}
        self.proc = subprocess.Popen([sys.executable, str(ZYGOTE)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def start(self, ws: Path, folder: Path) -> int:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{ws} {folder}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def wait(self) -> int:
        assert self.proc.stdout
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _kill_during(pid: int, wal: Path, delay_ms: float) -> bool:
    """Kill ``pid`` ``delay_ms`` after the WAL grows past the load id's commit (or after
    the WAL appears when negative); False if the process ended first."""
    appeared = grown = None
    marker = -1
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        size = _size(wal)
        now = time.perf_counter()
        if appeared is None and size > 0:
            appeared, marker = now, size
        elif appeared is not None and grown is None and size > marker:
            grown = now
        if delay_ms < 0 and appeared is not None:
            time.sleep(0.05)  # mid-load: validating and inserting
            break
        if grown is not None and now - grown >= delay_ms / 1000:
            break
        try:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return False
        except ChildProcessError:  # not our child: the zygote's; ask the kernel
            if not Path(f"/proc/{pid}").exists():
                return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def _expected_after(before: dict, shop: Path) -> dict:
    """The store after loading ``shop`` onto ``before``, from the Parquet files themselves
    (their keys are disjoint from the seed's)."""
    import duckdb

    con = duckdb.connect()
    rows = {t: con.sql(f"SELECT count(*) FROM '{shop}/{t}.parquet'").fetchone()[0]
            for t in ("customers", "products", "orders", "order_items", "returns")}
    items = con.sql(f"SELECT sum(quantity * unit_price) FROM '{shop}/order_items.parquet'"
                    ).fetchone()[0]
    gross = con.sql(f"SELECT sum(gross_amount) FROM '{shop}/orders.parquet'").fetchone()[0]
    returned = con.sql(f"SELECT sum(amount) FROM '{shop}/returns.parquet'").fetchone()[0]
    # the seed's customers and products have the same ids: only new keys are added
    rows["customers"] = rows["products"] = 0
    out = {t: before[t] + n for t, n in rows.items()}
    out["_ingest_log"] = before["_ingest_log"] + 5  # one row per table
    out["_rejects"] = 0
    out["items_amount"] = round(before["items_amount"] + items, 2)
    out["gross"] = round(before["gross"] + gross, 2)
    out["returned"] = round(before["returned"] + returned, 2)
    out["orphan_items"] = 0
    return out


def _same(a: dict, b: dict) -> bool:
    return all(abs(a[k] - b[k]) < 0.015 if isinstance(a[k], float) else a[k] == b[k]
               for k in a)


def test_kill_9_in_a_load_leaves_before_or_after_and_reruns_are_idempotent(tmp_path):
    shop = tmp_path / "shop"  # 132,000 order lines: more than one DuckDB row group
    write_shop(shop, orders=11_000, lines_per_order=12)
    seed = tmp_path / "seed"
    write_shop(seed, orders=300, lines_per_order=3, first_order=50_000, seed=3)
    pristine = tmp_path / "pristine"
    with Workspace.create(pristine) as ws:
        ingest_file(ws, seed, preset="canonical")
    db = "shop.duckdb"
    before = state(pristine / db)
    assert before["orders"] == 300 and before["order_items"] == 900
    after = _expected_after(before, shop)

    zygote = Zygote()
    try:
        outcomes = {"before": 0, "after": 0, "torn before recovery": 0}
        runs = tmp_path / "runs"
        runs.mkdir()
        for i, delay in enumerate(DELAYS_MS):
            ws_path = runs / str(i)
            shutil.copytree(pristine, ws_path)
            pid = zygote.start(ws_path, shop)
            _kill_during(pid, ws_path / f"{db}.wal", delay)
            zygote.wait()
            # what plain DuckDB recovers (read-only: the WAL is replayed, not applied)
            raw = state(ws_path / db)
            if not (_same(raw, before) or _same(raw, after)):
                outcomes["torn before recovery"] += 1
            with Workspace.open(ws_path) as ws:
                ws.store  # noqa: B018 - opening the store runs the recovery
            got = state(ws_path / db)
            assert _same(got, before) or _same(got, after), f"kill {i} ({delay} ms): {got}"
            outcomes["before" if _same(got, before) else "after"] += 1
            if i:
                shutil.rmtree(runs / str(i - 1), ignore_errors=True)
        print(f"kills: {outcomes}")

        # Re-running the killed load completes it; re-running a complete one adds nothing.
        last = runs / str(len(DELAYS_MS) - 1)
        zygote.start(last, shop)
        assert zygote.wait() == 0
        assert _same(state(last / db), after)
        with Workspace.open(last) as ws:
            assert ingest_file(ws, shop, preset="canonical").skipped
            ingest_file(ws, shop, preset="canonical", force=True)  # past the fingerprint
        again = state(last / db)
        assert again.pop("_ingest_log") == after["_ingest_log"] + 5  # logged, +0 each
        assert _same(again, {k: v for k, v in after.items() if k != "_ingest_log"})
    finally:
        zygote.close()
