"""The data area's service: what is loaded (tables, the ingest log, rejected rows) and the
customer list, for the API and the data page.

Viewer-dependent shaping is an explicit argument: ``masked`` for rejected values (PII
masked in the engine, :func:`shopscope.privacy.mask_rejects`) and the pseudonym ``key`` for
customer ids (:func:`shopscope.privacy.protect`), so the API and the page give one viewer
the same rows. Results are cached under keys derived from the parameters here.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from shopscope.core.service import Context, Params
from shopscope.data.uploads import (
    AuditEntry,
    UploadError,
    Uploads,
    UploadStatus,
    audit_log,
    receive,
    safe_name,
)
from shopscope.privacy import mask_rejects, protect
from shopscope.schema import TABLES
from shopscope.store.engine import INGEST_LOG, REJECTS

__all__ = [
    "AuditEntry",
    "CustomersParams",
    "LoadsParams",
    "RejectsParams",
    "Rows",
    "TableInfo",
    "UploadError",
    "UploadStatus",
    "customer_export",
    "customers",
    "loads",
    "rejects",
    "start_upload",
    "tables",
    "upload_audit",
    "upload_rejects",
    "upload_status",
]

Pii = Literal["raw", "mask", "hash"]


class TableInfo(BaseModel):
    """A canonical table: its rows and the range of its time column."""

    model_config = ConfigDict(frozen=True)

    name: str
    rows: int
    time_column: str | None
    first: str | None
    last: str | None
    out_of_range: int = Field(0, description="rows dated outside 1900..2199, left out of "
                                             "every analysis")


def _tables(ctx: Context) -> tuple[TableInfo, ...]:
    store = ctx.store
    out = []
    for spec in TABLES.values():
        n = store.row_count(spec.name)
        first = last = None
        if n and spec.time_column:
            t = store.table(spec.name)
            col = t[spec.time_column]
            row = t.aggregate(lo=col.min(), hi=col.max()).execute().iloc[0]
            first, last = str(row["lo"]), str(row["hi"])
        out.append(TableInfo(name=spec.name, rows=n, time_column=spec.time_column,
                             first=first, last=last, out_of_range=store.out_of_range(spec.name)))
    return tuple(out)


def tables(ctx: Context) -> tuple[TableInfo, ...]:
    """Every canonical table with its row count and the first and last time in it."""
    return ctx.cached(("data.tables",), lambda: _tables(ctx))


# -- pages of rows -----------------------------------------------------------------------
class _PageParams(Params):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(100, ge=1, le=1000)


class LoadsParams(_PageParams):
    """A page of the ingest log, newest load first."""


class RejectsParams(_PageParams):
    """A page of rejected rows: by load time, file and row (``newest_first`` for the data
    page, oldest first for the API, as each always listed them)."""

    newest_first: bool = False


class CustomersParams(_PageParams):
    """A page of customers by id, PII ``raw``, masked or hashed."""

    pii: Pii = "mask"


@dataclass(frozen=True, eq=False)
class Rows:
    """One page of a table: ``frame`` holds the page's rows, ``total`` counts them all."""

    page: int
    page_size: int
    total: int
    frame: pd.DataFrame


def _page(expr: ir.Table, page: int, page_size: int) -> Rows:
    total = int(expr.count().execute())
    frame = expr.limit(page_size, offset=(page - 1) * page_size).execute()
    return Rows(page=page, page_size=page_size, total=total, frame=frame)


def loads(ctx: Context, params: LoadsParams) -> Rows:
    """The ingest log: one row per table per load, newest first."""
    def compute() -> Rows:
        t = ctx.store.table(INGEST_LOG)
        return _page(t.order_by([ibis.desc("loaded_at"), "table_name"]), params.page,
                     params.page_size)
    return ctx.cached(("data.loads", params.cache_key()), compute)


def rejects(ctx: Context, params: RejectsParams, *, masked: bool) -> Rows:
    """Rows refused under the quarantine policy; PII-looking values become ``***`` when
    ``masked`` (every viewer but admins)."""
    def compute() -> Rows:
        t = ctx.store.table(REJECTS)
        if masked:
            t = mask_rejects(t)
        order = ([ibis.desc("loaded_at"), "source", "row", "column"] if params.newest_first
                 else ["loaded_at", "source", "row"])
        return _page(t.order_by(order), params.page, params.page_size)
    return ctx.cached(("data.rejects", params.cache_key(), masked), compute)


