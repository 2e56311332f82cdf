"""Sessions and the paths shoppers take through them.

A *session* is a visitor's run of events (the visitor is the customer id, else the anonymous
id, see :func:`~shopscope.behaviour.common.visitor`). When the tracker sent a
``session_id`` it is used as given, scoped to the visitor, so two visitors who happen to share
an id are still two sessions. Events without one are cut into sessions by inactivity: a new
session starts when at least ``gap`` has passed since the visitor's previous untagged event
(a pause of exactly 30 minutes with ``gap="30m"`` starts a new session; 29:59 does not).
Events with neither a customer nor an anonymous id belong to nobody and are left out.

A *path* is the sequence of event names in one session, in time order. Names are event types,
except that an event matching the ``start`` (or ``end``) step is named after that step, so
``view:category=toys`` shows up as ``view [category=toys]``. Before paths are formed, events
of the ``exclude`` types are dropped (sessions are still cut on all events: a search keeps a
session alive even when searches are excluded), and with ``collapse_repeats`` a run of equal
names becomes one (``view view cart`` → ``view cart``). Then each session gives at most one
path:

* ``start`` only: from the **first** event of the session that matches ``start``, up to
  ``length`` events;
* ``end`` only: the ``length`` events leading up to, and including, the **first** event
  matching ``end``;
* both: from the first ``start`` to the first ``end`` after it, kept only when that ``end``
  comes within ``length`` events (sessions that never get there are not counted);
* neither: the first ``length`` events of the session.

Taking the first occurrence keeps one path per session, so ``sessions`` are real sessions and
the shares add up to 1. Ties in time are ordered by event type, product and category, on every
engine, so results do not depend on the engine's sort.

Everything row-level runs in the engine with window functions: ``lag`` and a running sum cut
sessions, ``lead``/``lag`` over each session give positions 1…``length``, and one ``GROUP BY``
over the position columns counts each distinct path. Only those counts (at most
``(#event types + 2) ** length`` rows, in practice a few thousand) reach Python, where the
top paths, next/previous steps and Sankey links are read off them.

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> from shopscope.schema import get_table
>>> from shopscope.store import connect
>>> store = connect("duckdb://")
>>> at = dt.datetime(2024, 5, 1, 10)
>>> rows = [dict(event_at=at + dt.timedelta(minutes=m), user_id=u, event_type=e)
...         for u, m, e in [("a", 0, "view"), ("a", 1, "view"), ("a", 2, "add_to_cart"),
...                         ("a", 3, "purchase"), ("b", 0, "search"), ("b", 5, "view"),
...                         ("b", 6, "add_to_cart"), ("b", 90, "view"),
...                         ("c", 0, "view"), ("c", 1, "add_to_cart")]]
>>> schema = get_table("events").ibis_schema().to_pyarrow()
>>> _ = store.backend.create_table("events", pa.Table.from_pylist(rows, schema=schema))
>>> result = paths(store, start="view", length=3)
>>> for p in result.paths.itertuples():
...     print(f"{p.text:32} {p.sessions}  {p.share:.2f}")
view → add_to_cart               2  0.50
view                             1  0.25
view → add_to_cart → purchase    1  0.25
>>> result.next_steps.set_index("step")["sessions"].to_dict()
{'add_to_cart': 3, '(end)': 1}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from shopscope.behaviour.common import Step, as_step, in_range, parse_date, visitor
from shopscope.core.tables import TableSource
from shopscope.errors import OptionError
from shopscope.schema.tables import EVENT_TYPES

__all__ = [
    "END",
    "START",
    "PathOptions",
    "PathResult",
    "Sankey",
    "parse_gap",
    "path_counts",
    "paths",
    "sessionize",
]

#: Name of the step after the last event of a session (in ``next_steps``).
END = "(end)"
#: Name of the step before the first event of a session (in ``previous_steps``).
START = "(start)"
#: Path text separator.
ARROW = " → "

_GAP = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?:in)?)?(?:(\d+)s)?$")
_MAX_LENGTH = 20


# --------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------
def parse_gap(gap: str | dt.timedelta) -> int:
    """The inactivity gap in whole seconds, from ``"30m"``, ``"1h30m"``, ``"90s"``, ``"1d"``
    or a :class:`~datetime.timedelta`.

    Raises
    ------
    OptionError
        When the gap is not positive, not a whole number of seconds, or not understood.

    Examples
    --------
    >>> parse_gap("1h30m"), parse_gap(dt.timedelta(minutes=5))
    (5400, 300)
    """
    if isinstance(gap, dt.timedelta):
        seconds = gap.total_seconds()
    else:
        m = _GAP.match(str(gap).replace(" ", "").lower())
        if not m or not any(m.groups()):
            raise OptionError(f"gap must look like 30m, 1h, 1h30m, 90s or 1d, not {gap!r}")
        d, h, mi, s = (int(x or 0) for x in m.groups())
        seconds = ((d * 24 + h) * 60 + mi) * 60 + s
    if seconds <= 0 or seconds != int(seconds):
        raise OptionError(f"gap must be a positive whole number of seconds, not {gap!r}")
    return int(seconds)


def _events(source_or_table: TableSource | ir.Table) -> ir.Table:
    if isinstance(source_or_table, ir.Table):
        return source_or_table
    return source_or_table.table("events")


def _session_parts(t: ir.Table, gap_seconds: int, use_given: bool) -> ir.Table:
    """``t`` plus ``visitor``, ``_sid`` (the given session id) and ``_sno`` (the number of a
    session cut by inactivity, per visitor); exactly one of the last two is set."""
    t = t.mutate(visitor=visitor(t))
    t = t.filter(t.visitor.notnull())
    if use_given:
        tagged = t.filter(t.session_id.notnull()).mutate(
            _sid=t.session_id.cast("string"), _sno=ibis.null("int64"))
        untagged = t.filter(t.session_id.isnull())
    else:
        tagged = None
        untagged = t
    # Inactivity only needs time order; tied events fall in the same session whatever their
    # order, because only the first of a tie can come `gap` or more after its predecessor.
    w = ibis.window(group_by=untagged.visitor, order_by=untagged.event_at)
    prev = untagged.event_at.lag().over(w)
    new = ibis.ifelse(prev.isnull() | (untagged.event_at >= prev + ibis.interval(
        seconds=gap_seconds)), 1, 0)
    flagged = untagged.mutate(_new=new)
    running = ibis.window(group_by=flagged.visitor, order_by=flagged.event_at, rows=(None, 0))
    cut = flagged.mutate(_sid=ibis.null("string"),
                         _sno=flagged._new.sum().over(running).cast("int64")).drop("_new")
    return cut if tagged is None else tagged.union(cut.select(*tagged.columns))


def sessionize(source_or_table: TableSource | ir.Table, *, gap: str | dt.timedelta = "30m",
               use_given: bool = True) -> ir.Table:
    """Events with the ``visitor`` and the ``session`` each belongs to.

    Parameters
    ----------
    source_or_table
        A store (its ``events`` table is used) or an events table expression.
    gap
        Inactivity that starts a new session for events without a ``session_id`` (and for
        all events when ``use_given`` is false): a new session starts when the time since the
        visitor's previous event is **at least** ``gap``.
    use_given
        Use the tracker's ``session_id`` where there is one.

    Returns
    -------
    ibis.Table
        The events (those with a visitor) plus ``visitor`` and ``session``. ``session`` is a
        string key unique across visitors: ``"<len>:<visitor>/<session_id>"`` for a given id,
        ``"<len>:<visitor>#<n>"`` for the visitor's n-th session cut by inactivity (the length
        prefix keeps keys apart whatever characters the ids contain).

    Raises
    ------
    OptionError
        For a gap that is not a positive whole number of seconds.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = ibis.memtable(pd.DataFrame({
    ...     "event_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:29",
    ...                                 "2024-01-01 10:59"]),
    ...     "user_id": ["u1", "u1", "u1"], "anonymous_id": [None, None, None],
    ...     "session_id": [None, None, None]}))
    >>> sessionize(ev).order_by("event_at").session.execute().tolist()
    ['2:u1#1', '2:u1#1', '2:u1#2']
    """
    gap_seconds = parse_gap(gap)
    t = _session_parts(_events(source_or_table), gap_seconds, use_given)
    prefix = t.visitor.length().cast("string") + ":" + t.visitor
    key = ibis.ifelse(t._sid.notnull(), prefix + "/" + t._sid,
                      prefix + "#" + t._sno.cast("string"))
    return t.mutate(session=key).drop("_sid", "_sno")


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PathOptions:
    """What a :class:`PathResult` was computed with."""

    start: Step | None
    end: Step | None
    length: int
    top: int
    exclude: tuple[str, ...]
    collapse_repeats: bool
    gap_seconds: int
    start_date: dt.date | None
    end_date: dt.date | None

    @classmethod
    def make(cls, *, start: Step | str | None = None, end: Step | str | None = None,
             length: int = 5, top: int = 20, exclude: Sequence[str] = (),
             collapse_repeats: bool = True, gap: str | dt.timedelta = "30m",
             start_date: dt.date | str | None = None,
             end_date: dt.date | str | None = None) -> PathOptions:
        """Checked options from the arguments of :func:`paths` (raises :class:`OptionError`).

        >>> PathOptions.make(start="view", length=3).mode
        'start'
        """
        return _options(start, end, length, top, exclude, collapse_repeats, gap, start_date,
                        end_date)

    @property
    def mode(self) -> str:
        """``"start"``, ``"end"``, ``"between"`` or ``"session"`` (neither given)."""
        if self.start and self.end:
            return "between"
        return "start" if self.start else "end" if self.end else "session"

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.name if self.start else None,
            "end": self.end.name if self.end else None,
            "mode": self.mode,
            "length": self.length,
            "top": self.top,
            "exclude": list(self.exclude),
            "collapse_repeats": self.collapse_repeats,
            "gap_seconds": self.gap_seconds,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
        }


@dataclass(frozen=True)
class Sankey:
    """Nodes and links of a path diagram, over **all** counted paths (not only the top ones).

    A node is a step name at a position, so ``view`` at depth 1 and ``view`` at depth 3 are
    different nodes. Positions run 1…``length`` in time order: from the anchor for
    ``start``/``between``/``session`` paths, and right-aligned on the ``end`` step (which is
    at position ``length``) for ``end`` paths.

    ``nodes``: ``id`` (``"<position>:<name>"``), ``position``, ``name``, ``sessions``
    (paths through the node). ``links``: ``source_position``, ``source``,
    ``target_position`` (= ``source_position + 1``), ``target``, ``sessions``; plus the node
    ids ``source_id`` and ``target_id``.
    """

    nodes: pd.DataFrame
    links: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": _records(self.nodes), "links": _records(self.links)}


@dataclass(frozen=True)
class PathResult:
    """Top paths, the steps around the anchor, and a Sankey diagram.

    Attributes
    ----------
    paths
        The ``top`` most frequent paths: ``path`` (tuple of step names), ``text``
        (``"a → b → c"``), ``steps`` (its length), ``sessions`` and ``share`` (of
        :attr:`sessions`). Ordered by sessions, then text.
    next_steps
        ``step``, ``sessions``, ``share``: what came right after the ``start`` step (or after
        the first event of the session when neither ``start`` nor ``end`` is given);
        ``"(end)"`` when the session ended there. Empty for ``end`` paths.
    previous_steps
        The same for the step right before ``end``; ``"(start)"`` when ``end`` opened the
        session. Empty unless ``end`` is given.
    sankey
        See :class:`Sankey`.
    sessions
        Sessions that gave a path (the denominator of every share).
    distinct_paths
        Number of distinct paths (of at most ``length`` steps).
    options
        The options used.
    error
        ``"no_paths"`` when no session gave a path (then every table is empty), else None.
    """

    paths: pd.DataFrame
    next_steps: pd.DataFrame
    previous_steps: pd.DataFrame
    sankey: Sankey
    sessions: int
    distinct_paths: int
    options: PathOptions
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (paths as lists)."""
        top = self.paths.assign(path=self.paths["path"].map(list))
        return {
            "options": self.options.to_dict(),
            "sessions": self.sessions,
            "distinct_paths": self.distinct_paths,
            "error": self.error,
            "paths": _records(top),
            "next_steps": _records(self.next_steps),
            "previous_steps": _records(self.previous_steps),
            "sankey": self.sankey.to_dict(),
        }


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


