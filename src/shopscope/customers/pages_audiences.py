"""The audiences page (``/audiences``): saved definitions with their size and value, a
chart comparing them, masked exports, and a builder that previews an unsaved definition.

The numbers come from :mod:`shopscope.customers.service`, as the JSON API's do, so the
page and ``/api/audiences/…`` agree. The builder and the delete buttons call the JSON API from the
browser with the session's CSRF token; analysts and admins see them, viewers do not.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.customers import service as svc
from shopscope.customers.audiences import OPS
from shopscope.customers.lifecycle import STAGES
from shopscope.customers.routing import ServiceErrors
from shopscope.customers.service import SEGMENTS, CustomersError, label
from shopscope.customers.tags import TAGS
from shopscope.ui.charts import COLORS, PLOT_CONFIG, Chart, layout
from shopscope.ui.deps import State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False, route_class=ServiceErrors)

#: Profile columns never offered as filters (identifiers and free text).
HIDDEN_FIELDS = {"customer_id", "email", "phone", "name"}


def field_choices(t: Translator, schema: Any) -> list[dict]:
    """The profile's columns for the builder: name, label, kind (number, date, text) and,
    for columns with a fixed set of values, those values with their labels."""
    fixed: dict[str, list[tuple[str, str]]] = {
        "stage": [(k, label(s, t.lang)) for k, s in STAGES.items()],
        "classic_segment": [(k, label(s, t.lang)) for k, s in SEGMENTS["classic"].items()],
        "eleven_segment": [(k, label(s, t.lang)) for k, s in SEGMENTS["eleven"].items()],
    }
    for name, tag in TAGS.items():
        if tag.values:
            fixed[name] = [(v, zh if t.lang == "zh" else en) for v, en, zh in tag.values]
    out = []
    for name, dtype in schema.items():
        if name in HIDDEN_FIELDS:
            continue
        kind = ("number" if dtype.is_numeric() else "date" if dtype.is_temporal()
                else "bool" if dtype.is_boolean() else "text")
        found = TAGS.get(name)
        key = f"aud.field.{name}"
        text = label(found, t.lang) if found else (t(key) if t(key) != key else name)
        out.append({"name": name, "label": text, "kind": kind,
                    "values": [{"value": v, "label": lab} for v, lab in fixed.get(name, [])]})
    return out


def _filter_text(t: Translator, f: Any, fields: dict[str, dict]) -> str:
    field = fields.get(f.field, {"label": f.field, "values": []})
    names = {v["value"]: v["label"] for v in field["values"]}

    def show(v: Any) -> str:
        return names.get(v, str(v))

    if f.op in ("is_null", "not_null"):
        return f"{field['label']} {t('aud.op.' + f.op)}"
    if isinstance(f.value, list):
        value = " – ".join(map(show, f.value)) if f.op == "between" else \
            ", ".join(map(show, f.value))
    else:
        value = show(f.value)
    return f"{field['label']} {t('aud.op.' + f.op)} {value}"


@router.get("/audiences", response_class=HTMLResponse)
def audiences_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """Saved audiences (size, share, buyers, net sales, CLV), a size chart, exports and the
    builder."""
    t = translator_for(request, session)
    currency = state.workspace.settings.currency
    try:
        as_of = svc.data_dates(state).default_as_of
    except CustomersError:
        return render(request, "audiences.html", t, session=session,
                      view={"empty": True}, plot_config=PLOT_CONFIG)
    fields = field_choices(t, svc.audience_profile(state, as_of).schema())
    by_name = {f["name"]: f for f in fields}
    rows = []
    for saved in svc.saved_audiences(state, as_of):
        definition = saved.definition
        row: dict[str, Any] = {"name": definition.name, "description": definition.description or "",
               "filters": [_filter_text(t, f, by_name) for f in definition.filters],
               "error": None}
        if saved.result is None:
            row["error"] = t.error(saved.error)
            rows.append(row)
            continue
        s = saved.result.as_dict()
        row.update(
            size=s["size"], size_text=t.count(s["size"]),
            share_text=t.percent(s["share"]) if s["share"] is not None else t("cust.none"),
            buyers_text=t.count(s["buyers"]) if s.get("buyers") is not None else t("cust.none"),
            monetary=s.get("monetary_sum") or 0.0,
            monetary_text=t.currency(s.get("monetary_sum") or 0.0, currency),
            clv_text=t.currency(s["clv_sum"], currency) if s.get("clv_sum") is not None
            else t("cust.none"))
        rows.append(row)
    charts = []
    ok = [r for r in rows if r["error"] is None]
    if ok:
        fig_layout = layout(t("aud.chart_title"), t("aud.customers"), "",
                            height=max(340, 80 + 36 * len(ok)))
        fig_layout["yaxis"].update(autorange="reversed", rangemode="normal", tickformat="")
        fig_layout["margin"]["l"] = 140
        charts.append(Chart("audience-sizes", {"data": [{
            "type": "bar", "orientation": "h", "y": [r["name"] for r in ok],
            "x": [r["size"] for r in ok], "marker": {"color": COLORS[0]},
            "text": [r["size_text"] for r in ok], "textposition": "auto",
            "customdata": [[r["monetary_text"], r["share_text"]] for r in ok],
            "hovertemplate": "%{y}: %{text} (%{customdata[1]})<br>"
                             + t("aud.net_sales") + " %{customdata[0]}<extra></extra>",
        }], "layout": fig_layout}))
    can_edit = session.user.can("analyst")
    builder = {"fields": fields, "ops": [{"value": op, "label": t("aud.op." + op)} for op in OPS],
               "as_of": as_of.isoformat(), "csrf": session.csrf}
    view = {"empty": False, "rows": rows, "can_edit": can_edit, "as_of": t.date(as_of),
            "builder": builder,
            "charts": [{"id": c.id, "figure": c.figure} for c in charts]}
    return render(request, "audiences.html", t, session=session, view=view,
                  plot_config={**PLOT_CONFIG, "locale": t.html_lang})
