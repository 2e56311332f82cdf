"""The behaviour pages: trends (``/behaviour/trends``), funnel (``/behaviour/funnel``),
retention and repurchase cohorts (``/behaviour/retention``) and paths
(``/behaviour/paths``).

Each page reads its options from the query string (a bad value is reported and the default
used), asks :mod:`shopscope.behaviour.service` (the API's answers, from the same cache), and
draws Plotly charts from the small results. Steps are typed as in the CLI, joined with ``>``
for a funnel:
``view > add_to_cart:category=toys > purchase``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from shopscope.behaviour import service
from shopscope.behaviour.paths import ARROW
from shopscope.behaviour.source import DEFAULT_FUNNEL, EmptyReason, SourceChoice
from shopscope.core.periods import FINE_GRAINS, PeriodError, parse_date
from shopscope.errors import ShopscopeError
from shopscope.schema.tables import EVENT_TYPES
from shopscope.ui.charts import (
    COLORS,
    PLOT_CONFIG,
    Chart,
    json_safe,
    layout,
    mark_partial,
    time_axis,
    trace,
)
from shopscope.ui.deps import AppState, State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False)

TABS = ("trends", "funnel", "retention", "paths")
GRAINS = FINE_GRAINS
BREAKDOWNS = ("", "channel", "category", "source", "medium", "campaign", "customer.country",
              "customer.member_tier", "customer.signup_channel")
DEFAULT_STEPS = " > ".join(DEFAULT_FUNNEL["events"][0])
#: Cohort lines on the LTV chart: more than this keeps the oldest and the newest halves.
LTV_LINES = 12


def keep_cohorts(wide: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` cohort rows (oldest first): the oldest half and the newest half when
    there are more. The oldest cohorts have the longest history, so they are never the
    ones dropped.

    Examples
    --------
    >>> frame = pd.DataFrame({"x": range(5)}, index=[2010, 2011, 2012, 2013, 2014])
    >>> keep_cohorts(frame, 3).index.tolist(), keep_cohorts(frame, 9).index.tolist()
    ([2010, 2011, 2014], [2010, 2011, 2012, 2013, 2014])
    """
    if len(wide) <= n:
        return wide
    newest = n // 2
    return pd.concat([wide.head(n - newest), wide.tail(newest)])


def by_label(t: Translator, by: str) -> str:
    """A breakdown dimension's label ("customer.country" → "Customer country")."""
    return t(f"beh.by.{by}") if t.has(f"beh.by.{by}") else by


# -- options ----------------------------------------------------------------------------------
class Options:
    """Query-string options with defaults; bad values become messages."""

    def __init__(self, t: Translator, params: Mapping[str, str]) -> None:
        self.t, self.params = t, params
        self.messages: list[str] = []
        self.values: dict[str, str] = {}
        #: auto, events, or orders (each order a purchase event) for shops without tracking;
        #: resolved per range by :meth:`resolve` (the CLI's and the API's rule)
        self.source = self.choice("source", ("auto", "events", "orders"), "auto")
        self.choice_made: SourceChoice | None = None

    def resolve(self, state: AppState, start: dt.date | None, end: dt.date | None) -> str:
        """The source read for this range: events or orders."""
        self.choice_made = service.choose(state, self.source, start, end)
        return self.choice_made.kind

    def text(self, name: str, default: str = "") -> str:
        value = (self.params.get(name) or default).strip()
        self.values[name] = value
        return value

    def field(self, name: str) -> str:
        """The option's label in the page's language, for messages."""
        key = f"beh.f.{name}"
        return self.t(key) if self.t(key) != key else name

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.params.get(name) or default
        if value not in allowed:
            self.messages.append(self.t("beh.bad_option", field=self.field(name), value=value))
            value = default
        self.values[name] = value
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.params.get(name)
        try:
            value = int(raw) if raw else default
            if not low <= value <= high:
                raise ValueError
        except ValueError:
            self.messages.append(self.t("beh.bad_option", field=self.field(name), value=raw))
            value = default
        self.values[name] = str(value)
        return value

    def date(self, name: str) -> dt.date | None:
        raw = self.params.get(name)
        self.values[name] = raw or ""
        if not raw:
            return None
        try:
            return parse_date(raw, name)
        except PeriodError:
            self.messages.append(self.t("beh.bad_option", field=self.field(name), value=raw))
            self.values[name] = ""
            return None

    def date_range(self, start: str = "start", end: str = "end"
                   ) -> tuple[dt.date | None, dt.date | None]:
        """Two dates; an inverted pair is refused with a message and both are dropped."""
        lo, hi = self.date(start), self.date(end)
        if lo is not None and hi is not None and lo > hi:
            self.messages.append(self.t("beh.bad_range", start=self.field(start),
                                        end=self.field(end)))
            self.values[start] = self.values[end] = ""
            return None, None
        return lo, hi


