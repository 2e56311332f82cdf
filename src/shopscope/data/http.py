"""What is loaded: tables, row counts and date ranges, rejected rows; customer lists.

A thin adapter over :mod:`shopscope.data.service`: rows come back as pages of typed
records (one response model per table, built from its schema).
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, create_model

from shopscope.auth import User
from shopscope.data import service
from shopscope.data.service import AuditEntry, TableInfo, UploadError, UploadStatus
from shopscope.schema import TABLES
from shopscope.ui.deps import ApiError, CurrentUser, State, download, require
from shopscope.ui.respcache import cached_response
from shopscope.ui.warmup import WarmupStatus

router = APIRouter(tags=["data"])
Row = TypeVar("Row", bound=BaseModel)
# JSON types of the Ibis types; times (and anything else) are sent as text.
_JSON_TYPES: dict[str, type] = {"string": str, "int64": int, "float64": float, "boolean": bool}


def row_model(name: str, columns: dict[str, str]) -> type[BaseModel]:
    """A response model for rows with ``columns`` (name → Ibis type), every value nullable."""
    fields: dict[str, Any] = {c: (_JSON_TYPES.get(dtype.lstrip("!"), str) | None, ...)
                              for c, dtype in columns.items()}
    return create_model(name, **fields)


class RejectRow(BaseModel):
    """A rejected value: the file, its row and column, the value (masked for non-admins)."""

    table_name: str | None
    source: str | None
    row: int | None
    column: str | None
    value: str | None
    reason: str | None
    loaded_at: str | None


class LoadRow(BaseModel):
    """One table of one load of the ingest log."""

    fingerprint: str | None
    source: str | None
    preset: str | None
    table_name: str | None
    rows_read: int | None
    rows_added: int | None
    rows_rejected: int | None
    loaded_at: str | None


# Built from the canonical schema, so a new customers column is in the API at once.
CustomerRow = row_model("CustomerRow", {c.name: c.dtype for c in TABLES["customers"].columns})


class Page(BaseModel, Generic[Row]):
    items: list[Row]
    page: int
    page_size: int
    total: int


def _items(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON values: missing as null, times and other objects as text."""
    items = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for item in items:
        for k, v in item.items():
            if v is not None and not isinstance(v, (int, float, str, bool)):
                item[k] = str(v)
    return items


def _page(rows: service.Rows) -> dict:
    return {"items": _items(rows.frame), "page": rows.page, "page_size": rows.page_size,
            "total": rows.total}


PageQuery = Query(1, ge=1, le=1_000_000)
SizeQuery = Query(100, ge=1, le=1000)


@router.get("/api/data/tables", response_model=list[TableInfo])
@cached_response
def tables(state: State, user: CurrentUser):
    """Canonical tables with row counts and the range of their time column."""
    return list(service.tables(state))


@router.get("/api/data/rejects", response_model=Page[RejectRow])
def rejects(state: State, user: CurrentUser, page: int = PageQuery,
            page_size: int = SizeQuery):
    """Rows refused under the quarantine policy, with file, row, column, value and reason.
    Values of PII columns are masked for non-admins."""
    return _page(service.rejects(state, service.RejectsParams(page=page, page_size=page_size),
                                 masked=not user.can("admin")))


@router.get("/api/data/loads", response_model=Page[LoadRow])
def loads(state: State, user: CurrentUser, page: int = PageQuery,
          page_size: int = SizeQuery):
    """The ingest log: one row per table per load."""
    return _page(service.loads(state, service.LoadsParams(page=page, page_size=page_size)))


@router.get("/api/customers", response_model=Page[CustomerRow])  # type: ignore[valid-type]
def customers(state: State, user: CurrentUser, page: int = PageQuery,
              page_size: int = SizeQuery):
    """Customers, PII masked unless you are an admin (customer ids that are e-mail
    addresses or phone numbers become pseudonyms, see docs/api.md)."""
    params = service.CustomersParams(page=page, page_size=page_size,
                                     pii="raw" if user.can("admin") else "mask")
    return _page(service.customers(state, params, key=state.protect_key(user)))


