"""Serving under load: latency of cached API endpoints at a fixed request rate, alone and
while another client runs heavy uncached queries.

    .venv/bin/python bench/load.py                       # demo workspace, 400 rps, 20 s
    .venv/bin/python bench/load.py --rate 200 --duration 10 --workspace shop
    .venv/bin/python bench/load.py --heavy 0             # no background client
    .venv/bin/python bench/load.py --write               # also into bench/RESULTS.md

The server is ``shopscope serve`` in its own process; this script is the client. Requests
are sent open-loop: request *i* is due at ``t0 + i / rate`` whatever happened before, and
its latency counts from that due time, so a stalled server shows up as latency instead of
as a lower request rate (no coordinated omission). The load is bounded: at most
``--connections`` keep-alive connections, ``--duration`` seconds per endpoint, and requests
that wait more than ``--max-queue`` seconds for a connection are counted as dropped.

The heavy client asks ``/api/behaviour/paths`` with a new parameter each time (never
cached) in a loop, on its own connection, during every measurement.

Target (issue 14): every cached endpoint holds 400 rps with p99 <= 50 ms on loopback, also
while the heavy client runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = (
    "/api/kpis?grain=month",
    "/api/kpis/summary",
    "/api/data/tables",
    "/api/customers/rfm",
    "/api/behaviour/trends?grain=day",
)


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    dropped: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Connection:
    """One keep-alive HTTP/1.1 connection (enough HTTP for JSON GETs on loopback)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = (f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                   f"Authorization: Bearer {self.token}\r\nAccept: application/json\r\n\r\n")
        self.writer.write(request.encode())
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def measure(host: str, port: int, token: str, path: str, rate: float, duration: float,
                  connections: int, max_queue: float) -> Sample:
    sample = Sample()
    queue: asyncio.Queue[float] = asyncio.Queue()
    total = int(rate * duration)

    async def worker() -> None:
        conn = Connection(host, port, token)
        try:
            while True:
                due = await queue.get()
                if due is None:
                    return
                if time.perf_counter() - due > max_queue:
                    sample.dropped += 1
                    continue
                try:
                    status = await conn.get(path)
                except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
                    sample.errors += 1
                    conn.close()
                    conn = Connection(host, port, token)
                    continue
                sample.statuses[status] = sample.statuses.get(status, 0) + 1
                if status != 200:
                    sample.errors += 1
                sample.latencies.append(time.perf_counter() - due)
        finally:
            conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    t0 = time.perf_counter() + 0.05
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(due)
    for _ in workers:
        queue.put_nowait(None)  # type: ignore[arg-type]
    await asyncio.gather(*workers)
    return sample


async def heavy_client(host: str, port: int, token: str, stop: asyncio.Event,
                       count: list[int]) -> None:
    conn = Connection(host, port, token)
    i = 0
    while not stop.is_set():
        i += 1
        try:  # new parameters each time: never a cache hit
            await conn.get(f"/api/behaviour/paths?length={2 + i % 11}&top={1 + (i // 11) % 200}")
            count[0] += 1
        except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            conn.close()
            conn = Connection(host, port, token)
            await asyncio.sleep(0.1)
    conn.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def prepare(workspace: Path | None) -> tuple[Path, str]:
    """A workspace (the demo's, made in a temporary folder when none is given) and an API
    token of a fresh analyst."""
    from shopscope.auth import UserStore

    if workspace is None:
        tmp = Path(tempfile.mkdtemp(prefix="shopscope-load-"))
        subprocess.run([sys.executable, "-m", "shopscope.cli", "demo", "--no-serve"], cwd=tmp,
                       check=True, stdout=subprocess.DEVNULL)
        workspace = tmp / "shopscope-demo"
    users = UserStore(workspace)
    name = f"load{os.getpid()}"
    users.add(name, "load-bench-" + os.urandom(8).hex(), "analyst")
    token, _ = users.create_token(name, "load bench")
    return workspace, token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, token: str, timeout: float = 300) -> None:
    """Wait until the server answers and its start-up warm-up (every page's default view,
    see shopscope.ui.warmup) is over: it competes for the CPU, and what is measured here
    is serving cached answers."""
    import urllib.request

    end = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/api/data/warmup"
    while time.monotonic() < end:
        try:
            ask = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(ask, timeout=5) as answer:
                if json.load(answer).get("state") not in ("idle", "running"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not start and warm up within {timeout:g} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux; NaN elsewhere): the server's CPU
    per request does not depend on what else the machine runs, unlike latency."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