def _customers(ctx: Context, pii: Pii, key: str | None) -> ir.Table:
    return protect(ctx.store.table("customers", raw=True), pii, key).order_by("customer_id")


def customers(ctx: Context, params: CustomersParams, *, key: str | None) -> Rows:
    """Customers by id. With ``key`` (the workspace's pseudonym secret; None for admins),
    customer ids that are e-mail addresses or phone numbers become pseudonyms."""
    return ctx.cached(("data.customers", params.cache_key(), key),
                   lambda: _page(_customers(ctx, params.pii, key), params.page,
                                 params.page_size))


def customer_export(ctx: Context, pii: Pii, *, key: str | None) -> pd.DataFrame:
    """The whole customer list (not cached: a download is read once). ``key`` as for
    :func:`customers`; ``hash`` mode is keyed by it."""
    return _customers(ctx, pii, key).execute()



# -- uploads while serving (shopscope.data.uploads) --------------------------------------------
def upload_jobs(state) -> Uploads:
    """The served app's uploads (one set of jobs per app, made on first use)."""
    with _UPLOADS_LOCK:
        jobs = getattr(state, "_data_uploads", None)
        if jobs is None:
            jobs = Uploads(state)
            state._data_uploads = jobs
        return jobs


_UPLOADS_LOCK = threading.Lock()


async def start_upload(state, request, user: Any,
                       check: Callable[[dict[str, str]], None] | None = None) -> UploadStatus:
    """Receive a multipart upload (fields ``file``, optional ``mapping``, ``preset``,
    ``policy``) into the workspace's upload folder, check it and start loading it.
    ``check`` sees the text fields first (the page's CSRF token) and may raise.

    Raises
    ------
    UploadError
        Refused before loading (no file, wrong type, bad mapping …), with its HTTP status.
    """
    jobs = upload_jobs(state)
    job_id, folder = jobs.new_folder()
    try:
        got = await receive(request, folder)
        if check is not None:
            check(got.fields)
    except UploadError as exc:
        jobs.refuse(folder, user, "(not read)", exc)
        raise
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if "file" not in got.files:
        err = UploadError(422, "upload_missing", "no file was sent",
                          "choose a CSV, Excel or Parquet file")
        jobs.refuse(folder, user, "(none)", err)
        raise err
    original, received = got.files["file"]
    name = safe_name(original)
    data = folder / name  # the name a mapping's file = "…" matches
    received.rename(data)
    mapping = mapping_name = None
    if "mapping" in got.files:
        mapping_name = safe_name(got.files["mapping"][0])
        mapping = folder / ".mapping.toml"  # hidden: a mapping's "*" never matches it
        got.files["mapping"][1].rename(mapping)
    from starlette.concurrency import run_in_threadpool

    # hashing and checking a large file is blocking work: off the event loop
    return await run_in_threadpool(
        jobs.start, job_id=job_id, folder=folder, data=data, file=name, user=user,
        preset=got.fields.get("preset") or None, mapping=mapping, mapping_name=mapping_name,
        policy=got.fields.get("policy") or "reject")


def upload_status(state, job_id: str, user: Any) -> UploadStatus | None:
    """An upload's status, for its uploader and admins (None: unknown to them)."""
    status = upload_jobs(state).status(job_id)
    if status is None or (status.user != user.username and not user.can("admin")):
        return None
    return status


def upload_rejects(state, job_id: str, user: Any) -> pd.DataFrame | None:
    """Every rejected value an upload's report kept (up to 200 per table), as a table."""
    if upload_status(state, job_id, user) is None:
        return None
    rows = upload_jobs(state).problems(job_id) or []
    columns = ["table", "row", "column", "value", "reason"]
    return pd.DataFrame([r.model_dump() for r in rows], columns=columns)


def upload_audit(state, limit: int = 200) -> list[AuditEntry]:
    """The newest uploads, refused ones included (admins only: the adapters check)."""
    return audit_log(state.workspace.path, limit)