# --------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------
def _options(start: Step | str | None, end: Step | str | None, length: int, top: int,
             exclude: Sequence[str], collapse_repeats: bool, gap: str | dt.timedelta,
             start_date: dt.date | str | None, end_date: dt.date | str | None) -> PathOptions:
    if isinstance(exclude, str):
        exclude = (exclude,)
    unknown = [e for e in exclude if e not in EVENT_TYPES]
    if unknown:
        raise OptionError(code="exclude_unknown", args={
            "events": ", ".join(map(repr, unknown)), "known": ", ".join(EVENT_TYPES)})
    s = as_step(start) if start is not None else None
    e = as_step(end) if end is not None else None
    for name, step in (("start", s), ("end", e)):
        if step is not None and step.event_type in exclude:
            raise OptionError(code=f"path_{name}_excluded", args={"step": repr(step.name)},
                              hint=f"remove {step.event_type!r} from exclude")
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= _MAX_LENGTH:
        raise OptionError(f"length must be a whole number from 1 to {_MAX_LENGTH}, "
                          f"not {length!r}")
    if s is not None and e is not None and length < 2:
        raise OptionError(code="path_too_short")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise OptionError(f"top must be a whole number >= 1, not {top!r}")
    d0 = parse_date(start_date, "start_date") if start_date is not None else None
    d1 = parse_date(end_date, "end_date") if end_date is not None else None
    if d0 and d1 and d1 < d0:
        raise OptionError(f"end_date {d1} is before start_date {d0}")
    return PathOptions(s, e, length, top, tuple(dict.fromkeys(exclude)), bool(collapse_repeats),
                       parse_gap(gap), d0, d1)


