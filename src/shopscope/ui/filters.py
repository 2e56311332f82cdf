"""The overview's filters, kept in the URL query string so that a view can be shared.

Parsing is lenient: a bad value is dropped with a message for the page rather than an
error response, so an edited or outdated link still shows a dashboard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from shopscope.core.metrics import BREAKDOWNS
from shopscope.core.periods import GRAINS, PeriodError, parse_date

#: A message for the page: catalogue key and its arguments (translated when rendered).
Problem = tuple[str, dict[str, str]]
MAX_TEXT = 200


@dataclass(frozen=True)
class ShopOptions:
    """What the filters can offer: the shop's channels and categories, its data range."""

    channels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    first: dt.date | None = None
    last: dt.date | None = None
    has_events: bool = False

    @property
    def default_by(self) -> str:
        return "channel" if len(self.channels) > 1 else "country"


@dataclass(frozen=True)
class Filters:
    """A dashboard view. ``end`` is the last day shown (included), as in the API and the
    CLI (:class:`shopscope.core.periods.DateRange`)."""

    start: dt.date | None = None
    end: dt.date | None = None
    grain: str = "month"
    by: str = "country"
    channel: str | None = None
    category: str | None = None
    period: dt.date | None = None
    defaults: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def segment(self) -> tuple[str, str] | None:
        """The channel or category the view is narrowed to, as ``(dimension, value)``."""
        if self.channel is not None:
            return ("channel", self.channel)
        if self.category is not None:
            return ("category", self.category)
        return None

    def params(self) -> dict[str, str]:
        """The query parameters that differ from the defaults."""
        values = {
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "grain": self.grain,
            "by": self.by,
            "channel": self.channel or "",
            "category": self.category or "",
            "period": self.period.isoformat() if self.period else "",
        }
        defaults = dict(self.defaults)
        return {k: v for k, v in values.items() if v and v != defaults.get(k, "")}

    def url(self, path: str = "/", **changes: Any) -> str:
        """The URL of this view with some filters changed."""
        target = replace(self, **changes) if changes else self
        query = urlencode(target.params())
        return path + ("?" + query if query else "")


def _date(params: Mapping[str, str], name: str, label: str,
          problems: list[Problem]) -> dt.date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_date(raw, name)
    except PeriodError:
        problems.append(("filters.bad_date", {"field": label, "value": raw[:MAX_TEXT]}))
        return None


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], label: str,
            problems: list[Problem]) -> str | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        problems.append(("filters.bad_choice", {"field": label, "value": raw[:MAX_TEXT]}))
        return None
    return raw


def parse_filters(params: Mapping[str, str], options: ShopOptions
                  ) -> tuple[Filters, list[Problem]]:
    """Filters from query parameters, plus messages about what was ignored.

    Labels in messages are catalogue keys (``filters.start``), translated at render time.

    Examples
    --------
    >>> opts = ShopOptions(channels=("app", "web"))
    >>> f, problems = parse_filters({"grain": "quarter", "start": "2024-13-01"}, opts)
    >>> f.grain, f.start, f.by, problems[0][0]
    ('quarter', None, 'channel', 'filters.bad_date')
    >>> f.url(grain="month", channel="web")
    '/?channel=web'
    """
    problems: list[Problem] = []
    start = _date(params, "start", "filters.start", problems)
    end = _date(params, "end", "filters.end", problems)
    if start is not None and end is not None and start > end:
        problems.append(("filters.bad_range", {}))
        start = end = None
    grain = _choice(params, "grain", GRAINS, "filters.grain", problems) or "month"
    by = _choice(params, "by", BREAKDOWNS, "filters.by", problems) or options.default_by
    channel = _choice(params, "channel", options.channels, "filters.channel", problems)
    category = _choice(params, "category", options.categories, "filters.category", problems)
    if channel is not None and category is not None:
        problems.append(("filters.both_segments", {}))
        category = None
    period = _date(params, "period", "filters.period", problems)
    defaults = (("grain", "month"), ("by", options.default_by))
    return Filters(start, end, grain, by, channel, category, period, defaults), problems
