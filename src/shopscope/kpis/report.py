"""The KPI report: summary cards, monthly trends and breakdowns in one HTML file.

An adapter like the pages: the numbers come from :mod:`shopscope.kpis.service` (the same
KPI table and summary as the overview and the API), this module only lays them out.

plotly.js is embedded from the installed plotly package (about 4 MB), so the file works
offline and can be mailed as it is.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from shopscope.core.i18n import translations
from shopscope.core.metrics import Change, metric_change
from shopscope.core.periods import DateRange, is_partial, latest_full
from shopscope.core.service import Context
from shopscope.kpis import METRICS, service

Lang = Literal["en", "zh"]
CARD_METRICS = ("gmv", "net_sales", "orders", "buyers", "aov", "repurchase_rate",
                "cancellation_rate", "return_rate")
def _t(key: str, lang: Lang, **kw: object) -> str:
    """The report's message ``key`` (``report.*`` in the gettext catalogue)."""
    text = translations(lang).gettext(key)
    return text.format(**kw) if kw else text


def report_locale(lang: Lang, timezone: str | None = None) -> str:
    """The Babel locale for dates: the reader's language, in the shop's country when the
    language has a variant there (an English report for a London shop writes 9 Dec 2011).

    >>> report_locale("en", "Europe/London"), report_locale("en", "UTC"), report_locale("zh")
    ('en_GB', 'en', 'zh_CN')
    """
    if lang == "zh":
        return "zh_CN"
    from babel import Locale, UnknownLocaleError
    from babel.core import get_global

    territory = get_global("zone_territories").get(timezone or "")
    if territory:
        try:
            return str(Locale.parse(f"en_{territory}"))
        except (UnknownLocaleError, ValueError):
            pass
    return "en"


def month_label(month: dt.date, locale: str) -> str:
    """A month in the report's language.

    >>> month_label(dt.date(2011, 12, 1), "en_GB"), month_label(dt.date(2011, 12, 1), "zh_CN")
    ('December 2011', '2011年12月')
    """
    from babel.dates import format_skeleton

    return format_skeleton("yMMMM", month, locale=locale)


def day_label(day: dt.date, locale: str) -> str:
    """A day in the report's language (``9 Dec 2011``, ``2011年12月9日``)."""
    from babel.dates import format_date

    return format_date(day, "medium", locale=locale)


def _label(metric: str, lang: Lang) -> str:
    m = METRICS[metric]
    return m.label_zh if lang == "zh" else m.label_en