def _pos(i: int) -> str:
    return f"p{i}"


def path_counts(source: TableSource | ir.Table, options: PathOptions) -> ir.Table:
    """Sessions per distinct path, as an engine expression (one row per path).

    ``options`` come from :meth:`PathOptions.make`; :func:`paths` runs this expression and
    reads its result.

    Columns ``p1`` … ``pN`` hold the step names in time order (``N = max(length, 2)``, so
    the step after ``start`` / before ``end`` is there even for ``length=1``), null past the
    end of a shorter path (before the start of it, for ``end`` paths, which are
    right-aligned on the ``end`` step in ``pN``), and ``sessions``.
    """
    o = options
    t = in_range(_events(source), o.start_date, o.end_date)
    t = _session_parts(t, o.gap_seconds, use_given=True)
    if o.exclude:
        t = t.filter(~t.event_type.isin(list(o.exclude)))
    # Carry as few columns as possible through the window sorts: a step without filters is
    # tested on event_type (always carried) and named after it, so it needs no column.
    carried: dict[str, Any] = {}

    def flag(step: Step | None, name: str) -> Any:
        if step is None:
            return lambda x: ibis.literal(False)
        if not step.where:
            return lambda x: x.event_type == step.event_type
        carried[name] = step.matches(t)
        return lambda x: x[name]

    is_start, is_end = flag(o.start, "_is_start"), flag(o.end, "_is_end")
    cases = [(step.matches(t), step.name) for step in (o.start, o.end)
             if step is not None and step.name != step.event_type]
    if cases:
        carried["_label"] = ibis.cases(*cases, else_=t.event_type)
    t = t.select("visitor", "_sid", "_sno", "event_at", "event_type", "product_id", "category",
                 **carried)

    def label(x: ir.Table) -> ir.StringValue:
        return x._label if cases else x.event_type

    def session_window(x: ir.Table, **kw: Any) -> Any:
        # Tie-break on event type, product and category so every engine orders alike.
        return ibis.window(group_by=[x.visitor, x._sid, x._sno],
                           order_by=[x.event_at, x.event_type, x.product_id, x.category], **kw)

    if o.collapse_repeats:
        # Window value first, filter after: Spark cannot filter on a window expression.
        t = t.mutate(_prev=label(t).lag().over(session_window(t)))
        t = t.filter(t._prev.isnull() | (t._prev != label(t))).drop("_prev")

    n = max(o.length, 2)
    w = session_window(t)
    first_of = session_window(t, rows=(None, 0))
    cols: dict[str, Any] = {}
    if o.mode == "end":
        anchor = is_end(t) & (is_end(t).cast("int64").sum().over(first_of) == 1)
        for k in range(n):
            cols[_pos(n - k)] = label(t) if k == 0 else label(t).lag(k).over(w)
    else:
        if o.mode == "session":
            anchor = ibis.row_number().over(w) == 0
        else:
            anchor = is_start(t) & (is_start(t).cast("int64").sum().over(first_of) == 1)
        for k in range(n):
            cols[_pos(k + 1)] = label(t) if k == 0 else label(t).lead(k).over(w)
        if o.mode == "between":
            for k in range(1, n):
                cols[f"e{k + 1}"] = is_end(t).lead(k).over(w)
    x = t.mutate(_anchor=anchor, **cols)
    x = x.filter(x._anchor)
    if o.mode == "between":
        # Cut each path after its first end step; keep only paths that reach one.
        reached = ibis.literal(False)
        cut = {}
        for i in range(2, n + 1):
            cut[_pos(i)] = ibis.ifelse(reached, ibis.null("string"), x[_pos(i)])
            reached = reached | x[f"e{i}"].fill_null(False)
        x = x.filter(reached).mutate(**cut)
    keys = [_pos(i) for i in range(1, n + 1)]
    return x.group_by(keys).aggregate(sessions=x.count())