def _try(opts: Options, compute: Callable[[], Any]) -> Any:
    """Run an analysis; an option it rejects becomes a message on the page."""
    try:
        return compute()
    except ShopscopeError as exc:
        text = exc.message + (f" ({exc.hint})" if exc.hint else "")
        shown = opts.t.error(exc)  # translated by its code when it has one
        opts.messages.append(shown if shown != exc.message
                             else opts.t("beh.error", message=text))
        return None


def _empty(t: Translator, answer: service.Explained | None) -> str | None:
    """Why the analysis shows nothing, in the page's language (None when it shows data or
    failed: the failure is a message)."""
    reason: EmptyReason | None = None if answer is None else answer.empty_reason
    if answer is None or reason is None:
        return None
    choice = answer.choice
    start, end = choice.start, choice.end
    where = (t("beh.range.between", start=t.date(start), end=t.date(end)) if start and end
             else t("beh.range.from", start=t.date(start)) if start
             else t("beh.range.to", end=t.date(end)) if end else t("beh.range.all"))
    text = t("beh.empty." + reason.code, source=t("beh.src." + choice.kind), range=where)
    if reason.code == "no_match" and choice.kind == "orders":
        text += " " + t("beh.empty.orders_only")
    if reason.suggest:
        text += " " + t("beh.empty.suggest", source=t("beh.source." + reason.suggest))
    return text


def _page(request: Request, session, t: Translator, tab: str, opts: Options | None,
          view: dict, charts: list[Chart]) -> HTMLResponse:
    return render(request, "behaviour.html", t, session=session, tab=tab, tabs=TABS,
                  view=view, messages=opts.messages if opts else [],
                  values=opts.values if opts else {},
                  charts=json_safe([{"id": c.id, "figure": c.figure} for c in charts]),
                  plot_config={**PLOT_CONFIG, "locale": t.html_lang},
                  event_types=[(e, t.event(e)) for e in EVENT_TYPES], grains=GRAINS,
                  breakdowns=[(b, by_label(t, b) if b else t("beh.none")) for b in BREAKDOWNS])


def _dates(periods: pd.Series) -> list[dt.date]:
    return [pd.Timestamp(p).date() for p in periods]


def _partial(state: AppState, opts: Options, periods: list[dt.date], grain: str,
             start: dt.date | None, end: dt.date | None) -> set[dt.date]:
    """The periods the data (its last event day) or the inclusive range cover in part."""
    assert opts.choice_made is not None  # the view resolved its source first
    return service.partial_periods(state, opts.choice_made, periods, grain, start, end)


