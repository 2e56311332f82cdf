"""The data page: tables with row counts and date ranges, the ingest log, rejected rows.

A thin adapter over :mod:`shopscope.data.service`, which masks rejected values for
non-admins in the engine, before they reach Python (:func:`shopscope.privacy.mask_rejects`).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopscope.data import service
from shopscope.data.service import UploadError, UploadStatus
from shopscope.ui.deps import AppState, State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, render, same_token, translator_for
from shopscope.ui.security import max_upload_bytes
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


#: Upload refusals with a message of their own in the catalogue (``data.upload_error.*``).
UPLOAD_ERRORS = ("upload_type", "upload_content", "upload_empty", "upload_mapping",
                 "upload_preset", "upload_policy", "upload_missing", "upload_form",
                 "upload_too_large", "csrf")
UPLOAD_PRESETS = ("online_retail", "cdnow", "taobao")


def upload_error_text(t: Translator, code: str, message: str) -> str:
    """A refused upload in the user's language; the English detail follows for mappings
    (it names the mapping's line)."""
    if code not in UPLOAD_ERRORS:
        return message
    text = t(f"data.upload_error.{code}")
    return f"{text} {message}" if code == "upload_mapping" else text


def upload_view(t: Translator, status: UploadStatus) -> dict:
    """An upload's status, formatted for the page."""
    added = sum(status.rows_added.values())
    if status.state == "done":
        summary = (t("data.upload_skipped") if status.message else
                   t("data.upload_done", rows=t.count(added)))
    elif status.state == "rejected":
        summary = t.plural("data.upload_rejected", status.problems_total,
                           n=t.count(status.problems_total))
    elif status.state == "failed":
        summary = t("data.upload_failed", message=status.message or "")
    else:
        summary = t("data.upload_loading")
    return {
        "id": status.id, "state": status.state, "finished": status.finished,
        "state_label": t(f"data.upload_state.{status.state}"), "summary": summary,
        "file": status.file, "step": status.step or "",
        # the loader's hint speaks of the CLI's --policy; the page has its own choice
        "hint": t("data.upload_rejected_hint") if status.state == "rejected"
        else status.hint if status.state == "failed" else "",
        "added": [{"table": t.table_name(k), "rows": t.count(v)}
                  for k, v in status.rows_added.items() if v],
        "rejected": t.count(status.rows_rejected) if status.rows_rejected else "",
        "problems": [{"table": t.table_name(p.table), "row": "" if p.row is None
                      else t.count(p.row), "column": p.column,
                      "value": t("data.empty_value") if p.value is None else p.value,
                      "reason": t.reason(p.reason)} for p in status.problems],
        "problems_total": status.problems_total,
        "notes": status.notes, "warnings": status.warnings,
        "rejects_url": f"/api/data/uploads/{status.id}/rejects.csv",
    }


def _upload_context(request: Request, state: AppState, t: Translator, session) -> dict:
    user = session.user
    context: dict = {"can_upload": user.can("analyst"), "upload": None, "audit": None,
                     "presets": UPLOAD_PRESETS, "max_upload": max_upload_bytes(),
                     "max_upload_label": f"{max_upload_bytes() / 1e6:,.0f} MB",
                     "upload_texts": {
                         "sending": t("data.upload_sending"),
                         **{code: t(f"data.upload_error.{code}") for code in UPLOAD_ERRORS}}}
    asked = request.query_params.get("upload", "")
    if asked and user.can("analyst"):
        status = service.upload_status(state, asked[:64], user)
        context["upload"] = upload_view(t, status) if status else None
    if user.can("admin"):
        context["audit"] = [{**entry.model_dump(), "at": _when(t, entry.at.replace("+00:00", ""))
                             + " UTC", "result_label": t(f"data.audit_result.{entry.result}")}
                            for entry in service.upload_audit(state, 50)]
    return context


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """What is loaded; rejected rows with reasons (PII masked unless admin); the upload form
    (analysts and admins) and the upload audit log (admins)."""
    t = translator_for(request, session)
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    view = build_data_page(state, t, page, session.user.can("admin"))
    return render(request, "data.html", t, session=session, view=view,
                  warmup=warmup_view(t, state.warmup.status()),
                  **_upload_context(request, state, t, session))


@router.post("/data/upload", response_class=HTMLResponse)
async def data_upload(request: Request, state: State, session: PageSession) -> Response:
    """The upload form without JavaScript: start the load, then show its status on /data
    (the page's script posts to ``/api/data/uploads`` instead)."""
    t = translator_for(request, session)
    if not session.user.can("analyst"):
        return render(request, "error.html", t, session=session, status_code=403,
                      title=t("error.title"), message=t("data.upload_forbidden"))

    def check(fields: dict[str, str]) -> None:
        if not same_token(fields.get("csrf"), session.csrf):
            raise UploadError(403, "csrf", "missing or wrong CSRF token")

    try:
        status = await service.start_upload(state, request, session.user, check)
    except UploadError as exc:
        message, code = upload_error_text(t, exc.code, exc.message), exc.status
        return await run_in_threadpool(
            lambda: render(request, "error.html", t, session=session, status_code=code,
                           title=t("error.invalid_title"), message=message))
    return RedirectResponse(f"/data?upload={status.id}#upload", status_code=303)