def paths(source: TableSource | ir.Table, *, start: Step | str | None = None,
          end: Step | str | None = None, length: int = 5, top: int = 20,
          exclude: Sequence[str] = (), collapse_repeats: bool = True,
          gap: str | dt.timedelta = "30m", start_date: dt.date | str | None = None,
          end_date: dt.date | str | None = None) -> PathResult:
    """The most common paths through sessions, from a step, to a step, or from session start.

    Parameters
    ----------
    source
        A store (its ``events`` table is used) or an events table expression.
    start, end
        A :class:`~shopscope.behaviour.common.Step` or its text form
        (``"view:category=toys"``). See the module docstring for what each combination means.
    length
        Maximum number of steps per path (1–20), the anchor step included.
    top
        How many paths to return.
    exclude
        Event types dropped before paths are formed (e.g. ``["search"]``).
    collapse_repeats
        Merge runs of the same step name (``view view view`` → ``view``).
    gap
        Inactivity that cuts sessions for events without a ``session_id``
        (see :func:`sessionize`).
    start_date, end_date
        Only events on these days (both inclusive), applied before sessions are cut.

    Returns
    -------
    PathResult

    Raises
    ------
    OptionError
        For an unknown event type (in a step or in ``exclude``), a step of an excluded type,
        a length outside 1–20 (or below 2 with both ``start`` and ``end``), ``top < 1``, a
        bad gap or bad dates.
    """
    o = _options(start, end, length, top, exclude, collapse_repeats, gap, start_date, end_date)
    counts = path_counts(source, o).execute()
    return _result(counts, o)


