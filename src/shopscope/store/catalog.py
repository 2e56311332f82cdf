"""A persistent table catalog for Spark workspaces: Parquet folders and one manifest.

Spark's built-in catalog lives in memory and forgets tables when the process ends, so a
Spark workspace keeps its own, in ``<workspace>/tables/``::

    catalog.json            which folders make up each table (replaced atomically)
    .lock                   held by the one process writing (pid inside)
    orders/<part>/          Parquet written by Spark; never changed once listed
    scratch/<id>/           staging tables of a running load (removed after it)

Every process reads ``catalog.json`` and registers each table as a temporary view over its
folders, in a Spark session of its own. A write goes to a new folder; the manifest naming
it is swapped in with ``os.replace`` only when the whole load succeeded. A load that fails
or is killed leaves the previous manifest, so readers (a running ``serve`` among them) see
the old tables whole; the orphaned folders are removed by a later commit. Tables are read
with the declared schema, so columns added to the schema later read as null.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MANIFEST = "catalog.json"
LOCK = ".lock"
SCRATCH = "scratch"
FORMAT = 1
#: Parts per table before an append rewrites the table into one folder (each load adds a
#: part to several tables; many tiny files make every scan slower).
MAX_PARTS = 24
#: Folders no longer listed are deleted this long after they left the manifest: a reader
#: that loaded the older manifest may still be scanning them.
GRACE_SECONDS = 3600.0
SCRATCH_GRACE_SECONDS = 86400.0


def _empty_manifest() -> dict[str, Any]:
    return {"format": FORMAT, "version": 0, "commit": "", "tables": {}, "retired": {}}


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest under ``root`` (an empty one when there is none yet)."""
    from shopscope.errors import WorkspaceError

    path = root / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _empty_manifest()
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"{path}: unreadable table catalog ({exc})",
                             hint="restore it from a backup, or re-create the workspace "
                             "and ingest again") from exc
    if data.get("format") != FORMAT:
        raise WorkspaceError(f"{path}: catalog format {data.get('format')!r} is not {FORMAT}",
                             hint="open the workspace with the shopscope that wrote it")
    return data


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest in one step: readers see the old or the new one, never half."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{MANIFEST}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / MANIFEST)