@router.get("/api/customers/export",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def export_customers(
    state: State,
    user: User = Depends(require("analyst")),
    format: Literal["csv", "parquet"] = "csv",
    pii: Literal["mask", "hash", "raw"] = "mask",
) -> Response:
    """Customer list download (analyst or admin). PII is masked unless an admin asks for
    ``pii=raw`` (or ``hash`` for stable pseudonyms); ``mask`` and ``hash`` also replace
    customer ids that are e-mail addresses or phone numbers by pseudonyms."""
    if pii == "raw" and not user.can("admin"):
        raise ApiError(403, "forbidden", "raw PII exports need the admin role",
                       "use pii=mask or pii=hash")
    with state.lock:  # not cached: the store is used under the app's lock
        frame = service.customer_export(state, pii,
                                        key=None if pii == "raw" else state.pseudonym_key)
    return download(frame, format, "customers")


# -- warm-up after a load (shopscope.ui.warmup) ------------------------------------------
@router.get("/api/data/warmup", response_model=WarmupStatus)
def warmup(state: State, user: CurrentUser) -> WarmupStatus:
    """Progress of the background recomputation of every page's default view that follows
    a change of the data (and the server's start): step, area, errors, time taken."""
    return state.warmup.status()


# -- uploads while serving (shopscope.data.uploads) --------------------------------------------
def _api_error(exc: UploadError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, exc.hint)


@router.post("/api/data/uploads", response_model=UploadStatus, status_code=202,
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary"},
                     "mapping": {"type": "string", "format": "binary"},
                     "preset": {"type": "string", "enum": ["online_retail", "cdnow", "taobao"]},
                     "policy": {"type": "string", "enum": ["reject", "quarantine"]}}}}}}})
async def upload(request: Request, state: State,
                 user: User = Depends(require("analyst"))) -> UploadStatus:
    """Load a file into the served workspace (analyst or admin): multipart ``file`` (CSV,
    .csv.gz, .xlsx or Parquet) with a ``preset`` or a ``mapping`` (.toml), and ``policy``
    (reject: any bad row and nothing loads; quarantine: bad rows go to the rejects).
    Answers 202 at once; poll ``GET /api/data/uploads/{id}``. Too large: 413; wrong type:
    415; every upload is in the audit log."""
    try:
        return await service.start_upload(state, request, user)
    except UploadError as exc:
        raise _api_error(exc) from None


@router.get("/api/data/uploads/{upload_id}", response_model=UploadStatus)
def upload_state(upload_id: str, state: State,
                 user: User = Depends(require("analyst"))) -> UploadStatus:
    """An upload's state (queued, loading, done, rejected, failed), its step, the rows it
    added and its first problems; for its uploader and admins."""
    found = service.upload_status(state, upload_id, user)
    if found is None:
        raise ApiError(404, "not_found", f"no upload {upload_id!r}",
                       "uploads are kept while the server runs")
    return found


@router.get("/api/data/uploads/{upload_id}/rejects.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def upload_rejects(upload_id: str, state: State,
                   user: User = Depends(require("analyst"))) -> Response:
    """The upload's rejected values (table, row, column, value, reason) as CSV."""
    frame = service.upload_rejects(state, upload_id, user)
    if frame is None:
        raise ApiError(404, "not_found", f"no upload {upload_id!r}",
                       "uploads are kept while the server runs")
    return download(frame, "csv", f"rejects-{upload_id}")


@router.get("/api/data/audit", response_model=list[AuditEntry])
def upload_audit(state: State, user: User = Depends(require("admin")),
                 limit: int = Query(200, ge=1, le=10_000)) -> list[AuditEntry]:
    """The upload audit log, newest first (admins): who, when, file, size, sha256, preset or
    mapping, result and rows."""
    return service.upload_audit(state, limit)
