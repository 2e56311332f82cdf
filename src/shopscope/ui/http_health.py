"""Liveness, the one endpoint without a login."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from shopscope import __version__

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]
    version: str


@router.get("/api/health", response_model=Health)
def health() -> Health:
    """Liveness: no login needed, no data returned."""
    return Health(status="ok", version=__version__)