# -- trends ---------------------------------------------------------------------------------
def trends_view(state: AppState, t: Translator, opts: Options) -> tuple[dict, list[Chart]]:
    grain = opts.choice("grain", GRAINS, "day")
    event = opts.text("event") or None
    by = opts.choice("by", BREAKDOWNS, "") or None
    start, end = opts.date_range()
    cmp_start, cmp_end = opts.date_range("compare_start", "compare_end")
    compare = (cmp_start, cmp_end) if cmp_start and cmp_end else None
    metrics = ("pv", "uv", "dau", "mau", "stickiness", "events_per_visitor")
    opts.resolve(state, start, end)
    answer = _try(opts, lambda: service.trends(state, service.TrendParams.model_validate(dict(
        metrics=metrics, grain=grain, start=start, end=end, event=event, by=by,
        compare_start=cmp_start if compare else None,
        compare_end=cmp_end if compare else None,
        source=opts.source))))
    result = answer.result if answer else None
    if result is None or result.data.empty:
        return {"empty_result": True, "empty_reason": _empty(t, answer)}, []
    charts = []
    noun = t.grain_noun(grain)
    if by:
        data = result.data[result.data.metric == "uv"]
        lay = layout(t("beh.uv_by", by=by_label(t, by), grain=noun), "", t("beh.visitors"))
        # Every value has every period of the range (the trend fills quiet ones with 0), so
        # the partial ones are marked on one shared axis, as in the plain trend.
        periods = sorted(set(_dates(data.period)))
        partial = _partial(state, opts, periods, grain, start, end)
        traces = []
        for i, (value, part) in enumerate(data.groupby(by, sort=True)):
            if i >= len(COLORS) * 2:
                break
            part = part.set_index("period").reindex(pd.to_datetime(periods))
            name = t.breakdown(by, value)
            hover = [f"<b>{t.period(p, grain)}{t('cards.partial') if p in partial else ''}"
                     f"</b><br>{name}: {t.count(v) if pd.notna(v) else '–'}"
                     for p, v in zip(periods, part.value, strict=True)]
            traces.append(trace("line", [p.isoformat() for p in periods], part.value.tolist(),
                                name, hover, COLORS[i % len(COLORS)]))
        traces, notes = mark_partial(t, traces, periods, partial)
        lay["xaxis"] = time_axis(t, periods, grain)
        if notes:
            lay["annotations"] = notes
        charts.append(Chart("chart-trend-by", {"data": traces, "layout": lay}))
        rows = []
    else:
        wide = result.wide()
        periods = _dates(wide.period)
        partial = _partial(state, opts, periods, grain, start, end)
        x = [p.isoformat() for p in periods]
        axis = time_axis(t, periods, grain)

        def period_label(p: dt.date) -> str:
            return t.period(p, grain) + (t("cards.partial") if p in partial else "")

        def line(metric: str, color: str, fmt: Callable[[float], str] = t.count,
                 kind: str = "line", **extra: object) -> dict:
            values = wide[metric].tolist()
            hover = [f"<b>{period_label(p)}</b><br>{t('beh.m.' + metric)}: {fmt(v)}"
                     for p, v in zip(periods, values, strict=True)]
            return trace(kind, x, values, t("beh.m." + metric), hover, color, **extra)

        lay = layout(t("beh.traffic", grain=noun), "", t("beh.count"))
        lay["xaxis"] = axis
        data, notes = mark_partial(t, [line("pv", COLORS[0], kind="bar", opacity=0.8),
                                       line("uv", COLORS[1])], periods, partial)
        if notes:
            lay["annotations"] = notes
        charts.append(Chart("chart-traffic", {"data": data, "layout": lay}))
        lay = layout(t("beh.actives", grain=noun), "", t("beh.visitors"))
        lay["xaxis"] = axis
        lay["yaxis2"] = {"title": {"text": t("beh.m.stickiness")}, "overlaying": "y",
                         "side": "right", "tickformat": ".0%", "rangemode": "tozero"}
        data, notes = mark_partial(t, [
            line("dau", COLORS[2]), line("mau", COLORS[3]),
            line("stickiness", COLORS[4], fmt=t.percent, yaxis="y2",
                 line={"dash": "dot", "color": COLORS[4]})], periods, partial)
        if notes:
            lay["annotations"] = notes
        charts.append(Chart("chart-actives", {"data": data, "layout": lay}))
        rows = [{"period": period_label(p),
                 **{m: (t.percent(v) if m == "stickiness" else t.number(v, 2)
                        if m == "events_per_visitor" else t.count(v))
                    for m, v in r.items() if m in metrics}}
                for p, r in zip(periods, wide.to_dict("records"), strict=True)]
    compared = None
    if compare:
        compared = [] if by else [
            {"metric": t("beh.m." + r.metric), "value": t.count(r.value),
             "other": t.count(r.other), "delta": t.percent(r.change) if r.other else "–"}
            for r in service.compare_totals(result).itertuples()]
    return {"rows": rows[-60:], "metrics": metrics, "compared": compared}, charts


