"""Building blocks shared by trends, funnels, retention and paths.

Everything here returns Ibis expressions, so the work stays in the engine. A *visitor* is the
customer id when the event has one, else the anonymous (device/cookie) id: a shopper who
logs in half-way is then two visitors, which is what the data can tell without a stitching
table.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from shopscope.core.periods import FINE_GRAINS, check_grain, parse_date, truncate
from shopscope.core.tables import TableSource
from shopscope.errors import OptionError
from shopscope.schema.tables import EVENT_TYPES

#: Columns of ``events`` a filter or breakdown may name directly; any other name is looked
#: up as a key of the ``properties`` JSON object.
EVENT_COLUMNS = ("event_type", "product_id", "category", "channel", "source", "medium",
                 "campaign", "session_id", "user_id", "anonymous_id")


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def visitor(t: ir.Table) -> ir.StringValue:
    """Who did the event: the customer id, else the anonymous id."""
    return ibis.coalesce(t.user_id, t.anonymous_id)


def property_value(t: ir.Table, name: str) -> ir.StringValue:
    """An ``events`` column, or a top-level key of the ``properties`` JSON, as a string.

    JSON keys are read with a regular expression rather than the engines' JSON functions,
    because those differ between DuckDB and Spark; it handles flat objects of strings and
    numbers, which is what trackers send.
    """
    if name in EVENT_COLUMNS:
        return t[name].cast("string")
    if not _KEY.match(name):
        raise OptionError(code="property_name", args={"name": repr(name)})
    pattern = r'"' + re.escape(name) + r'"\s*:\s*"?([^",}]*)'
    # nullif: one regex evaluation per row (an ifelse on the value compiles to two)
    return t.properties.re_extract(pattern, 1).nullif("")


Where = Mapping[str, "str | Sequence[str]"]


def where_clause(t: ir.Table, where: Where | None) -> ir.BooleanValue | None:
    """``{"channel": "web", "category": ["a", "b"]}`` → channel = 'web' AND category IN (…)."""
    conds = []
    for name, value in (where or {}).items():
        col = property_value(t, name)
        if isinstance(value, str):
            conds.append(col == value)
        else:
            values = [str(v) for v in value]
            if not values:
                raise OptionError(code="filter_no_values", args={"name": repr(name)})
            conds.append(col.isin(values))
    if not conds:
        return None
    out = conds[0]
    for c in conds[1:]:
        out = out & c
    return out


@dataclass(frozen=True)
class Step:
    """One event of interest: a type plus optional property filters."""

    event_type: str
    where: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    label: str | None = None

    def __post_init__(self) -> None:
        if self.event_type not in EVENT_TYPES:
            raise OptionError(code="event_type_unknown", args={
                "event": repr(self.event_type), "known": ", ".join(EVENT_TYPES)})

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        if not self.where:
            return self.event_type
        cond = ", ".join(f"{k}={v if isinstance(v, str) else '|'.join(v)}"
                         for k, v in self.where.items())
        return f"{self.event_type} [{cond}]"

    def matches(self, t: ir.Table) -> ir.BooleanValue:
        cond = t.event_type == self.event_type
        extra = where_clause(t, self.where)
        return cond if extra is None else cond & extra

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"view"`` or ``"view:category=toys,channel=web|app"`` (CLI and API syntax)."""
        event_type, _, rest = text.partition(":")
        where: dict[str, str | tuple[str, ...]] = {}
        for part in filter(None, (p.strip() for p in rest.split(","))):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise OptionError(code="step_filter",
                                  args={"part": repr(part), "step": repr(text)})
            vals = tuple(v.strip() for v in value.split("|"))
            where[key.strip()] = vals[0] if len(vals) == 1 else vals
        return cls(event_type.strip(), where)


def as_step(step: Step | str) -> Step:
    return step if isinstance(step, Step) else Step.parse(step)


def in_range(t: ir.Table, start: dt.date | str | None, end: dt.date | str | None,
             column: str = "event_at") -> ir.Table:
    """Rows with ``start <= column < end + 1 day`` (both dates inclusive, either optional)."""
    first = parse_date(start, "start") if start is not None else None
    last = parse_date(end, "end") if end is not None else None
    if first is not None:
        t = t.filter(t[column] >= ibis.timestamp(first.isoformat()))
    if last is not None:
        stop = last + dt.timedelta(days=1)
        t = t.filter(t[column] < ibis.timestamp(stop.isoformat()))
    return t


def period(ts: ir.TimestampValue, grain: str) -> ir.DateValue:
    """The day, the Monday of the week, or the first of the month a timestamp falls in
    (:func:`shopscope.core.periods.truncate` for the event analyses' grains)."""
    return truncate(ts, check_grain(grain, FINE_GRAINS))


def orders_as_events(source: TableSource) -> ir.Table:
    """Every placed order as a ``purchase`` event, in the ``events`` schema.

    For shops (or public data sets such as Online Retail and CDNOW) with orders but no
    tracking: trends, retention and paths then describe buying behaviour. The visitor is the
    customer; a guest order is its own visitor (``anonymous_id`` = ``guest:<order id>``) and
    each order is its own session. ``properties`` carries the order id, so order-mode funnels
    find the order's value. Like a tracker's purchase event, an order counts when placed,
    whatever its later status.
    """
    o = source.table("orders")
    null = ibis.null("string")
    return o.select(
        event_at=o.ordered_at,
        user_id=o.customer_id,
        anonymous_id=ibis.ifelse(o.customer_id.isnull(), "guest:" + o.order_id, null),
        session_id=o.order_id,
        event_type=ibis.literal("purchase"),
        product_id=null,
        category=null,
        channel=o.channel,
        source=null,
        medium=null,
        campaign=o.campaign_id,
        properties='{"order_id":"' + o.order_id + '"}',
    )


class OrderEvents:
    """A table source whose ``events`` are :func:`orders_as_events` of another source (every
    other table passes through), so any behaviour analysis can run on orders."""

    def __init__(self, source: TableSource) -> None:
        self.source = source

    def table(self, name: str) -> ir.Table:
        return orders_as_events(self.source) if name == "events" else self.source.table(name)
