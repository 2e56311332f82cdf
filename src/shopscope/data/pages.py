"""The data page: tables with row counts and date ranges, the ingest log, rejected rows.

A thin adapter over :mod:`shopscope.data.service`, which masks rejected values for
non-admins in the engine, before they reach Python (:func:`shopscope.privacy.mask_rejects`).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.data import service
from shopscope.ui.deps import AppState, State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, render, translator_for
from shopscope.ui.warmup import page_view as warmup_view

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 50
MAX_LOADS = 100


def _timestamp(value: object) -> dt.datetime | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    ts = pd.Timestamp(value)
    return None if pd.isna(ts) else ts.to_pydatetime()


def _when(t: Translator, value: object) -> str:
    ts = _timestamp(value)
    if ts is None:
        return t.date(None)
    if ts.time() == dt.time(0):
        return t.date(ts.date())
    return t.datetime(ts)


def build_data_page(state: AppState, t: Translator, page: int, admin: bool) -> dict:
    """The data page's tables, formatted for ``t``'s language."""
    tables = service.tables(state)
    loads = service.loads(state, service.LoadsParams(page=1, page_size=MAX_LOADS)).frame
    found = service.rejects(state, service.RejectsParams(page=page, page_size=PAGE_SIZE,
                                                         newest_first=True), masked=not admin)
    total, rejects = found.total, found.frame
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return {
        "tables": [{"name": info.name, "label": t.table_name(info.name),
                    "rows": t.count(info.rows), "time_column": info.time_column or "",
                    "first": _when(t, info.first) if info.first else "",
                    "last": _when(t, info.last) if info.last else ""}
                   for info in tables],
        "loads": [{"source": r["source"], "preset": r["preset"],
                   "table": t.table_name(r["table_name"]),
                   "rows_read": t.count(r["rows_read"]), "rows_added": t.count(r["rows_added"]),
                   "rows_rejected": t.count(r["rows_rejected"]),
                   "loaded_at": _when(t, r["loaded_at"])}
                  for r in loads.to_dict("records")],
        "rejects": [{"table": t.table_name(r["table_name"]), "source": r["source"],
                     "row": "" if pd.isna(r["row"]) else t.count(r["row"]),
                     "column": r["column"],
                     "value": t("data.empty_value") if r["value"] is None
                     or (isinstance(r["value"], float) and math.isnan(r["value"]))
                     else str(r["value"]),
                     "reason": t.reason(r["reason"]),
                     "loaded_at": _when(t, r["loaded_at"])}
                    for r in rejects.to_dict("records")],
        "rejects_total": total,
        "rejects_total_label": t.plural("data.rejects_total", total, n=t.count(total)),
        "page": min(page, pages),
        "pages": pages,
        "masked": not admin,
    }


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """What is loaded; rejected rows with reasons (PII masked unless admin)."""
    t = translator_for(request, session)
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    view = build_data_page(state, t, page, session.user.can("admin"))
    return render(request, "data.html", t, session=session, view=view,
                  warmup=warmup_view(t, state.warmup.status()))
