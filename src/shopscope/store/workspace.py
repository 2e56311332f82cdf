"""A workspace: a folder holding ``shopscope.toml`` (settings) and the DuckDB file (or, for
Spark, the ``tables/`` catalog of Parquet folders)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopscope.errors import ShopscopeError, WorkspaceError
from shopscope.store.engine import Store, StoreInUse, connect

SETTINGS_FILE = "shopscope.toml"
DB_FILE = "shop.duckdb"
#: A Spark workspace's tables (see shopscope.store.catalog)
TABLES_DIR = "tables"
# Written by `shopscope serve` while it holds the workspace, so that other commands can say
# who holds it and where its API is instead of showing DuckDB's lock error.
SERVE_FILE = "serve.json"


@dataclass(frozen=True)
class WorkspaceSettings:
    """What a workspace remembers about its shop.

    ``timezone`` is the shop's local zone: all stored timestamps are naive local times in it,
    so that days and months are the shop's days and months.
    """

    name: str = "shop"
    engine_url: str = ""
    timezone: str = "UTC"
    currency: str = "GBP"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ShopscopeError(
                f"unknown time zone {self.timezone!r}",
                hint="use an IANA name such as UTC, Europe/London or Asia/Shanghai",
            ) from None

    def to_toml(self) -> str:
        lines = ["# shopscope workspace settings"]
        for key in ("name", "engine_url", "timezone", "currency"):
            value = getattr(self, key).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{value}"')
        return "\n".join(lines) + "\n"


class Workspace:
    """A folder with settings and an engine connection (DuckDB file by default)."""

    def __init__(self, path: Path, settings: WorkspaceSettings) -> None:
        self.path = path
        self.settings = settings
        self._store: Store | None = None

    @classmethod
    def create(cls, path: str | Path, **settings: str) -> Workspace:
        """Create (or re-open) a workspace folder; existing settings are kept."""
        root = Path(path)
        if (root / SETTINGS_FILE).exists():
            return cls.open(root)
        if root.exists() and not root.is_dir():
            raise WorkspaceError(f"{root} exists and is not a folder", hint="choose another path")
        root.mkdir(parents=True, exist_ok=True)
        ws_settings = WorkspaceSettings(**settings)
        (root / SETTINGS_FILE).write_text(ws_settings.to_toml(), encoding="utf-8")
        ws = cls(root, ws_settings)
        if ws.is_spark:  # the empty tables are declared in the catalog without starting Spark
            import importlib.util

            from shopscope.errors import UnsupportedOnEngine
            from shopscope.store.catalog import declare_tables
            from shopscope.store.engine import declared_tables

            if importlib.util.find_spec("pyspark") is None:
                (root / SETTINGS_FILE).unlink()
                raise UnsupportedOnEngine("pyspark is not installed",
                                          hint='pip install "shopscope[spark]" (and Java 17)')
            declare_tables(root / TABLES_DIR, declared_tables())
        else:
            ws.store.ensure_tables()
        return ws

    @classmethod
    def open(cls, path: str | Path) -> Workspace:
        root = Path(path)
        cfg = root / SETTINGS_FILE
        if not cfg.exists():
            raise WorkspaceError(
                f"no workspace at {root} ({SETTINGS_FILE} not found)",
                hint=f"create one with: shopscope init {root}",
            )
        try:
            data = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise WorkspaceError(f"{cfg}: {exc}", hint="fix or delete the settings file") from exc
        known = {k: str(v) for k, v in data.items() if k in WorkspaceSettings.__annotations__}
        return cls(root, WorkspaceSettings(**known))

    @property
    def engine_url(self) -> str:
        return self.settings.engine_url or f"duckdb:///{(self.path / DB_FILE).resolve()}"

    @property
    def is_spark(self) -> bool:
        return self.engine_url.startswith("pyspark://")

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = connect(
                    self.engine_url, warehouse=str(self.path / "spark-warehouse"),
                    tables=str(self.path.resolve() / TABLES_DIR) if self.is_spark else None)
            except StoreInUse as exc:
                server = serving(self.path)
                if server is None or (exc.pid is not None and server["pid"] != exc.pid):
                    raise
                url = server["url"].rstrip("/")
                raise StoreInUse(
                    self.engine_url, server["pid"],
                    f"the workspace is held by a running `shopscope serve` (pid {server['pid']})",
                    f"stop it (Ctrl-C in its terminal) or use the API at {url}/api/kpis "
                    f"(all endpoints: {url}/docs)") from exc
            self._store.ensure_tables()
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def serve_marker(path: str | Path, url: str) -> Iterator[None]:
    """While the block runs, ``path/serve.json`` says this process serves the workspace."""
    marker = Path(path) / SERVE_FILE
    # uvicorn answers SIGTERM with a graceful shutdown, then restores the handler it found
    # and raises the signal again: with the default handler the process would die there,
    # before the ``finally`` below, leaving a stale marker. Ours unwinds as SystemExit.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    marker.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(marker.read_text(encoding="utf-8")).get("pid") == os.getpid():
                marker.unlink()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def serving(path: str | Path) -> dict | None:
    """The live ``shopscope serve`` holding the workspace (``pid``, ``url``), if any."""
    try:
        info = json.loads((Path(path) / SERVE_FILE).read_text(encoding="utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return None  # a server that died without cleaning up
    except PermissionError:
        pass
    return {"pid": pid, "url": url}
