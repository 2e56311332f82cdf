"""What is loaded: tables, row counts and date ranges, rejected rows; customer lists."""

from __future__ import annotations

from typing import Literal

import ibis
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from shopscope.ui.deps import ApiError, CurrentUser, State, download, require
from shopscope.auth import User
from shopscope.privacy import mask_rejects, protect
from shopscope.schema import TABLES
from shopscope.store.engine import INGEST_LOG, REJECTS
from shopscope.ui.warmup import WarmupStatus

router = APIRouter(tags=["data"])


class TableInfo(BaseModel):
    name: str
    rows: int
    time_column: str | None
    first: str | None
    last: str | None
    out_of_range: int = Field(0, description="rows dated outside 1900..2199, left out of "
                                             "every analysis")


class Page(BaseModel):
    items: list[dict]
    page: int
    page_size: int
    total: int


def table_overview(state) -> list[TableInfo]:  # noqa: ANN001
    store = state.workspace.store
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
    return out


@router.get("/api/data/tables", response_model=list[TableInfo])
def tables(state: State, user: CurrentUser):  # noqa: ANN201
    """Canonical tables with row counts and the range of their time column."""
    return state.cached(("tables",), lambda: table_overview(state))


def _page(expr: ibis.Table, page: int, page_size: int) -> Page:
    total = int(expr.count().execute())
    frame = expr.limit(page_size, offset=(page - 1) * page_size).execute()
    items = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for item in items:
        for k, v in item.items():
            if v is not None and not isinstance(v, (int, float, str, bool)):
                item[k] = str(v)
    return Page(items=items, page=page, page_size=page_size, total=total)


@router.get("/api/data/rejects", response_model=Page)
def rejects(state: State, user: CurrentUser, page: int = Query(1, ge=1, le=1_000_000),  # noqa: ANN201
            page_size: int = Query(100, ge=1, le=1000)):
    """Rows refused under the quarantine policy, with file, row, column, value and reason.
    Values of PII columns are masked for non-admins."""
    def compute() -> Page:
        t = state.workspace.store.table(REJECTS)
        if not user.can("admin"):
            t = mask_rejects(t)
        return _page(t.order_by(["loaded_at", "source", "row"]), page, page_size)
    return state.cached(("rejects", page, page_size, user.can("admin")), compute)


@router.get("/api/data/loads", response_model=Page)
def loads(state: State, user: CurrentUser, page: int = Query(1, ge=1, le=1_000_000),  # noqa: ANN201
          page_size: int = Query(100, ge=1, le=1000)):
    """The ingest log: one row per table per load."""
    def compute() -> Page:
        t = state.workspace.store.table(INGEST_LOG)
        return _page(t.order_by(ibis.desc("loaded_at")), page, page_size)
    return state.cached(("loads", page, page_size), compute)


@router.get("/api/customers", response_model=Page)
def customers(state: State, user: CurrentUser, page: int = Query(1, ge=1, le=1_000_000),  # noqa: ANN201
              page_size: int = Query(100, ge=1, le=1000)):
    """Customers, PII masked unless you are an admin (customer ids that are e-mail
    addresses or phone numbers become pseudonyms, see docs/api.md)."""
    def compute() -> Page:
        t = state.workspace.store.table("customers")
        t = protect(t, "raw" if user.can("admin") else "mask", state.protect_key(user))
        return _page(t.order_by("customer_id"), page, page_size)
    return state.cached(("customers", page, page_size, user.can("admin")), compute)


@router.get("/api/customers/export",
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def export_customers(
    state: State,
    user: User = Depends(require("analyst")),
    format: Literal["csv", "parquet"] = "csv",  # noqa: A002
    pii: Literal["mask", "hash", "raw"] = "mask",
) -> Response:
    """Customer list download (analyst or admin). PII is masked unless an admin asks for
    ``pii=raw`` (or ``hash`` for stable pseudonyms); ``mask`` and ``hash`` also replace
    customer ids that are e-mail addresses or phone numbers by pseudonyms."""
    if pii == "raw" and not user.can("admin"):
        raise ApiError(403, "forbidden", "raw PII exports need the admin role",
                       "use pii=mask or pii=hash")
    with state.lock:
        key = None if pii == "raw" else state.pseudonym_key
        frame = protect(state.workspace.store.table("customers"), pii, key).order_by(
            "customer_id").execute()
    return download(frame, format, "customers")


# -- warm-up after a load (shopscope.ui.warmup) ------------------------------------------
@router.get("/api/data/warmup", response_model=WarmupStatus)
def warmup(state: State, user: CurrentUser) -> WarmupStatus:
    """Progress of the background recomputation of every page's default view that follows
    a change of the data (and the server's start): step, area, errors, time taken."""
    return state.warmup.status()
