from __future__ import annotations

from fastapi import APIRouter

from shopscope import __version__

router = APIRouter(tags=["health"])


@router.get("/api/health")
def health() -> dict:
    """Liveness: no login needed, no data returned."""
    return {"status": "ok", "version": __version__}
