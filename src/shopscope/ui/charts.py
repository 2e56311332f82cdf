"""Plotly figures for the dashboard, as plain JSON-ready dicts.

Figures are written as dicts rather than ``plotly.graph_objects`` (whose validation costs
tens of milliseconds a figure) so that a page stays fast. Everything a reader sees is
localised here: tick labels and hover texts come from Babel through the Translator, axis
titles carry units, and the font stack puts a CJK font first so Chinese renders. Values
from the data (breakdown labels) are HTML-escaped, as Plotly reads a subset of HTML in
texts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from html import escape

from shopscope.ui.i18n import Translator

FONT = ("Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, "
        "Helvetica Neue, Arial, sans-serif")
COLORS = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2")
HIGHLIGHT = "#f97316"
NEGATIVE = "#dc2626"
MAX_TICKS = 12
#: Plotly options of every dashboard chart (the page adds its locale).
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True)
class Chart:
    """One chart: its element id and the Plotly figure (``data`` and ``layout``)."""

    id: str
    figure: dict


def _clean(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
            for v in values]


def layout(title: str, x_title: str, y_title: str, *, y_format: str = ",.0f",
           height: int = 340) -> dict:
    """A layout with title, axis titles, a CJK-capable font and room for the legend."""
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12, "color": "#1f2937"},
        "height": height,
        "margin": {"l": 72, "r": 24, "t": 52, "b": 64},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.22, "x": 0},
        "xaxis": {"title": {"text": x_title}, "gridcolor": "#eef0f3", "automargin": True},
        "yaxis": {"title": {"text": y_title}, "gridcolor": "#eef0f3", "tickformat": y_format,
                  "rangemode": "tozero", "automargin": True},
        "separators": ".,",
    }


def time_axis(t: Translator, periods: Sequence[dt.date], grain: str) -> dict:
    """A date axis whose tick labels are the periods in the reader's language."""
    step = max(1, math.ceil(len(periods) / MAX_TICKS))
    ticks = list(periods)[::step]
    return {
        "type": "date",
        "range": _padded_range(periods),
        "title": {"text": t(f"axis.{grain}")},
        "tickmode": "array",
        "tickvals": [p.isoformat() for p in ticks],
        "ticktext": [t.period_short(p, grain) for p in ticks],
        "gridcolor": "#eef0f3",
        "automargin": True,
    }


def _padded_range(periods: Sequence[dt.date]) -> list[str] | None:
    """Half a period of room on each side, so end labels and bars are not cut off."""
    if not periods:
        return None
    first, last = periods[0], periods[-1]
    if len(periods) > 1:
        head = (periods[1] - first) / 2
        tail = (last - periods[-2]) / 2
    else:
        head = tail = dt.timedelta(days=1)
    return [(first - head).isoformat(), (last + tail).isoformat()]


def trace(kind: str, x: Sequence, y: Sequence[float | None], name: str,
          hover: Sequence[str], color: str, **extra: object) -> dict:
    """A bar or line trace with preformatted (localised) hover texts."""
    out: dict = {
        "type": "bar" if kind == "bar" else "scatter",
        "x": list(x),
        "y": _clean(y),
        "name": name,
        "customdata": list(hover),
        "hovertemplate": "%{customdata}<extra></extra>",
        "marker": {"color": color},
    }
    if kind == "line":
        out.update(mode="lines+markers", line={"color": color, "width": 2})
    out.update(extra)
    return out


def _hover(t: Translator, periods: Sequence[dt.date], grain: str, metric: str,
           values: Sequence[float | None], currency: str,
           partial: Collection[dt.date] = ()) -> list[str]:
    label = t.metric(metric)
    return [f"<b>{t.period(p, grain)}{t('cards.partial') if p in partial else ''}</b><br>"
            f"{label}: {t.metric_value(metric, v, currency)}"
            for p, v in zip(periods, values, strict=True)]


def mark_partial(t: Translator, traces: list[dict], periods: Sequence[dt.date],
                 partial: Collection[dt.date]) -> tuple[list[dict], list[dict]]:
    """The traces with partial periods drawn lighter (bars) or dashed (lines), and one
    "partial" annotation above each such period, so nobody reads a short month as a drop."""
    if not partial:
        return traces, []
    flags = [p in partial for p in periods]
    out = []
    for tr in traces:
        if tr["type"] == "bar":
            tr["marker"] = {**tr["marker"], "opacity": [0.35 if f else 1.0 for f in flags]}
            out.append(tr)
            continue
        # the solid line stops at the last full period; a dashed piece joins the partial ones
        near = [f or (i > 0 and flags[i - 1]) or (i + 1 < len(flags) and flags[i + 1])
                for i, f in enumerate(flags)]
        solid = {**tr, "y": [None if f else v for v, f in zip(tr["y"], flags, strict=True)]}
        dashed = {**tr, "y": [v if n else None for v, n in zip(tr["y"], near, strict=True)],
                  "showlegend": False, "line": {**tr.get("line", {}), "dash": "dot"},
                  "marker": {**tr["marker"], "symbol": "circle-open"}}
        out += [solid, dashed]
    notes = [{"x": p.isoformat(), "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom",
              "text": t("partial.label"), "showarrow": False,
              "font": {"size": 11, "color": "#6b7280"}} for p in periods if p in partial]
    return out, notes