def format_value(value: float | None, unit: str, currency: str = "") -> str:
    """Human formatting: money with two decimals, counts whole, ratios as percent.

    Examples
    --------
    >>> format_value(1234.5, "currency", "GBP"), format_value(0.1234, "ratio", "")
    ('GBP 1,234.50', '12.3%')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "currency":
        return f"{currency} {value:,.2f}".strip()
    if unit == "number":
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def _axis_title(metric: str, lang: Lang, currency: str) -> str:
    unit = METRICS[metric].unit
    suffix = f" ({currency})" if unit == "currency" else (" (%)" if unit == "ratio" else "")
    return _label(metric, lang) + suffix


def _layout(fig: go.Figure, title: str, lang: Lang, y_title: str) -> go.Figure:
    fig.update_layout(
        title=title, template="plotly_white", height=380, margin=dict(l=60, r=30, t=60, b=50),
        legend=dict(orientation="h", y=-0.2),
        font=dict(family="Noto Sans CJK SC, Microsoft YaHei, PingFang SC, Arial, sans-serif"),
    )
    fig.update_xaxes(title_text=_t("report.month", lang))
    fig.update_yaxes(title_text=y_title)
    return fig


def build_figures(monthly: pd.DataFrame, countries: pd.DataFrame, lang: Lang,
                  currency: str) -> list[go.Figure]:
    """The report's charts from a wide monthly KPI table and a by-country table."""
    x = monthly["period"]
    figs = []
    f = go.Figure()
    f.add_bar(x=x, y=monthly["gmv"], name=_label("gmv", lang))
    f.add_scatter(x=x, y=monthly["net_sales"], name=_label("net_sales", lang), mode="lines+markers")
    figs.append(_layout(f, _t("report.sales", lang), lang, f"{currency}"))
    f = go.Figure()
    for m in ("orders", "buyers"):
        f.add_scatter(x=x, y=monthly[m], name=_label(m, lang), mode="lines+markers")
    figs.append(_layout(f, _t("report.orders_buyers", lang), lang, _t("report.count", lang)))
    f = go.Figure()
    for m in ("new_buyers", "returning_buyers"):
        f.add_bar(x=x, y=monthly[m], name=_label(m, lang))
    f.update_layout(barmode="stack")
    figs.append(_layout(f, _t("report.new_returning", lang), lang, _t("report.count", lang)))
    f = make_subplots(specs=[[{"secondary_y": True}]])
    f.add_scatter(x=x, y=monthly["aov"], name=_label("aov", lang), mode="lines+markers")
    f.add_scatter(x=x, y=monthly["repurchase_rate"] * 100, name=_label("repurchase_rate", lang),
                  mode="lines+markers", secondary_y=True)
    _layout(f, _t("report.rates", lang), lang, _axis_title("aov", lang, currency))
    f.update_yaxes(title_text=_axis_title("repurchase_rate", lang, currency), secondary_y=True)
    figs.append(f)
    f = go.Figure()
    for m in ("cancellation_rate", "return_rate"):
        f.add_scatter(x=x, y=monthly[m] * 100, name=_label(m, lang), mode="lines+markers")
    figs.append(_layout(f, _t("report.credits", lang), lang, _t("report.share", lang) + " (%)"))
    if not countries.empty:
        top = countries.sort_values("net_sales", ascending=False).head(10)
        f = go.Figure(go.Bar(x=top["net_sales"], y=top["country"], orientation="h",
                             name=_label("net_sales", lang)))
        _layout(f, _t("report.by_country", lang), lang, "")
        f.update_xaxes(title_text=_axis_title("net_sales", lang, currency))
        f.update_yaxes(autorange="reversed")
        figs.append(f)
    return figs


def _cards(values: dict[str, float | None], changes: dict[str, Change | None], lang: Lang,
           currency: str) -> str:
    cells = []
    for m in CARD_METRICS:
        meta = METRICS[m]
        change = changes.get(m)
        arrow = ""
        if change is not None:
            good = (change.value >= 0) == meta.higher_is_better
            cls = "flat" if change.value == 0 else "up" if good else "down"
            arrow = (f'<div class="chg {cls}">{change.text()} '
                     f'{_t("report.vs_prev", lang)}</div>')
        cells.append(
            f'<div class="card"><div class="lbl">{html.escape(_label(m, lang))}</div>'
            f'<div class="val">{format_value(values.get(m), meta.unit, currency)}</div>{arrow}'
            "</div>"
        )
    return '<div class="cards">' + "".join(cells) + "</div>"


def latest_full_month(periods: pd.Series, last: dt.datetime | None,
                      dates: DateRange | None = None) -> pd.Timestamp:
    """The last month that the data (ending at ``last``) and the range's end cover to its
    end: a month cut short by the end of the data would show a misleading drop against the
    previous one."""
    months = sorted(pd.Timestamp(p).date() for p in periods)
    return pd.Timestamp(latest_full(months, "month", last, dates))


def _plotly_locale(lang: Lang) -> str:
    """The zh-CN plotly.js locale the dashboard ships (month and day names on date axes)."""
    if lang != "zh":
        return ""
    from importlib.resources import files

    return (files("shopscope") / "ui" / "static" / "plotly-locale-zh-cn.js").read_text(
        encoding="utf-8")


def _mark_partial(fig: go.Figure, month: pd.Timestamp, lang: Lang) -> None:
    """Shade the partial month and say so on the chart."""
    fig.add_vrect(x0=month - pd.Timedelta(days=15), x1=month + pd.Timedelta(days=15),
                  fillcolor="#999", opacity=0.12, line_width=0,
                  annotation_text=_t("report.partial_short", lang), annotation_position="top left")


