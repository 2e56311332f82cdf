"""RFM: recency, frequency and monetary value per customer, scores and segments.

Everything runs in the engine: :func:`rfm_table` is one aggregate over orders and returns,
:func:`rfm_scores` adds 1-5 scores with window functions, and the segment functions are
CASE expressions over the scores. Python receives only segment counts or a page of rows.

Scores by quantile use the cumulative distribution, ``ceil(5 · cume_dist)``, so equal
values always get equal scores (ties never straddle two scores) and the result does not
depend on row order. Recency is scored the other way round (recent = 5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.core.periods import PeriodError, parse_date
from shopscope.core.tables import TableSource
from shopscope.errors import ShopscopeError

Frequency = Literal["orders", "days"]
Reference = Literal["mean", "median", "score"]


class RfmOptionError(ShopscopeError, ValueError):
    """An RFM option is not one of the accepted values."""




@dataclass(frozen=True)
class Segment:
    """A named customer segment with its labels."""

    key: str
    label_en: str
    label_zh: str


#: The classic 8 segments: R, F and M each high or low against a reference.
#: Key letters: R/F/M upper-case = high, lower-case = low.
CLASSIC_SEGMENTS: Mapping[str, Segment] = {
    "RFM": Segment("important_value", "Important value", "重要价值客户"),
    "RfM": Segment("important_development", "Important development", "重要发展客户"),
    "rFM": Segment("important_retention", "Important retention", "重要保持客户"),
    "rfM": Segment("important_winback", "Important win-back", "重要挽留客户"),
    "RFm": Segment("general_value", "General value", "一般价值客户"),
    "Rfm": Segment("general_development", "General development", "一般发展客户"),
    "rFm": Segment("general_retention", "General retention", "一般保持客户"),
    "rfm": Segment("general_winback", "General win-back", "一般挽留客户"),
}

ELEVEN = {
    "champions": Segment("champions", "Champions", "冠军客户"),
    "loyal": Segment("loyal", "Loyal", "忠诚客户"),
    "potential_loyalist": Segment("potential_loyalist", "Potential Loyalist", "潜力忠诚客户"),
    "new": Segment("new", "New", "新客户"),
    "promising": Segment("promising", "Promising", "有潜力客户"),
    "need_attention": Segment("need_attention", "Need Attention", "需要关注客户"),
    "about_to_sleep": Segment("about_to_sleep", "About to Sleep", "即将沉睡客户"),
    "at_risk": Segment("at_risk", "At Risk", "有流失风险客户"),
    "cant_lose": Segment("cant_lose", "Can't Lose", "不能失去的客户"),
    "hibernating": Segment("hibernating", "Hibernating", "休眠客户"),
    "lost": Segment("lost", "Lost", "已流失客户"),
}

#: The 11-segment grid: rows are the R score 5..1, columns the FM score 1..5 (the rounded
#: mean of the F and M scores). Every cell has exactly one segment.
ELEVEN_GRID: Mapping[int, tuple[str, str, str, str, str]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "loyal", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "lost", "at_risk", "at_risk", "cant_lose"),
}


def _as_of(value: dt.date | str) -> dt.datetime:
    try:
        day = parse_date(value, "as_of") if isinstance(value, str) else value
    except PeriodError:
        raise RfmOptionError(f"as_of {value!r} is not a date", hint="use YYYY-MM-DD") from None
    if isinstance(day, dt.datetime):
        return day
    if day is None:  # an empty text
        raise RfmOptionError("as_of is empty", hint="use YYYY-MM-DD")
    return dt.datetime.combine(day, dt.time())


def rfm_table(
    tables: TableSource,
    as_of: dt.date | str,
    *,
    frequency: Frequency = "orders",
    window_days: int | None = None,
) -> ir.Table:
    """Recency, frequency and monetary value of every buyer, as of the start of ``as_of``.

    Parameters
    ----------
    tables
        Anything with ``.table(name)`` (a Store).
    as_of
        Orders and returns strictly before this day count.
    frequency
        ``"orders"``: number of non-cancelled orders; ``"days"``: number of distinct days
        with a non-cancelled order (several orders on one day count once).
    window_days
        Only the last N days before ``as_of`` count (all history when None).

    Returns
    -------
    ibis.Table
        ``customer_id, first_order_at, last_order_at, recency_days, frequency, monetary``,
        where recency is whole days from the last order to ``as_of`` and monetary is net
        sales: Σ net_amount of non-cancelled orders minus the customer's returns and
        cancellation credits in the window.

    Examples
    --------
    >>> from shopscope.store import connect
    >>> rfm_table(connect("duckdb://"), "2024-01-01").columns[:3]
    ('customer_id', 'first_order_at', 'last_order_at')
    """
    if frequency not in ("orders", "days"):
        raise RfmOptionError(f"unknown frequency {frequency!r}", hint="use orders or days")
    end = _as_of(as_of)
    start = end - dt.timedelta(days=window_days) if window_days else None
    o = tables.table("orders")
    keep = (o.status != "cancelled") & o.customer_id.notnull() & (o.ordered_at < end)
    if start is not None:
        keep &= o.ordered_at >= start
    o = o.filter(keep)
    count = o.ordered_at.date().nunique() if frequency == "days" else o.order_id.count()
    per = o.group_by("customer_id").aggregate(
        first_order_at=o.ordered_at.min(),
        last_order_at=o.ordered_at.max(),
        frequency=count.cast("int64"),
        sales=o.net_amount.sum(),
    )
    r = tables.table("returns")
    rkeep = r.customer_id.notnull() & (r.returned_at < end)
    if start is not None:
        rkeep &= r.returned_at >= start
    r = r.filter(rkeep)
    credits = r.group_by("customer_id").aggregate(credits=r.amount.sum())
    joined = per.left_join(credits, "customer_id")
    elapsed = ibis.literal(end).epoch_seconds() - joined.last_order_at.epoch_seconds()
    return joined.select(
        "customer_id",
        "first_order_at",
        "last_order_at",
        recency_days=(elapsed / 86400).floor().cast("int64"),
        frequency="frequency",
        monetary=joined.sales - joined.credits.fill_null(0.0),
    )


def _score(value: ir.NumericValue, bins: int, ascending: bool) -> ir.IntegerValue:
    order = value if ascending else value.negate()
    share = ibis.cume_dist().over(order_by=order)
    return (share * bins).ceil().clip(lower=1, upper=bins).cast("int64")


def rfm_scores(
    rfm: ir.Table,
    *,
    bins: int = 5,
    thresholds: Mapping[str, Sequence[float]] | None = None,
) -> ir.Table:
    """Add ``r_score``, ``f_score``, ``m_score`` (1..bins) and ``fm_score``.

    Parameters
    ----------
    rfm
        The output of :func:`rfm_table`.
    bins
        Number of scores (quantile method).
    thresholds
        Optional user cut points per measure, e.g. ``{"recency_days": [30, 90, 180, 365],
        "frequency": [1, 2, 4, 8], "monetary": [50, 200, 500, 2000]}``: ``bins - 1``
        ascending values; a value above the k-th cut point gets score k+1 (for recency,
        the scale is reversed: the most recent bucket scores ``bins``).

    Examples
    --------
    >>> t = ibis.memtable({"customer_id": list("abcde"), "recency_days": [1, 1, 30, 60, 90],
    ...                    "frequency": [5, 1, 1, 2, 1], "monetary": [10.0, 20, 30, 40, 50]})
    >>> out = rfm_scores(t).order_by("customer_id").execute()
    >>> out.r_score.tolist(), out.f_score.tolist()
    ([5, 5, 3, 2, 1], [5, 3, 3, 4, 3])
    """
    if bins < 2:
        raise RfmOptionError(f"bins must be at least 2, not {bins}", hint="use 5 for 1-5")
    measures = {"recency_days": "r_score", "frequency": "f_score", "monetary": "m_score"}
    scores = {}
    for measure, name in measures.items():
        cuts = (thresholds or {}).get(measure)
        value = rfm[measure]
        if cuts is None:
            scores[name] = _score(value, bins, ascending=measure != "recency_days")
            continue
        cuts = list(cuts)
        if len(cuts) != bins - 1 or cuts != sorted(cuts):
            raise RfmOptionError(
                f"thresholds for {measure} must be {bins - 1} ascending numbers, got {cuts}",
                hint="e.g. recency_days = [30, 90, 180, 365] for 5 scores")
        level = sum(((value > c).cast("int64") for c in cuts), ibis.literal(1))
        scores[name] = (bins + 1 - level) if measure == "recency_days" else level
    out = rfm.mutate(**scores)
    return out.mutate(fm_score=((out.f_score + out.m_score) / 2).round().cast("int64"))


def classic_segment(scored: ir.Table, reference: Reference = "mean") -> ir.Table:
    """Add ``segment`` (one of :data:`CLASSIC_SEGMENTS`' keys' segments).

    A measure is *high* when it is better than the reference: recency below it (bought
    more recently), frequency and monetary above it. ``reference`` is the mean or median
    over all customers, or ``"score"`` (score ≥ 3 of 5).
    """
    if reference not in ("mean", "median", "score"):
        raise RfmOptionError(f"unknown reference {reference!r}", hint="use mean, median or score")
    if reference == "score":
        high_r, high_f, high_m = scored.r_score >= 3, scored.f_score >= 3, scored.m_score >= 3
    else:
        agg = "mean" if reference == "mean" else "median"

        def ref(col: str) -> ir.NumericValue:
            return getattr(scored[col], agg)().over(ibis.window())

        high_r = scored.recency_days < ref("recency_days")
        high_f = scored.frequency > ref("frequency")
        high_m = scored.monetary > ref("monetary")
    key = (high_r.ifelse("R", "r") + high_f.ifelse("F", "f") + high_m.ifelse("M", "m"))
    return scored.mutate(
        segment=ibis.cases(*[(key == k, s.key) for k, s in CLASSIC_SEGMENTS.items()],
                           else_=ibis.null("string")))


def eleven_segment(scored: ir.Table) -> ir.Table:
    """Add ``segment`` from the 11-segment grid over the R score and the FM score."""
    cases = [
        ((scored.r_score == r) & (scored.fm_score == fm + 1), name)
        for r, row in ELEVEN_GRID.items()
        for fm, name in enumerate(row)
    ]
    return scored.mutate(segment=ibis.cases(*cases, else_=ibis.null("string")))


@dataclass(frozen=True)
class SegmentSummary:
    """Size and value of each segment: ``segment, customers, share, monetary,
    revenue_share, recency_days, frequency`` (means)."""

    scheme: str
    data: pd.DataFrame


def segment_summary(segmented: ir.Table, scheme: Literal["classic", "eleven"]) -> SegmentSummary:
    """Customers, share of customers, net sales and share of net sales per segment."""
    g = segmented.group_by("segment").aggregate(
        customers=segmented.count(),
        monetary=segmented.monetary.sum(),
        recency_days=segmented.recency_days.mean(),
        frequency=segmented.frequency.mean(),
    )
    frame = g.execute()
    total_n, total_m = frame.customers.sum(), frame.monetary.sum()
    frame["share"] = frame.customers / total_n if total_n else float("nan")
    frame["revenue_share"] = frame.monetary / total_m if total_m else float("nan")
    names = list(CLASSIC_SEGMENTS.values()) if scheme == "classic" else list(ELEVEN.values())
    order = {s.key: i for i, s in enumerate(names)}
    frame = frame.sort_values("segment", key=lambda s: s.map(order)).reset_index(drop=True)
    return SegmentSummary(scheme, frame)


def segment_movement(before: ir.Table, after: ir.Table) -> pd.DataFrame:
    """Customers moving from each segment at one date to each segment at another
    (``None`` = not a buyer yet at the first date)."""
    b = before.select("customer_id", seg_from="segment")
    a = after.select("customer_id", seg_to="segment")
    moved = a.left_join(b, "customer_id")
    return moved.group_by(["seg_from", "seg_to"]).aggregate(customers=moved.count()).execute()