# -- funnel ---------------------------------------------------------------------------------
def parse_steps(text: str) -> list[str]:
    """``"view > add_to_cart:category=toys > purchase"`` → the step strings."""
    return [s.strip() for s in text.split(">") if s.strip()]


def funnel_chart(t: Translator, table: pd.DataFrame, mode: str) -> Chart:
    unit = t("beh.journeys") if mode == "order" else t("beh.visitors")
    text = [f"{t.count(c)} ({t.percent(o)})" for c, o in
            zip(table["count"], table["conversion_overall"], strict=True)]
    names = [t.step(n) for n in table["name"]]
    fig: dict[str, Any] = {"data": [{
        "type": "funnel", "y": names, "x": table["count"].tolist(),
        "text": text, "textinfo": "text", "marker": {"color": COLORS[0]},
        "hovertemplate": "%{y}: %{text}<extra></extra>", "name": unit,
    }, {
        "type": "bar", "orientation": "h", "y": names,
        "x": table["dropped"].tolist(), "name": t("beh.dropped"), "visible": "legendonly",
        "marker": {"color": COLORS[4]},
    }], "layout": layout(t("beh.funnel_title", unit=unit), unit, "", height=380)}
    fig["layout"]["yaxis"].update(autorange="reversed", rangemode="normal", tickformat="")
    # a funnel is drawn centred on zero: the axis's negative half means nothing to a reader
    fig["layout"]["xaxis"].update(showticklabels=False, showgrid=False, zeroline=False)
    fig["layout"]["margin"]["l"] = 160
    return Chart("chart-funnel", fig)


