"""Saved audiences: definitions (JSON in the workspace), size and value, masked exports."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Response

from shopscope.customers import (
    AudienceStore,
    audience_expr,
    audience_stats,
    build_profile,
    clv_columns,
    export_audience,
)
from shopscope.customers.audiences import AudienceNotFound, parse_definition
from shopscope.ui.deps import ApiError, CurrentUser, State, require
from shopscope.customers.http import default_as_of
from shopscope.auth import User
from shopscope.privacy import PII_COLUMNS, looks_like_pii

router = APIRouter(tags=["audiences"])


def _load(state, name: str):  # noqa: ANN001, ANN202
    try:
        return AudienceStore(state.workspace.path).load(name)
    except AudienceNotFound as exc:
        raise ApiError(404, "not_found", exc.message, "see GET /api/audiences") from None


def profile(state, day: dt.date):  # noqa: ANN001, ANN201
    """The customer profile audiences filter on, with CLV columns (``clv``, ``p_alive``,
    ``expected_purchases``) from a fit on the orders before ``day`` when one is possible."""
    store = state.workspace.store
    extra = state.cached(("audience-clv", day), lambda: clv_columns(store, day))
    return build_profile(store, day, extra=extra)


def definition_stats(state, definition, as_of: dt.date | None) -> dict[str, Any]:  # noqa: ANN001
    day = default_as_of(state, as_of)

    def compute() -> dict[str, Any]:
        return dict(audience_stats(definition, profile(state, day)).__dict__, as_of=str(day))

    return state.cached(("audience", definition.model_dump_json(), day), compute)


def check_pii_filters(definition, user: User) -> None:  # noqa: ANN001
    """403 for a filter that would let a non-admin test who is a customer: a value test
    on e-mail, phone, name or address, or a customer id that is itself PII."""
    if user.can("admin"):
        return
    for f in definition.filters:
        values = f.value if isinstance(f.value, list) else [f.value]
        if f.field in PII_COLUMNS and f.op not in ("is_null", "not_null"):
            raise ApiError(403, "pii_filter", f"filters on {f.field!r} need the admin role",
                           f"use '{f.field} not_null' / 'is_null', or ask an admin")
        # (ordering ops on text fields are refused by the audience itself)
        if f.field == "customer_id" and any(isinstance(v, str) and looks_like_pii(v)
                                            for v in values):
            raise ApiError(403, "pii_filter", "customer_id values that are e-mail addresses "
                           "or phone numbers need the admin role",
                           "filter on the ids shown in customer lists (c_… pseudonyms)")


@router.get("/api/audiences", response_model=list[str])
def list_audiences(state: State, user: CurrentUser):  # noqa: ANN201
    """Names of the saved audience definitions."""
    return AudienceStore(state.workspace.path).list()


@router.post("/api/audiences", status_code=201, response_model=dict[str, Any])
def save_audience(state: State, definition: dict[str, Any] = Body(...),  # noqa: ANN201
                  user: User = Depends(require("analyst"))):
    """Save (or replace) a definition: ``{name, description, filters: [{field, op, value}],
    columns}``; it re-runs on whatever data the workspace holds."""
    parsed = parse_definition(definition)
    check_pii_filters(parsed, user)
    AudienceStore(state.workspace.path).save(parsed)
    return parsed.model_dump()


@router.post("/api/audiences/preview", response_model=dict[str, Any])
def preview(state: State, user: CurrentUser, definition: dict[str, Any] = Body(...),  # noqa: ANN201
            as_of: dt.date | None = None):
    """Size and value of a definition without saving it (the dashboard's builder).
    Filters on PII (e-mail, phone, name, address) need the admin role."""
    parsed = parse_definition(definition)
    check_pii_filters(parsed, user)
    return definition_stats(state, parsed, as_of)


@router.delete("/api/audiences/{name}", status_code=204)
def delete_audience(name: str, state: State,
                    user: User = Depends(require("analyst"))) -> Response:
    _load(state, name)
    AudienceStore(state.workspace.path).delete(name)
    return Response(status_code=204)


@router.get("/api/audiences/{name}/stats", response_model=dict[str, Any])
def stats(name: str, state: State, user: CurrentUser,  # noqa: ANN201
          as_of: dt.date | None = None):
    """Size and value of the audience before exporting it."""
    return definition_stats(state, _load(state, name), as_of)


@router.get("/api/audiences/{name}/export",
            responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}})
def export(name: str, state: State, user: User = Depends(require("analyst")),
           as_of: dt.date | None = None, format: Literal["csv", "parquet"] = "csv",  # noqa: A002
           pii: Literal["mask", "hash", "raw"] = "mask") -> Response:
    """The audience's members (analyst or admin); PII masked unless an admin asks ``raw``."""
    if pii == "raw" and not user.can("admin"):
        raise ApiError(403, "forbidden", "raw PII exports need the admin role",
                       "use pii=mask or pii=hash")
    definition = _load(state, name)
    day = default_as_of(state, as_of)
    with state.lock, tempfile.TemporaryDirectory() as tmp:
        members = audience_expr(definition, profile(state, day))
        path = export_audience(members, Path(tmp) / f"audience.{format}", format, pii,
                               key=state.pseudonym_key)
        body = path.read_bytes()
    media = "text/csv" if format == "csv" else "application/vnd.apache.parquet"
    return Response(body, media_type=media, headers={
        "content-disposition": f"attachment; filename=audience.{format}"})