def declare_tables(root: Path, schemas: dict[str, str]) -> None:
    """Add empty tables (name to Spark DDL schema) to the manifest without starting Spark:
    ``shopscope init`` uses it, so creating a workspace is instant."""
    manifest = read_manifest(root)
    missing = {n: s for n, s in schemas.items() if n not in manifest["tables"]}
    if not missing:
        return
    for name, ddl in missing.items():
        manifest["tables"][name] = {"schema": ddl, "parts": []}
    manifest["version"] += 1
    manifest["commit"] = uuid.uuid4().hex
    write_manifest(root, manifest)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ParquetCatalog:
    """The tables of one workspace, registered as temporary views in ``session``.

    Parameters
    ----------
    root
        The catalog folder (``<workspace>/tables``); on a cluster it must be the same
        path on the driver and every executor (shared storage).
    session
        A Spark session used by this workspace only (its temporary views are the tables).
    declared
        Spark DDL schemas of the tables the code knows (canonical and bookkeeping); files
        are written and read with them.
    """

    def __init__(self, root: Path, session: Any, declared: dict[str, str]) -> None:
        self.root = Path(root)
        self.session = session
        self.declared = declared
        self.root.mkdir(parents=True, exist_ok=True)
        self._manifest = _empty_manifest()
        self._stamp: tuple[int, int, int] | None = None
        self._registered: dict[str, tuple[str, ...]] = {}
        self._scratch: dict[str, Path] = {}
        self._depth = 0  # open transactions (nested ones join the outer)
        self._staged: dict[str, Any] | None = None
        self._written: list[Path] = []
        self._lock_fd: int | None = None
        self.sync()

    # -- reading -------------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        return self._staged if self._staged is not None else self._manifest

    def sync(self) -> None:
        """Pick up what another process committed (cheap: one ``stat`` when unchanged)."""
        if self._staged is not None:
            return  # inside a transaction this process is the only writer
        stamp = _stamp(self.root / MANIFEST)
        if stamp == self._stamp and stamp is not None:
            return
        self._manifest = read_manifest(self.root)
        self._stamp = stamp
        self._register_all()

    def names(self) -> list[str]:
        self.sync()
        return [*self.manifest["tables"], *self._scratch]

    def commit_id(self) -> str:
        self.sync()
        return f"{self._manifest['version']}:{self._manifest['commit']}"

    def _ddl(self, name: str) -> str | None:
        return self.declared.get(name)

    def _frame(self, name: str, entry: dict[str, Any]) -> Any:
        ddl = self._ddl(name)
        if ddl is None and entry.get("schema"):
            from pyspark.sql.types import StructType

            stored = entry["schema"]
            ddl = (StructType.fromJson(json.loads(stored))  # type: ignore[assignment]
                   if stored.startswith("{") else stored)
        paths = [str(self.root / p) for p in entry["parts"]]
        if not paths:
            return self.session.createDataFrame([], ddl)
        reader = self.session.read
        if ddl is not None:
            reader = reader.schema(ddl)
        return reader.parquet(*paths)

    def _register(self, name: str) -> None:
        entry = self.manifest["tables"][name]
        self._frame(name, entry).createOrReplaceTempView(name)
        self._registered[name] = tuple(entry["parts"])

    def _register_all(self) -> None:
        tables = self.manifest["tables"]
        for name in list(self._registered):
            if name not in tables:
                self.session.catalog.dropTempView(name)
                del self._registered[name]
        for name, entry in tables.items():
            if self._registered.get(name) != tuple(entry["parts"]):
                self._register(name)

    # -- writing -------------------------------------------------------------------------
    def _new_folder(self, name: str) -> tuple[str, Path]:
        rel = f"{name}/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        return rel, self.root / rel

    def _write(self, frame: Any, name: str) -> str | None:
        """Write ``frame`` to a new folder of ``name``; None when it had no rows."""
        import pyarrow.parquet as pq

        ddl = self._ddl(name)
        if ddl is not None:  # the files hold the declared types, whatever the query made
            frame = _conform(frame, ddl, self.session)
        rel, folder = self._new_folder(name)
        self._written.append(folder)
        frame.write.mode("error").parquet(str(folder))
        files = sorted(folder.glob("part-*.parquet"))
        if sum(pq.ParquetFile(f).metadata.num_rows for f in files) == 0:
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return rel

    def append(self, name: str, frame: Any) -> None:
        with self.transaction():
            tables = self.manifest["tables"]
            entry = tables.setdefault(name, {"schema": self._ddl(name) or frame.schema.json(),
                                             "parts": []})
            if len(entry["parts"]) >= MAX_PARTS:  # fold the small parts into one
                frame = self.session.table(name).unionByName(frame, allowMissingColumns=True)
                rel = self._write(frame, name)
                self._retire(entry["parts"])
                entry["parts"] = [rel] if rel else []
            else:
                rel = self._write(frame, name)
                if rel:
                    entry["parts"].append(rel)
            self._register(name)

    def overwrite(self, name: str, frame: Any) -> None:
        with self.transaction():
            tables = self.manifest["tables"]
            rel = self._write(frame, name)
            old = tables.get(name, {}).get("parts", [])
            tables[name] = {"schema": self._ddl(name) or frame.schema.json(),
                            "parts": [rel] if rel else []}
            self._retire(old)
            self._register(name)

    def ensure(self, names: list[str]) -> None:
        missing = [n for n in names if n not in self.manifest["tables"]]
        if not missing:
            return
        with self.transaction():
            for name in missing:
                self.manifest["tables"][name] = {"schema": self._ddl(name), "parts": []}
                self._register(name)

    def remove(self, name: str) -> None:
        """Forget a table (a staging table, or a catalog table with its data)."""
        folder = self._scratch.pop(name, None)
        if folder is not None:
            with contextlib.suppress(Exception):
                self.session.catalog.dropTempView(name)
            shutil.rmtree(folder, ignore_errors=True)
            return
        if name in self.manifest["tables"]:
            with self.transaction():
                self._retire(self.manifest["tables"].pop(name)["parts"])
                self.session.catalog.dropTempView(name)
                self._registered.pop(name, None)

    def scratch(self, name: str, frame: Any) -> None:
        """Compute ``frame`` once into a staging folder, readable as ``name`` until
        :meth:`remove` (never listed in the manifest)."""
        self.remove(name)
        # no leading "_" or ".": Spark skips such paths as hidden
        folder = self.root / SCRATCH / f"s{uuid.uuid4().hex[:15]}"
        frame.write.parquet(str(folder))
        self._scratch[name] = folder
        # the schema of the written files, so no type is re-guessed on reading
        self.session.read.schema(frame.schema).parquet(str(folder)).createOrReplaceTempView(name)

    def scratch_root(self) -> str:
        """The folder for staging files of this workspace (made if missing)."""
        (self.root / SCRATCH).mkdir(parents=True, exist_ok=True)
        return str(self.root / SCRATCH)

    def _retire(self, parts: list[str]) -> None:
        now = time.time()
        for p in parts:
            self.manifest["retired"][p] = now

    # -- transactions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside becomes visible to other processes at once, at the end;
        on an exception (Ctrl-C included) none of it does, and this process's views go
        back to the committed tables."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._acquire()
        try:
            self._stamp = None
            self.sync()  # build on what the last writer committed
            self._staged = copy.deepcopy(self._manifest)
            self._written = []
            self._depth = 1
            try:
                yield
                self._commit()
            except BaseException:  # Ctrl-C included; a failed commit too
                self._rollback()
                raise
        finally:
            self._depth = 0
            self._staged = None
            self._release()

    def _commit(self) -> None:
        staged = self._staged
        assert staged is not None
        if staged["tables"] == self._manifest["tables"]:
            return  # nothing written (e.g. every row was already loaded)
        staged["version"] += 1
        staged["commit"] = uuid.uuid4().hex
        self._collect(staged)
        write_manifest(self.root, staged)
        self._written = []  # named by the manifest now: a rollback must not delete them
        self._manifest = staged
        self._stamp = _stamp(self.root / MANIFEST)

    def _rollback(self) -> None:
        for folder in self._written:
            shutil.rmtree(folder, ignore_errors=True)
        self._staged = None
        with contextlib.suppress(Exception):  # the views go back to the committed parts
            self._register_all()

    def _collect(self, manifest: dict[str, Any]) -> None:
        """Delete folders that left the manifest more than ``GRACE_SECONDS`` ago, and
        folders of loads that died before their commit."""
        now = time.time()
        listed = {p for e in manifest["tables"].values() for p in e["parts"]}
        retired = manifest["retired"]
        for rel, when in list(retired.items()):
            if rel in listed:
                del retired[rel]
            elif now - when > GRACE_SECONDS:
                shutil.rmtree(self.root / rel, ignore_errors=True)
                del retired[rel]
        # Folders of written-but-unlisted parts (this load's empty ones, dead loads')
        mine = {f.relative_to(self.root).as_posix() for f in self._written}
        for table_dir in self.root.iterdir():
            if not table_dir.is_dir() or table_dir.name.startswith("."):
                continue
            # another process may be staging a long load meanwhile (it holds no lock then)
            grace = SCRATCH_GRACE_SECONDS if table_dir.name == SCRATCH else GRACE_SECONDS
            for folder in table_dir.iterdir():
                rel = folder.relative_to(self.root).as_posix()
                if rel in listed or rel in retired or rel in mine:
                    continue
                with contextlib.suppress(OSError):
                    if now - folder.stat().st_mtime > grace:
                        shutil.rmtree(folder, ignore_errors=True)

    def _acquire(self) -> None:
        import fcntl

        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            from shopscope.store.engine import StoreInUse

            pid = int(holder) if holder.isdigit() else None
            who = f" (pid {pid})" if pid else ""
            raise StoreInUse(
                str(self.root.parent), pid,
                f"another shopscope command{who} is writing to this Spark workspace",
                "wait for it to finish, then retry (reading commands run meanwhile)",
            ) from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _release(self) -> None:
        if self._lock_fd is None:
            return
        import fcntl

        with contextlib.suppress(OSError):
            os.ftruncate(self._lock_fd, 0)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def close(self) -> None:
        """Drop this process's staging folders (the tables stay)."""
        for name in list(self._scratch):
            self.remove(name)


def _conform(frame: Any, ddl: str, session: Any) -> Any:
    """``frame`` with exactly the columns and types of ``ddl`` (absent ones null)."""
    from pyspark.sql import functions as F

    schema = session.createDataFrame([], ddl).schema
    have = set(frame.columns)
    cols = [(F.col(f"`{f.name}`") if f.name in have else F.lit(None))
            .cast(f.dataType).alias(f.name) for f in schema.fields]
    return frame.select(*cols)