def _steps_frame(values: pd.Series, weights: pd.Series, total: int) -> pd.DataFrame:
    df = (pd.DataFrame({"step": values.to_numpy(), "sessions": weights.to_numpy()})
          .groupby("step", as_index=False)["sessions"].sum())
    df = df.sort_values(["sessions", "step"], ascending=[False, True], ignore_index=True)
    df["sessions"] = df["sessions"].astype("int64")
    df["share"] = df["sessions"] / total if total else 0.0
    return df


def _result(counts: pd.DataFrame, o: PathOptions) -> PathResult:
    """Top paths, neighbour steps and Sankey from the per-path counts (small, in pandas)."""
    n = max(o.length, 2)
    keys = [_pos(i) for i in range(1, n + 1)]
    counts = counts.astype({"sessions": "int64"})
    full = [tuple(v for v in row if isinstance(v, str)) for row in
            counts[keys].itertuples(index=False, name=None)]
    weights = counts["sessions"]
    total = int(weights.sum())
    # Trim to `length`: keep the first steps, or the last ones for paths that end at `end`.
    trimmed = [p[-o.length:] for p in full] if o.mode == "end" else [p[:o.length] for p in full]
    grouped = (pd.DataFrame({"path": trimmed, "sessions": weights.to_numpy()})
               .groupby("path", as_index=False, sort=False)["sessions"].sum())
    grouped["text"] = grouped["path"].map(ARROW.join)
    grouped["steps"] = grouped["path"].map(len).astype("int64")
    grouped = grouped.sort_values(["sessions", "text"], ascending=[False, True],
                                  ignore_index=True)
    top = grouped.head(o.top).copy()
    top["share"] = top["sessions"] / total if total else 0.0
    top = top[["path", "text", "steps", "sessions", "share"]].reset_index(drop=True)

    empty_steps = pd.DataFrame({"step": pd.Series(dtype=object),
                                "sessions": pd.Series(dtype="int64"),
                                "share": pd.Series(dtype=float)})
    next_steps = previous_steps = empty_steps
    if o.mode in ("start", "session", "between"):
        after = pd.Series([p[1] if len(p) > 1 else END for p in full])
        next_steps = _steps_frame(after, weights, total)
    if o.mode in ("end", "between"):
        before = pd.Series([p[-2] if len(p) > 1 else START for p in full])
        previous_steps = _steps_frame(before, weights, total)

    sankey = _sankey(grouped, o)
    return PathResult(top, next_steps, previous_steps, sankey, total, len(grouped), o,
                      None if total else "no_paths")