def write_kpi_report(ctx: Context, path: str | Path, *, lang: Lang = "en",
                     currency: str = "", title: str | None = None,
                     start: dt.date | str | None = None, end: dt.date | str | None = None,
                     timezone: str | None = None) -> Path:
    """Write the KPI report of the workspace behind ``ctx`` (orders from ``start`` to ``end``,
    both days included,
    everything by default) to ``path`` and return it. Dates are written for ``lang`` in
    the country of the shop's ``timezone``; the month the data end in is marked partial."""
    out = Path(path)
    locale = report_locale(lang, timezone)
    table = service.kpi_table(ctx, service.KpiParams.of(grain="month", start=start, end=end))
    start_day, end_day = table.params.start, table.params.end
    dates = table.params.dates
    monthly = table.wide()
    totals = service.summary(ctx, service.SummaryParams(start=start_day, end=end_day)).values()
    parts = [f"<h1>{html.escape(title or _t('report.title', lang))}</h1>"]
    if monthly.empty:
        parts.append(f"<p>{_t('report.no_data', lang)}</p>")
        body, js = "".join(parts), ""
    else:
        data_end = service.data_end(ctx)
        month = latest_full_month(monthly.period, data_end, dates)
        last = table.data[table.data.period == month]
        values = {r.metric: r.value for r in last.itertuples()}
        changes = {r.metric: metric_change(r.metric, r.value, r.previous)
                   for r in last.itertuples()}
        first_m, last_m = monthly.period.min(), monthly.period.max()
        span = _t("report.range", lang, start=month_label(first_m, locale),
                  end=month_label(last_m, locale))
        parts.append(f"<p class='sub'>{html.escape(span)}</p>")
        partial = [p for p in monthly.period
                   if is_partial(p.date(), "month", data_end, dates)]
        if data_end is not None and pd.Timestamp(last_m) in partial:
            stop = min(pd.Timestamp(data_end).date(), end_day or pd.Timestamp(data_end).date())
            note = _t("report.partial", lang, month=month_label(last_m, locale),
                      day=day_label(stop, locale))
            parts.append(f"<p class='sub partial'>{html.escape(note)}</p>")
        latest = _t("report.latest", lang, month=month_label(month, locale))
        parts.append(f"<h2>{html.escape(latest)}</h2>")
        parts.append(_cards(values, changes, lang, currency))
        parts.append(f"<p class='sub'>{_t('report.pp_note', lang)}</p>")
        parts.append(f"<h2>{_t('report.totals', lang)}</h2>")
        parts.append(_cards(totals, {}, lang, currency))
        countries = service.kpi_table(ctx, service.KpiParams(
            grain="year", by="country", start=start_day, end=end_day)).result.wide()
        if not countries.empty:
            countries = countries.groupby("country", as_index=False)["net_sales"].sum()
        config = {"locale": "zh-CN"} if lang == "zh" else {}
        for fig in build_figures(monthly, countries, lang, currency):
            if fig.layout.xaxis.title.text == _t("report.month", lang):
                fig.update_xaxes(tickformat="%Y年%-m月" if lang == "zh" else "%b %Y")
                for p in partial:
                    _mark_partial(fig, pd.Timestamp(p), lang)
            parts.append('<div class="chart">' + fig.to_html(
                full_html=False, include_plotlyjs=False, config=config) + "</div>")
        body, js = "".join(parts), get_plotlyjs() + "\n" + _plotly_locale(lang)
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    doc = f"""<!doctype html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{html.escape(title or _t('report.title', lang))}</title>
<script>{js}</script>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",Arial,sans-serif;
margin:24px auto;max-width:1100px;color:#222}}
.cards{{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin:16px 0}}
.card{{border:1px solid #ddd;border-radius:8px;padding:12px}}
.lbl{{color:#666;font-size:13px}} .val{{font-size:22px;font-weight:600;margin-top:4px}}
.chg{{font-size:12px;margin-top:4px}} .up{{color:#1a7f37}} .down{{color:#c62828}}
.sub,footer{{color:#666}} .chart{{margin:18px 0}} .partial{{color:#8a5a00}}
</style></head><body>{body}
<footer>{_t('report.generated', lang, now=now)}</footer></body></html>"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    return out