def funnel_view(state: AppState, t: Translator, opts: Options) -> tuple[dict, list[Chart]]:
    start, end = opts.date_range()
    kind = opts.resolve(state, start, end)
    # on orders (purchases only) the default is the repeat-purchase funnel
    default_steps, default_window = DEFAULT_FUNNEL[kind]
    steps = parse_steps(opts.text("steps", " > ".join(default_steps)))
    window = opts.text("window", default_window)
    mode = opts.choice("mode", ("user", "order"), "user")
    order = opts.choice("order", ("sequential", "any"), "sequential")
    same_product = opts.choice("same_product", ("no", "yes"), "no") == "yes"
    by = opts.choice("by", BREAKDOWNS, "") or None
    grain = opts.choice("grain", GRAINS, "day")
    question: dict[str, Any] = {
        "steps": steps, "window": window, "order": order, "same_product": same_product,
        "mode": mode, "start": start, "end": end, "source": opts.source}
    answer = _try(opts, lambda: service.funnel(state, service.FunnelParams(**question)))
    if answer is None:
        return {"empty_result": True}, []
    result = answer.result
    reason = _empty(t, answer)
    if reason:
        return {"empty_result": True, "empty_reason": reason,
                "steps_text": " > ".join(steps)}, []
    table = result.steps
    charts = [funnel_chart(t, table, mode)]
    rows = [{"step": int(r["step"]), "name": t.step(r["name"]), "count": t.count(r["count"]),
             "from_prev": t.percent(r["conversion_from_previous"]),
             "overall": t.percent(r["conversion_overall"]), "dropped": t.count(r["dropped"]),
             "median": t.duration(r["median_seconds"]),
             "value": t.number(r["value"], 0) if "value" in table else None,
             "value_lost": t.number(r["value_lost"], 0) if "value_lost" in table else None,
             "dropped_link": "/api/behaviour/funnel/dropped?" + urlencode(
                 [("step", s) for s in steps] + [("window", window), ("order", order),
                  ("mode", mode), ("at_step", int(r["step"]))]) if r["step"] > 1 else None}
            for r in table.to_dict("records")]
    hist = result.time_to_convert
    if int(hist["count"].sum()):
        labels = [f"{t.duration(lo)}–{t.duration(hi)}" for lo, hi in
                  zip(hist.lower_seconds, hist.upper_seconds, strict=True)]
        lay = layout(t("beh.time_to_convert"), t("beh.time"), t("beh.count"))
        lay["xaxis"]["type"] = "category"
        charts.append(Chart("chart-ttc", {"data": [{
            "type": "bar", "x": labels, "y": hist["count"].tolist(),
            "marker": {"color": COLORS[2]}, "name": t("beh.count")}], "layout": lay}))
    breakdown = []
    if by:
        answer = _try(opts, lambda: service.funnel(state, service.FunnelParams(
            **question, by=by)))
        split = answer.result if answer else None
        if split is not None and not split.steps.empty:
            last = service.conversion_by(split, 12)
            lay = layout(t("beh.conversion_by", by=by_label(t, by)), "", t("beh.conversion"),
                         y_format=".1%")
            lay["xaxis"]["type"] = "category"
            charts.append(Chart("chart-funnel-by", {"data": [{
                "type": "bar", "x": [t.breakdown(by, v) for v in last["by"]],
                "y": last["conversion_overall"].tolist(), "marker": {"color": COLORS[1]},
                "name": t("beh.conversion")}], "layout": lay}))
            breakdown = [{"by": t.breakdown(by, r["by"]), "entered": t.count(r["entered"]),
                          "converted": t.count(r["count"]),
                          "rate": t.percent(r["conversion_overall"])}
                         for r in last.to_dict("records")]
    answer = _try(opts, lambda: service.funnel_trend(
        state, service.FunnelTrendParams.model_validate(dict(**question, grain=grain))))
    trend = answer.result if answer else None
    if trend is not None and len(trend):
        last_step = trend[trend.step == trend.step.max()].sort_values("period")
        periods = _dates(last_step.period)
        partial = _partial(state, opts, periods, grain, start, end)
        lay = layout(t("beh.funnel_trend", grain=t.grain_noun(grain)), "", t("beh.conversion"),
                     y_format=".1%")
        lay["xaxis"] = time_axis(t, periods, grain)
        data, notes = mark_partial(t, [trace(
            "line", [p.isoformat() for p in periods], last_step["conversion_overall"].tolist(),
            t("beh.conversion"),
            [f"{t.period(p, grain)}{t('cards.partial') if p in partial else ''}: "
             f"{t.percent(v)}" for p, v in zip(periods, last_step["conversion_overall"],
                                                strict=True)],
            COLORS[0])], periods, partial)
        if notes:
            lay["annotations"] = notes
        charts.append(Chart("chart-funnel-trend", {"data": data, "layout": lay}))
    return {"rows": rows, "breakdown": breakdown, "order_mode": mode == "order",
            "by_label": by_label(t, by) if by else "",
            "steps_text": " > ".join(steps)}, charts