def _sankey(grouped: pd.DataFrame, o: PathOptions) -> Sankey:
    node_rows: list[tuple[int, str, int]] = []
    link_rows: list[tuple[int, str, int, str, int]] = []
    for path, count in zip(grouped["path"], grouped["sessions"], strict=True):
        first = o.length - len(path) + 1 if o.mode == "end" else 1
        for i, name in enumerate(path):
            node_rows.append((first + i, name, count))
            if i + 1 < len(path):
                link_rows.append((first + i, name, first + i + 1, path[i + 1], count))
    nodes = (pd.DataFrame(node_rows, columns=["position", "name", "sessions"])
             .groupby(["position", "name"], as_index=False)["sessions"].sum()
             .sort_values(["position", "sessions", "name"], ascending=[True, False, True],
                          ignore_index=True))
    nodes.insert(0, "id", nodes["position"].astype(str) + ":" + nodes["name"])
    link_cols = ["source_position", "source", "target_position", "target"]
    links = (pd.DataFrame(link_rows, columns=[*link_cols, "sessions"])
             .groupby(link_cols, as_index=False)["sessions"].sum()
             .sort_values(["source_position", "sessions", "source", "target"],
                          ascending=[True, False, True, True], ignore_index=True))
    links["source_id"] = links["source_position"].astype(str) + ":" + links["source"]
    links["target_id"] = links["target_position"].astype(str) + ":" + links["target"]
    for df in (nodes, links):
        for c in ("position", "source_position", "target_position", "sessions"):
            if c in df:
                df[c] = df[c].astype("int64")
    return Sankey(nodes, links)
