"""Saved audiences over the API: definitions (JSON in the workspace), size and value,
masked exports, all through :mod:`shopscope.customers.service`."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Response
from pydantic import BaseModel

from shopscope.auth import User
from shopscope.customers import service as svc
from shopscope.customers.audiences import (
    AudienceDefinition,
    AudienceNotFound,
    parse_definition,
)
from shopscope.customers.routing import ServiceErrors, viewer
from shopscope.ui.deps import ApiError, AppState, CurrentUser, State, require

router = APIRouter(tags=["audiences"], route_class=ServiceErrors)


class AudienceStatsOut(BaseModel):
    """:class:`~shopscope.customers.audiences.AudienceStats` and the day it is as of."""

    name: str
    size: int
    customers: int
    share: float | None
    buyers: int
    monetary_sum: float
    monetary_mean: float | None
    clv_sum: float | None
    code: Literal["ok", "empty"]
    as_of: str


@contextmanager
def _known() -> Iterator[None]:
    try:
        yield
    except AudienceNotFound as exc:
        raise ApiError(404, "not_found", exc.message, "see GET /api/audiences") from None


def _load(state: AppState, name: str) -> AudienceDefinition:
    with _known():
        return svc.load_audience(state, name)


@router.get("/api/audiences", response_model=list[str])
def list_audiences(state: State, user: CurrentUser) -> list[str]:
    """Names of the saved audience definitions."""
    return svc.list_audiences(state)


@router.post("/api/audiences", status_code=201, response_model=AudienceDefinition)
def save_audience(state: State, definition: dict[str, Any] = Body(...),
                  user: User = Depends(require("analyst"))) -> AudienceDefinition:
    """Save (or replace) a definition: ``{name, description, filters: [{field, op, value}],
    columns}``; it re-runs on whatever data the workspace holds."""
    parsed = parse_definition(definition)
    svc.save_audience(state, parsed, viewer(state, user.can("admin")))
    return parsed


@router.post("/api/audiences/preview", response_model=AudienceStatsOut)
def preview(state: State, user: CurrentUser, definition: dict[str, Any] = Body(...),
            as_of: dt.date | None = None) -> dict[str, Any]:
    """Size and value of a definition without saving it (the dashboard's builder).
    Filters on PII (e-mail, phone, name, address) need the admin role."""
    parsed = parse_definition(definition)
    return svc.preview(state, svc.AudienceParams(definition=parsed, as_of=as_of),
                       viewer(state, user.can("admin"))).as_dict()


@router.delete("/api/audiences/{name}", status_code=204)
def delete_audience(name: str, state: State,
                    user: User = Depends(require("analyst"))) -> Response:
    with _known():
        svc.delete_audience(state, name)
    return Response(status_code=204)


@router.get("/api/audiences/{name}/stats", response_model=AudienceStatsOut)
def stats(name: str, state: State, user: CurrentUser,
          as_of: dt.date | None = None) -> dict[str, Any]:
    """Size and value of the audience before exporting it."""
    return svc.audience(state, svc.AudienceParams(definition=_load(state, name),
                                                  as_of=as_of)).as_dict()


@router.get("/api/audiences/{name}/export",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def export(name: str, state: State, user: User = Depends(require("analyst")),
           as_of: dt.date | None = None, format: Literal["csv", "parquet"] = "csv",
           pii: Literal["mask", "hash", "raw"] = "mask") -> Response:
    """The audience's members (analyst or admin); PII masked unless an admin asks ``raw``."""
    params = svc.ExportParams(definition=_load(state, name), as_of=as_of, format=format,
                              pii=pii)
    # the engine writes the file: one writer at a time, as for every query of the app
    with state.lock, tempfile.TemporaryDirectory() as tmp:
        path = svc.export_members(state, params, Path(tmp) / f"audience.{format}",
                                  viewer(state, user.can("admin")))
        body = path.read_bytes()
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    return Response(body, media_type=media, headers={
        "content-disposition": f"attachment; filename=audience.{format}"})