# -- retention ------------------------------------------------------------------------------
def heatmap(t: Translator, chart_id: str, title: str, wide: pd.DataFrame, grain: str,
            fmt: Callable[[float], str], z_format: str = ".0%") -> Chart:
    cohorts = [t.period(pd.Timestamp(c).date(), grain) for c in wide.index]
    z = [[None if pd.isna(v) else float(v) for v in row] for row in wide.to_numpy()]
    text = [["" if v is None else fmt(v) for v in row] for row in z]
    lay = layout(title, t(f"beh.since.{grain}"), t("beh.cohort"),
                 height=max(340, 90 + 22 * len(cohorts)))
    lay["yaxis"].update(autorange="reversed", type="category", rangemode="normal",
                        tickformat="")
    lay["xaxis"].update(type="category", dtick=1)
    return Chart(chart_id, {"data": [{
        "type": "heatmap", "x": [str(c) for c in wide.columns], "y": cohorts, "z": z,
        "text": text, "texttemplate": "%{text}" if len(wide.columns) <= 16 else "",
        "hovertemplate": "%{y} +%{x}: %{text}<extra></extra>", "colorscale": "Blues",
        "reversescale": True,
        "colorbar": {"tickformat": z_format}}], "layout": lay})


def retention_view(state: AppState, t: Translator, opts: Options) -> tuple[dict, list[Chart]]:
    start_event = opts.text("start_event") or None
    return_event = opts.text("return_event") or None
    grain = opts.choice("grain", GRAINS, "day")
    periods = opts.integer("periods", {"day": 30, "week": 12, "month": 12}[grain], 1, 120)
    mode = opts.choice("mode", ("exact", "unbounded"), "exact")
    start, end = opts.date_range()
    charts: list[Chart] = []
    opts.resolve(state, start, end)
    answer = _try(opts, lambda: service.retention(state, service.RetentionParams.model_validate(
        dict(start_event=start_event, return_event=return_event, grain=grain, periods=periods,
        mode=mode, start=start, end=end, source=opts.source))))
    result = answer.result if answer else None
    reason = _empty(t, answer)
    if result is not None and not result.matrix.empty:
        wide = keep_cohorts(result.wide(), 40)
        charts.append(heatmap(t, "chart-retention", t("beh.retention_title"), wide, grain,
                              t.percent))
        curve = result.curve()
        lay = layout(t("beh.curve_title"), t(f"beh.since.{grain}"),
                     t("beh.retained"), y_format=".0%")
        charts.append(Chart("chart-curve", {"data": [trace(
            "line", curve.period_number.tolist(), curve.rate.tolist(), t("beh.retained"),
            [f"+{n}: {t.percent(v)}" for n, v in zip(curve.period_number, curve.rate,
                                                       strict=True)], COLORS[0])],
            "layout": lay}))
    cohorts = _try(opts, lambda: service.cohorts(state, service.CohortParams(
        grain="month", periods=12, start=start, end=end)))
    if cohorts is not None and not cohorts.matrix.empty:
        charts.append(heatmap(t, "chart-repurchase", t("beh.repurchase_title"),
                              keep_cohorts(cohorts.wide("rate_exact"), 24), "month",
                              t.percent))
        ltv = keep_cohorts(cohorts.wide("ltv"), LTV_LINES)
        traces = [trace("line", [str(c) for c in ltv.columns], row.tolist(),
                        t.period(pd.Timestamp(idx).date(), "month"),
                        [f"+{c}: {t.number(v, 2)}" for c, v in zip(ltv.columns, row,
                                                                    strict=True)],
                        COLORS[i % len(COLORS)])
                  for i, (idx, row) in enumerate(ltv.iterrows())]
        lay = layout(t("beh.ltv_title"), t("beh.since.month"),
                     t("beh.ltv"), y_format=",.0f", height=400)
        lay["legend"]["y"] = -0.3
        charts.append(Chart("chart-ltv", {"data": traces, "layout": lay}))
    return {"empty_result": not charts, "empty_reason": reason}, charts


# -- paths ----------------------------------------------------------------------------------
def _node_color(name: str) -> str:
    """One colour per event type, stable across pages and processes."""
    base = name.split(" [")[0]
    i = EVENT_TYPES.index(base) if base in EVENT_TYPES else len(EVENT_TYPES)
    return COLORS[i % len(COLORS)] if base in EVENT_TYPES else "#9ca3af"


