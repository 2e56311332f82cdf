"""What the customers API and pages share: service errors answered as API errors."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from shopscope.customers.service import CustomersError, Viewer
from shopscope.ui.deps import ApiError, AppState


class ServiceErrors(APIRoute):
    """Answers a :class:`~shopscope.customers.service.CustomersError` with its status and
    code (the app's error handler knows :class:`~shopscope.ui.deps.ApiError`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except CustomersError as exc:
                raise ApiError(exc.status, exc.code, exc.message, exc.hint) from exc

        return run


def viewer(state: AppState, admin: bool) -> Viewer:
    """The service's viewer for a signed-in user of the app."""
    return Viewer(admin=admin, pseudonym_key=state.pseudonym_key)
