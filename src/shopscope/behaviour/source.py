"""Which rows behaviour analyses read, and why an answer is empty.

A shop with a tracker has ``events``; many shops (and public data sets such as Online Retail
and CDNOW) have only orders, which :class:`~shopscope.behaviour.common.OrderEvents`
turns into purchase events. The CLI, the REST API and the dashboard all pick the source here,
so they give the same numbers for the same options:

* ``events`` / ``orders``: as asked;
* ``auto`` (the default): events when there are events in the date range, else orders.

An empty answer always comes with a reason (:func:`empty_reason`): no rows of that source in
the range (and whether the other source has some), or rows that match none of the options.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from shopscope.behaviour.common import OrderEvents, in_range, parse_date
from shopscope.core.tables import TableSource
from shopscope.errors import OptionError

SOURCES = ("auto", "events", "orders")
_TIME = {"events": "event_at", "orders": "ordered_at"}

#: The funnel shown when no steps are given: a tracker's shopping funnel, or on orders the
#: repeat-purchase funnel (a customer's purchase followed by a 2nd and a 3rd one within the
#: window; the steps are labelled ``purchase #1`` … so they are told apart).
DEFAULT_FUNNEL = {"events": (("view", "add_to_cart", "checkout", "purchase"), "1d"),
                  "orders": (("purchase", "purchase", "purchase"), "30d")}


def rows_in_range(store: TableSource, table: str, start: Any = None, end: Any = None) -> bool:
    """Whether ``table`` has a row on the days ``start``..``end`` (both inclusive)."""
    t = in_range(store.table(table), start, end, _TIME[table])
    return int(t.limit(1).count().execute()) > 0


@dataclass(frozen=True)
class SourceChoice:
    """The source an analysis reads.

    Attributes
    ----------
    kind
        ``"events"`` or ``"orders"``.
    requested
        What was asked: ``auto``, ``events`` or ``orders``.
    source
        What the analyses take: the store, or an :class:`OrderEvents` view of it.
    has_rows
        Whether the chosen table has rows in the range.
    other_has_rows
        Whether the other table has rows in the range.
    start, end
        The range the choice was made for.
    """

    kind: str
    requested: str
    source: TableSource
    has_rows: bool
    other_has_rows: bool
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def other(self) -> str:
        return "orders" if self.kind == "events" else "events"

    @property
    def note(self) -> str:
        """One line saying which source was used and why."""
        if self.kind == "events":
            return "source: events" + (" (auto: events in this range)"
                                       if self.requested == "auto" else "")
        why = " (auto: no events in this range)" if self.requested == "auto" else ""
        return f"source: orders, each order a purchase event{why}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "requested": self.requested, "note": self.note}


def check_source(requested: str) -> None:
    """Raise OptionError unless ``requested`` is ``auto``, ``events`` or ``orders``."""
    if requested not in SOURCES:
        raise OptionError(f"source {requested!r} is not one of {', '.join(SOURCES)}",
                          hint="auto: events when there are events in the range, else orders")


def choose_source(store: TableSource, requested: str = "auto", start: Any = None,
                  end: Any = None, found: tuple[bool, bool] | None = None) -> SourceChoice:
    """The source for ``requested`` (``auto``, ``events`` or ``orders``) over start..end.

    ``found`` is (events in range, orders in range) when already known (a cache holds the
    answer of :func:`rows_in_range`, never the store, which may be reopened).

    Raises
    ------
    OptionError
        An unknown source, or bad dates.
    """
    check_source(requested)
    start = None if start is None else parse_date(start, "start")
    end = None if end is None else parse_date(end, "end")
    events, orders = found if found is not None else (
        rows_in_range(store, "events", start, end), rows_in_range(store, "orders", start, end))
    kind = requested if requested != "auto" else ("events" if events else "orders")
    has, other = (events, orders) if kind == "events" else (orders, events)
    return SourceChoice(kind, requested, OrderEvents(store) if kind == "orders" else store,
                        has, other, start, end)


@dataclass(frozen=True)
class EmptyReason:
    """Why an analysis has nothing to show.

    ``code`` is ``no_data`` (neither events nor orders in the range), ``no_rows`` (none of
    the chosen source; ``suggest`` names the other source when it has some) or ``no_match``
    (rows are there but none matches the steps and filters). ``message`` is one English
    sentence without the how-to-switch part, which each surface words its own way
    (:meth:`text`).
    """

    code: str
    message: str
    suggest: str | None = None

    def text(self, how: str = "--source {}") -> str:
        if self.suggest is None:
            return self.message
        return f"{self.message}; use {how.format(self.suggest)}"

    def to_dict(self, how: str = "source={}") -> dict[str, Any]:
        return {"code": self.code, "message": self.text(how), "suggest": self.suggest}


def range_text(start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"between {start} and {end}"
    if start:
        return f"from {start} on"
    if end:
        return f"up to {end}"
    return "in this workspace"


def empty_reason(choice: SourceChoice, what: str = "rows") -> EmptyReason:
    """The reason an analysis on ``choice`` came back empty; ``what`` names what it looked
    for when the source does have rows (e.g. ``"visitors doing step 1 (view)"``)."""
    where = range_text(choice.start, choice.end)
    if not choice.has_rows and not choice.other_has_rows:
        return EmptyReason("no_data", f"no events or orders {where}")
    if not choice.has_rows:
        return EmptyReason("no_rows", f"no {choice.kind} {where}",
                           choice.other if choice.other_has_rows else None)
    only = " (orders give purchase events only)" if choice.kind == "orders" else ""
    return EmptyReason("no_match", f"no {what} among the {choice.kind} {where}{only}")


def why_empty(choice: SourceChoice, analysis: str, result: Any,
              first_step: str | None = None) -> EmptyReason | None:
    """None when ``result`` (of ``analysis``: trends, funnel, funnel_trend, retention or
    paths) has something to show, else the reason it is empty. ``first_step`` names the
    funnel's first step, the trends' event filter or the retention's start event."""
    if analysis == "trends":
        empty = result.data.empty
        what = f"{first_step} events" if first_step else "events"
    elif analysis == "funnel":
        steps = result.steps
        empty = steps.empty or int(steps.loc[steps.step == 1, "count"].sum()) == 0
        what = f"{first_step or 'step-1'} events starting the funnel"
    elif analysis == "funnel_trend":
        empty = len(result) == 0
        what = f"{first_step or 'step-1'} events starting the funnel"
    elif analysis == "retention":
        empty = result.matrix.empty
        what = f"{first_step} events starting a cohort" if first_step else "cohort"
    elif analysis == "paths":
        empty = bool(result.error) or result.sessions == 0
        what = f"sessions with a {first_step} event" if first_step else "session with a path"
    else:
        raise ValueError(analysis)
    return empty_reason(choice, what) if empty else None