def sankey(t: Translator, result: Any) -> Chart:
    nodes, links = result.sankey.nodes, result.sankey.links
    index = {n: i for i, n in enumerate(nodes["id"])}
    fig = {"data": [{
        "type": "sankey", "arrangement": "snap",
        "node": {"label": [f"{t.step(n)} ({p})" for n, p in zip(nodes["name"],
                                                                 nodes["position"],
                                                                 strict=True)],
                 "pad": 12, "thickness": 14,
                 "color": [_node_color(n) for n in nodes["name"]]},
        "link": {"source": [index[s] for s in links["source_id"]],
                 "target": [index[s] for s in links["target_id"]],
                 "value": links["sessions"].tolist(), "color": "rgba(37,99,235,0.18)"},
    }], "layout": layout(t("beh.sankey_title"), "", "", height=460)}
    return Chart("chart-sankey", fig)


def paths_view(state: AppState, t: Translator, opts: Options) -> tuple[dict, list[Chart]]:
    start_date, end_date = opts.date_range()
    kind = opts.resolve(state, start_date, end_date)
    start = opts.text("from") or None
    end = opts.text("to") or None
    if start is None and end is None and "from" not in opts.params and kind == "events":
        start = "view"
        opts.values["from"] = start
    length = opts.integer("length", 5, 2, 10)
    top = opts.integer("top", 20, 1, 100)
    exclude = tuple(s for s in opts.text("exclude").replace(",", " ").split() if s)
    collapse = opts.choice("collapse", ("yes", "no"), "yes") == "yes"
    answer = _try(opts, lambda: service.paths(state, service.PathParams.model_validate(dict(
        start=start, end=end, length=length, top=top, exclude=exclude,
        collapse_repeats=collapse, start_date=start_date, end_date=end_date,
        source=opts.source))))
    result = answer.result if answer else None
    if result is None or result.error or not result.sessions:
        return {"empty_result": True, "empty_reason": _empty(t, answer)}, []
    charts = [sankey(t, result)] if len(result.sankey.links) else []
    rows = [{"text": ARROW.join(t.step(s) for s in r["path"]),
             "sessions": t.count(r["sessions"]),
             "share": t.percent(r["share"])} for r in result.paths.to_dict("records")]
    around = result.next_steps if len(result.next_steps) else result.previous_steps
    steps = [{"step": t.step(r["step"]), "sessions": t.count(r["sessions"]),
              "share": t.percent(r["share"])} for r in around.to_dict("records")]
    return {"rows": rows, "steps": steps, "sessions": t.count(result.sessions),
            "next": bool(len(result.next_steps))}, charts


VIEWS = {"trends": trends_view, "funnel": funnel_view, "retention": retention_view,
         "paths": paths_view}


@router.get("/behaviour", response_class=HTMLResponse)
def behaviour_home(session: PageSession) -> RedirectResponse:
    return RedirectResponse("/behaviour/funnel", status_code=303)


@router.get("/behaviour/{tab}", response_class=HTMLResponse)
def behaviour_page(tab: str, request: Request, state: State,
                   session: PageSession) -> HTMLResponse:
    """One behaviour analysis with its filters and charts."""
    t = translator_for(request, session)
    if tab not in VIEWS:
        return render(request, "error.html", t, session=session, status_code=404,
                      title=t("beh.not_found_title"), message=t("beh.not_found", tab=tab))
    present = service.data_present(state)
    has_events = present.events
    if not has_events and not present.orders:
        return _page(request, session, t, tab, None, {"no_events": True}, [])
    opts = Options(t, request.query_params)
    view, charts = VIEWS[tab](state, t, opts)
    # the note says what the numbers are made of: the source actually read for this range
    view["orders_note"] = (opts.choice_made is not None
                           and opts.choice_made.kind == "orders")
    view["has_events"] = has_events
    return _page(request, session, t, tab, opts, view, charts)