def trend_charts(t: Translator, periods: Sequence[dt.date], series: dict[str, list],
                 grain: str, currency: str, *, with_events: bool,
                 partial: Collection[dt.date] = ()) -> list[Chart]:
    """The trend charts: sales, orders and buyers, AOV and repurchase, rates; ``partial``
    periods (not fully covered by the data or the range) are marked."""
    x = [p.isoformat() for p in periods]
    noun = t.grain_noun(grain)
    axis = time_axis(t, periods, grain)
    amount = t("chart.amount", currency=currency)

    def line(metric: str, color: str, kind: str = "line", **extra: object) -> dict:
        values = series[metric]
        return trace(kind, x, values, t.metric(metric),
                     _hover(t, periods, grain, metric, values, currency, partial), color,
                     **extra)

    charts = []
    fig = {"data": [line("gmv", COLORS[0], "bar", opacity=0.85), line("net_sales", COLORS[1])],
           "layout": layout(t("chart.sales", grain=noun), "", amount)}
    charts.append(Chart("chart-sales", fig))

    fig = {"data": [line("orders", COLORS[0]), line("buyers", COLORS[2])],
           "layout": layout(t("chart.orders", grain=noun), "", t("chart.count"))}
    charts.append(Chart("chart-orders", fig))

    lay = layout(t("chart.aov", grain=noun), "",
                 f"{t.metric('aov')}（{currency}）" if t.lang == "zh"
                 else f"{t.metric('aov')} ({currency})")
    lay["yaxis2"] = {"title": {"text": f"{t.metric('repurchase_rate')} (%)"},
                     "overlaying": "y", "side": "right", "tickformat": ".0%",
                     "rangemode": "tozero", "showgrid": False, "automargin": True}
    lay["margin"]["r"] = 72
    fig = {"data": [line("aov", COLORS[0]), line("repurchase_rate", COLORS[3], yaxis="y2")],
           "layout": lay}
    charts.append(Chart("chart-aov", fig))

    rates = ["cancellation_rate", "return_rate"] + (["conversion_rate"] if with_events else [])
    key = "chart.rates" if with_events else "chart.rates_no_events"
    fig = {"data": [line(m, c) for m, c in zip(rates, (COLORS[4], COLORS[5], COLORS[2]),
                                                strict=False)],
           "layout": layout(t(key, grain=noun), "", t("chart.percent"), y_format=".1%")}
    charts.append(Chart("chart-rates", fig))

    for chart in charts:
        chart.figure["layout"]["xaxis"] = dict(axis)
        data, notes = mark_partial(t, chart.figure["data"], periods, partial)
        chart.figure["data"] = data
        if notes:
            chart.figure["layout"]["annotations"] = notes
    return charts


def breakdown_chart(t: Translator, rows: list[dict], by: str, currency: str, *,
                    range_label: str, whole_shop: bool, highlight: str | None,
                    top: int) -> Chart:
    """Net sales per breakdown value over the range, largest first, as horizontal bars.

    ``rows`` hold ``key``, ``gmv``, ``net_sales``, ``orders`` and ``share`` per value.
    """
    labels = [t("chart.others", n=t.count(r["others"])) if r["key"] is None
              else escape(t.breakdown(by, r["key"]), quote=False) for r in rows]
    values = [r["net_sales"] for r in rows]
    hover = [
        f"<b>{label}</b><br>{t.metric('net_sales')}: {t.currency(r['net_sales'], currency)}"
        f"<br>{t.metric('gmv')}: {t.currency(r['gmv'], currency)}"
        f"<br>{t.metric('orders')}: {t.count(r['orders'])}"
        f"<br>{t('chart.share', share=t.percent(r['share']))}"
        for label, r in zip(labels, rows, strict=True)
    ]
    colors = [HIGHLIGHT if highlight is not None and r["key"] == highlight
              else NEGATIVE if r["net_sales"] < 0 else COLORS[0] for r in rows]
    by_label = t(f"by.{by}")
    title = t("chart.breakdown", by=by_label if t.lang == "zh" else by_label.lower(),
              range=range_label, n=top)
    if whole_shop:
        title += t("chart.breakdown_all")
    net = t.metric("net_sales")
    lay = layout(title, f"{net}（{currency}）" if t.lang == "zh" else f"{net} ({currency})",
                 by_label, height=max(300, 60 + 28 * len(rows)))
    lay["xaxis"]["tickformat"] = ",.0f"
    lay["yaxis"].update(autorange="reversed", tickformat="", type="category")
    lay["yaxis"].pop("rangemode")
    lay["margin"]["l"] = 120
    lay["showlegend"] = False
    data = [{"type": "bar", "orientation": "h", "x": _clean(values), "y": labels,
             "name": net, "customdata": hover, "hovertemplate": "%{customdata}<extra></extra>",
             "marker": {"color": colors}}]
    return Chart("chart-breakdown", {"data": data, "layout": lay})



def json_safe(value: object) -> object:
    """NaN and infinities (an interval not defined yet, on an experiment's first day)
    as None, which JSON and Plotly understand as a gap; JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def charts_payload(charts: list[dict], t: Translator) -> dict:
    """The ``charts-data`` JSON a page embeds: its figures and Plotly's config in the
    reader's locale."""
    config: dict[str, object] = {**PLOT_CONFIG, "locale": t.html_lang}
    payload = json_safe({"charts": charts, "config": config})
    assert isinstance(payload, dict)
    return payload
