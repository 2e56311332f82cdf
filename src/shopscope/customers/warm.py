"""The customers area's warmers: the default views of ``/customers`` and ``/audiences``
computed through the service, under the keys the pages use (see ``shopscope.ui.warmup``)."""

from __future__ import annotations

import contextlib

from shopscope.core.service import Context
from shopscope.customers import service as svc
from shopscope.customers.service import CustomersError


def customers_page(ctx: Context) -> None:
    """``/customers`` without filters: the classic RFM segments and the lifecycle flows as
    of the day after the last order, and the CLV report split at the default calibration
    end."""
    try:
        dates = svc.data_dates(ctx)
    except CustomersError:
        return  # no orders: the page shows its empty state
    svc.rfm_segments(ctx, svc.RfmParams(as_of=dates.default_as_of, scheme="classic"))
    svc.flows(ctx, svc.MovesParams(end=dates.default_as_of))
    # the page shows why there is no CLV; an error is not cached
    with contextlib.suppress(CustomersError):
        svc.clv_report(ctx, svc.ClvParams(calibration_end=dates.default_calibration_end))


def audiences_page(ctx: Context) -> None:
    """``/audiences``: the profile's CLV columns and every saved audience's numbers as of
    the day after the last order."""
    try:
        as_of = svc.data_dates(ctx).default_as_of
    except CustomersError:
        return
    svc.audience_profile(ctx, as_of)
    svc.saved_audiences(ctx, as_of)