async def run_all(args: argparse.Namespace, port: int, token: str, pid: int) -> list[dict]:
    rows = []
    for heavy in ([False, True] if args.heavy else [False]):
        for path in args.endpoints:
            # warm the cache once, then measure
            conn = Connection("127.0.0.1", port, token)
            status = await conn.get(path)
            conn.close()
            stop, count = asyncio.Event(), [0]
            task = (asyncio.create_task(heavy_client("127.0.0.1", port, token, stop, count))
                    if heavy else None)
            if task:
                await asyncio.sleep(1.0)  # let the first heavy query start
            load_before, cpu_before = os.getloadavg()[0], cpu_seconds(pid)
            sample = await measure("127.0.0.1", port, token, path, args.rate, args.duration,
                                   args.connections, args.max_queue)
            cpu = cpu_seconds(pid) - cpu_before
            stop.set()
            if task:
                await task
            lat = [x * 1000 for x in sample.latencies]
            rows.append({
                "endpoint": path, "heavy": heavy, "warm_status": status,
                "sent": int(args.rate * args.duration), "ok": len(lat) - sample.errors,
                "errors": sample.errors, "dropped": sample.dropped,
                "p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": max(lat or [0]),
                "mean": statistics.fmean(lat) if lat else float("nan"),
                "heavy_queries": count[0],
                # the heavy queries' CPU is in there too when the heavy client runs
                "server_cpu_ms_per_request": cpu / max(1, len(lat)) * 1000,
                "load_avg": (load_before, os.getloadavg()[0]),
            })
            print(json.dumps(rows[-1]), flush=True)
    return rows


def render(rows: list[dict], args: argparse.Namespace, command: str) -> str:
    lines = [
        "## Serving under load (bench/load.py)", "",
        f"- Command: `{command}`",
        (f"- Date: {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores; "
         f"Python {platform.python_version()}; load average at the end "
         f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}"),
        (f"- {args.rate:g} requests/s per endpoint for {args.duration:g} s, open loop, "
         f"{args.connections} keep-alive connections; target p99 <= 50 ms"), "",
        ("Server CPU is the server process's CPU time per request (with the heavy client, "
         "its queries' too); load is the machine's 1-minute load average before / after."), "",
        ("| endpoint | heavy client | ok | errors | dropped | p50 ms | p99 ms | max ms "
         "| server CPU ms/req | load | result |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = r["p99"] <= 50 and not r["errors"] and not r["dropped"]
        heavy = f"yes ({r['heavy_queries']} queries)" if r["heavy"] else "no"
        lines.append(
            f"| `{r['endpoint']}` | {heavy}"
            f" | {r['ok']:,} | {r['errors']} | {r['dropped']} | {r['p50']:.1f} | {r['p99']:.1f}"
            f" | {r['max']:.1f} | {r['server_cpu_ms_per_request']:.2f}"
            f" | {r['load_avg'][0]:.1f} / {r['load_avg'][1]:.1f}"
            f" | {'**PASS**' if ok else '**FAIL**'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--rate", type=float, default=400)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-queue", type=float, default=1.0)
    parser.add_argument("--heavy", type=int, default=1, help="1: also measure with a heavy client")
    parser.add_argument("--endpoints", nargs="*", default=list(ENDPOINTS))
    parser.add_argument("--write", action="store_true", help="write into bench/RESULTS.md")
    args = parser.parse_args()
    workspace, token = prepare(args.workspace)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "shopscope.cli", "serve", "-w", str(workspace), "--port",
         str(port), "--insecure-cookies"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port, token)
        rows = asyncio.run(run_all(args, port, token, server.pid))
    finally:
        server.terminate()
        server.wait(30)
    text = render(rows, args, "python bench/load.py " + " ".join(sys.argv[1:]))
    print(text)
    if args.write:
        import re

        results = ROOT / "bench" / "RESULTS.md"
        body = results.read_text(encoding="utf-8")
        block = f"<!-- bench:load -->\n{text.rstrip()}\n<!-- /bench:load -->"
        pattern = re.compile(r"<!-- bench:load -->.*?<!-- /bench:load -->", re.DOTALL)
        body = (pattern.sub(lambda _: block, body) if pattern.search(body)
                else body + "\n" + block + "\n")
        results.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
