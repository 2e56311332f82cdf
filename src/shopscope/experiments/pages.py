"""The experiments pages: the list of saved experiments (``/experiments``), one
experiment's results (``/experiments/{id}``: lift with intervals, SRM status, cumulative lift
over time, the sequential boundary, segments), and the sample-size calculator
(``/experiments/plan``). Everything shown comes from :mod:`shopscope.experiments.service`;
this module parses the forms and draws."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shopscope.errors import ShopscopeError
from shopscope.experiments import service
from shopscope.experiments.analysis import EmptyExperiment, assignment_notes
from shopscope.experiments.registry import ExperimentNotFound
from shopscope.ui.charts import COLORS, PLOT_CONFIG, Chart, json_safe, layout
from shopscope.ui.deps import State
from shopscope.ui.i18n import Translator
from shopscope.ui.pagedeps import PageSession, render, translator_for

router = APIRouter(tags=["pages"], include_in_schema=False)


PLAN_DEFAULTS = {"metric": "proportion", "baseline": "0.05", "sd": "", "mde": "10",
                 "mde_kind": "relative", "alpha": "0.05", "power": "0.8", "variants": "2",
                 "daily_traffic": "2000", "share": "100"}


def _float(params: Mapping[str, str], name: str, problems: list[str], t: Translator
           ) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        problems.append(t("exp.bad_number", field=t("exp.f." + name), value=raw))
        return None


def plan_view(t: Translator, params: Mapping[str, str]) -> tuple[dict, list[Chart], list[str]]:
    problems: list[str] = []
    values = {k: (params.get(k) or v) for k, v in PLAN_DEFAULTS.items()}
    metric = values["metric"] if values["metric"] in ("proportion", "mean") else "proportion"
    relative = values["mde_kind"] != "absolute"
    num = {k: _float(values, k, problems, t) for k in
           ("baseline", "sd", "mde", "alpha", "power", "variants", "daily_traffic", "share")}
    if problems:
        return {"values": values}, [], problems
    # the form asks for percentages: the MDE (unless an absolute mean) and the share
    mde = (num["mde"] or 0) / 100 if relative or metric == "proportion" else num["mde"] or 0
    try:
        plan_params = service.parse_params(
            service.PlanParams, metric=metric, baseline=num["baseline"], sd=num["sd"],
            mde=mde, relative=relative, alpha=num["alpha"] or 0.05,
            power=num["power"] or 0.8, variants=int(num["variants"] or 2),
            alternative="two-sided", daily_traffic=num["daily_traffic"],
            share=(num["share"] or 100) / 100)
        result = service.plan(None, plan_params)
    except ShopscopeError as exc:
        return {"values": values}, [], [exc.message + (f" ({exc.hint})" if exc.hint else "")]
    p = result.plan
    view = {"values": values, "n": t.count(p.n_per_variant), "total": t.count(p.total),
            "days": t.count(result.days) if result.days is not None else None,
            "alpha_each": t.number(p.alpha_per_comparison, 4),
            "variants": p.variants}
    charts = []
    if result.tradeoff:
        rows = result.tradeoff
        rel = [r.mde_rel for r in rows]
        use_rel = all(v is not None for v in rel)
        y = rel if use_rel else [r.mde_abs for r in rows]
        lay = layout(t("exp.tradeoff_title"), t("exp.days"),
                     t("exp.detectable_rel") if use_rel else t("exp.detectable_abs"),
                     y_format=".1%" if use_rel else ",.2f")
        lay["xaxis"]["tickvals"] = [r.days for r in rows]
        charts.append(Chart("chart-tradeoff", {"data": [{
            "type": "scatter", "mode": "lines+markers", "x": [r.days for r in rows],
            "y": y, "name": t("exp.detectable_rel"), "marker": {"color": COLORS[0]},
            "customdata": [t.count(r.n_per_variant) for r in rows],
            "hovertemplate": "%{x} " + t("exp.days") + ": %{y:.2%} (n = %{customdata})"
                             "<extra></extra>"}], "layout": lay}))
    return view, charts, []


@router.get("/experiments/plan", response_class=HTMLResponse)
def plan_page(request: Request, session: PageSession) -> HTMLResponse:
    """Sample size, duration and the detectable effect by duration."""
    t = translator_for(request, session)
    view, charts, messages = plan_view(t, request.query_params)
    return render(request, "experiment_plan.html", t, session=session, view=view,
                  messages=messages, charts=[{"id": c.id, "figure": c.figure} for c in charts],
                  plot_config={**PLOT_CONFIG, "locale": t.html_lang})



# -- saved experiments ----------------------------------------------------------------------
def _headline(t: Translator, result: Any) -> dict:
    """The first metric's first treatment: lift, interval, p-value, chance to win."""
    c = result.comparisons[0] if result.comparisons else None
    bayes = next((b for b in result.bayes if c and b.metric == c.metric
                  and b.variant == c.variant), None)
    if c is None:
        return {}
    return {"metric": c.metric, "variant": c.variant, "lift": _lift(t, c),
            "p": t.number(c.adjusted_p_value if c.adjusted_p_value is not None else c.p_value, 3),
            "win": t.percent(bayes.result.chance_to_win) if bayes else "–",
            "significant": c.error is None and (c.adjusted_p_value or c.p_value) < 0.05}


def _lift(t: Translator, c: Any) -> str:
    if c.rel_lift is not None and c.rel_ci is not None:
        return f"{t.percent(c.rel_lift)} [{t.percent(c.rel_ci[0])}, {t.percent(c.rel_ci[1])}]"
    return f"{t.number(c.abs_lift, 4)} [{t.number(c.abs_ci[0], 4)}, {t.number(c.abs_ci[1], 4)}]"


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(request: Request, state: State, session: PageSession) -> HTMLResponse:
    """Saved experiments with their headline result and split check."""
    t = translator_for(request, session)
    rows = []
    for item in service.overview(state):
        d, r = item.definition, item.result
        row: dict[str, Any] = {"id": d.experiment_id, "name": d.name or d.experiment_id,
               "window": f"{t.date(d.start)} – {t.date(d.end)}",
               "variants": ", ".join(d.variants), "error": item.error}
        if r is not None:
            row.update(srm=r.srm.mismatch, units=t.count(sum(r.counts.values())),
                       **_headline(t, r))
        rows.append(row)
    return render(request, "experiments.html", t, session=session, rows=rows)


def forest_chart(t: Translator, comparisons: list[Any], title: str) -> Chart:
    """Each metric × variant's lift with its interval (relative when defined)."""
    labels, x, lo, hi, text = [], [], [], [], []
    for c in comparisons:
        if c.error is not None:
            continue
        rel = c.rel_lift is not None and c.rel_ci is not None
        value, (a, b) = (c.rel_lift, c.rel_ci) if rel else (c.abs_lift, c.abs_ci)
        labels.append(f"{c.metric} · {c.variant}")
        x.append(value)
        lo.append(value - a)
        hi.append(b - value)
        text.append(_lift(t, c))
    lay = layout(title, t("exp.rel_lift"), "", y_format="", height=max(260, 90 + 46 * len(x)))
    lay["xaxis"].update(tickformat=".0%", zeroline=True, zerolinecolor="#9ca3af",
                        zerolinewidth=2)
    lay["yaxis"].update(autorange="reversed", type="category", rangemode="normal")
    lay["margin"]["l"] = 170
    return Chart("chart-forest", {"data": [{
        "type": "scatter", "mode": "markers", "x": x, "y": labels,
        "error_x": {"type": "data", "symmetric": False, "array": hi, "arrayminus": lo,
                    "color": COLORS[0], "thickness": 2},
        "marker": {"color": COLORS[0], "size": 10}, "customdata": text,
        "hovertemplate": "%{y}: %{customdata}<extra></extra>"}], "layout": lay})


def cumulative_chart(t: Translator, daily: Any, metric: str, variant: str,
                     sequential: bool) -> Chart | None:
    part = daily[(daily.metric == metric) & (daily.variant == variant)].sort_values("day")
    if part.empty:
        return None
    days = [str(pd.Timestamp(d).date()) for d in part.day]
    data = [
        {"type": "scatter", "mode": "lines", "x": days, "y": part.ci_high.tolist(),
         "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"},
        {"type": "scatter", "mode": "lines", "x": days, "y": part.ci_low.tolist(),
         "fill": "tonexty", "fillcolor": "rgba(37,99,235,0.15)", "line": {"width": 0},
         "name": t("exp.ci_fixed")},
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": part.abs_lift.tolist(),
         "name": t("exp.abs_lift"), "line": {"color": COLORS[0], "width": 2}},
    ]
    if sequential and "cs_low" in part:
        data += [{"type": "scatter", "mode": "lines", "x": days, "y": col.tolist(),
                  "name": t("exp.confidence_sequence") if i == 0 else None,
                  "showlegend": i == 0, "line": {"color": COLORS[1], "dash": "dash"}}
                 for i, col in enumerate((part.cs_low, part.cs_high))]
    lay = layout(t("exp.cumulative_title", metric=metric, variant=variant), "",
                 t("exp.abs_lift"), y_format="")
    lay["yaxis"].update(rangemode="normal", zeroline=True, zerolinecolor="#9ca3af")
    return Chart(f"chart-cumulative-{metric}", {"data": data, "layout": lay})


def sequential_chart(t: Translator, daily: Any, metric: str, variant: str, alpha: float
                     ) -> Chart | None:
    part = daily[(daily.metric == metric) & (daily.variant == variant)].sort_values("day")
    if part.empty or "always_valid_p" not in part or part.always_valid_p.isna().all():
        return None
    days = [str(pd.Timestamp(d).date()) for d in part.day]
    lay = layout(t("exp.sequential_title", metric=metric), "", t("exp.always_valid_p"),
                 y_format=".2f")
    lay["yaxis"].update(range=[0, 1])
    return Chart(f"chart-sequential-{metric}", {"data": [
        {"type": "scatter", "mode": "lines+markers", "x": days,
         "y": part.always_valid_p.tolist(), "name": t("exp.always_valid_p"),
         "line": {"color": COLORS[3], "width": 2}},
        {"type": "scatter", "mode": "lines", "x": [days[0], days[-1]], "y": [alpha, alpha],
         "name": t("exp.boundary", alpha=alpha), "line": {"color": COLORS[4], "dash": "dot"}},
    ], "layout": lay})


def boundary_chart(t: Translator, daily: Any, metric: str, variant: str
                   ) -> Chart | None:
    """The group-sequential z statistic day by day against its alpha-spending boundary."""
    part = daily[(daily.metric == metric) & (daily.variant == variant)].sort_values("day")
    if part.empty or "gs_z" not in part or part.gs_z.isna().all():
        return None
    days = [str(pd.Timestamp(d).date()) for d in part.day]
    bound = [b if b == b and b != float("inf") else None for b in part.gs_boundary]
    lay = layout(t("exp.gs_title", metric=metric), "", "z", y_format=".1f")
    lay["yaxis"].update(rangemode="normal", zeroline=True, zerolinecolor="#9ca3af")
    return Chart(f"chart-boundary-{metric}", {"data": [
        {"type": "scatter", "mode": "lines+markers", "x": days, "y": part.gs_z.tolist(),
         "name": "z", "line": {"color": COLORS[0], "width": 2}},
        {"type": "scatter", "mode": "lines", "x": days, "y": bound,
         "name": t("exp.gs_boundary"), "line": {"color": COLORS[4], "dash": "dot"}},
        {"type": "scatter", "mode": "lines", "x": days,
         "y": [None if b is None else -b for b in bound], "showlegend": False,
         "line": {"color": COLORS[4], "dash": "dot"}, "hoverinfo": "skip"},
    ], "layout": lay})


def _assignment_view(t: Translator, rep: Mapping[str, Any], d: Any) -> list[dict]:
    """Repeated and multi-arm units as translated notes, with a link to the other policy."""
    out = []
    if rep.get("multi_arm_units"):
        other = "first" if d.multi_arm == "exclude" else "exclude"
        out.append({"id": "multi-arm", "alert": True,
                    "text": t("exp.multi_arm." + d.multi_arm, n=t.count(rep["multi_arm_units"]))
                    + " " + t("exp.multi_arm.why"),
                    "link": f"?multi_arm={other}", "link_text": t("exp.multi_arm.show_" + other)})
    if rep.get("repeated_rows"):
        text = t("exp.repeated_rows", n=t.count(rep["repeated_rows"]), rows=t.count(rep["rows"]))
        if rep.get("set_aside_at_ingest"):
            text += " " + t("exp.repeated_ingest", n=t.count(rep["set_aside_at_ingest"]))
        out.append({"id": "repeated", "alert": False, "text": text})
    return out


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
def experiment_page(experiment_id: str, request: Request, state: State,
                    session: PageSession) -> HTMLResponse:
    """One experiment: SRM status, lift with intervals, Bayesian chance to win, CUPED,
    cumulative lift and the sequential boundary over time, exploratory segments."""
    t = translator_for(request, session)
    policy = request.query_params.get("multi_arm")  # another value: the definition's own
    multi_arm: Literal["exclude", "first"] | None = (
        "exclude" if policy == "exclude" else "first" if policy == "first" else None)
    params = service.AnalyzeParams(experiment_id=experiment_id, multi_arm=multi_arm)
    try:
        d = service.show(state, service.ExperimentRef(experiment_id=experiment_id))
    except ExperimentNotFound:
        return render(request, "error.html", t, session=session, status_code=404,
                      title=t("exp.not_found_title"),
                      message=t("exp.not_found", id=experiment_id))
    try:
        r = service.analyze(state, params)
    except ShopscopeError as exc:
        error = exc.message + (f" ({exc.hint})" if exc.hint else "")
        if isinstance(exc, EmptyExperiment):
            error = f"{t('exp.no_units', id=d.experiment_id)} {error}"
        return render(request, "experiment.html", t, session=session, d=d, error=error,
                      view={}, charts=[], plot_config=PLOT_CONFIG,
                      status_code=422 if isinstance(exc, EmptyExperiment) else 200)
    d = r.definition  # with the policy asked for
    bayes = {(b.metric, b.variant): b.result for b in r.bayes}
    cuped = {(c.metric, c.variant): c for c in r.cuped}
    rates = {m.name for m in d.metrics if m.kind == "binary"}

    def value(metric: str, v: float) -> str:  # rates read as percentages: 12.34%
        return t.percent(v, 2) if metric in rates else t.number(v, 4)

    rows = []
    for c in r.comparisons:
        b = bayes.get((c.metric, c.variant))
        cu = cuped.get((c.metric, c.variant))
        p = c.adjusted_p_value if c.adjusted_p_value is not None else c.p_value
        rows.append({
            "metric": c.metric, "variant": c.variant,
            "control": value(c.metric, c.control_value),
            "value": value(c.metric, c.variant_value),
            "lift": _lift(t, c) if c.error is None else t("exp.error." + c.error),
            "p": t.number(p, 4), "significant": c.error is None and p < d.alpha,
            "win": t.percent(b.chance_to_win) if b and b.error is None else "–",
            "loss": t.number(b.expected_loss, 5) if b and b.error is None else "–",
            "cuped": _lift(t, cu) if cu is not None and cu.error is None else None,
            "reduction": t.percent(cu.extra.get("variance_reduction"))
            if cu is not None and cu.error is None else None})
    segments = [{"segment": s.segment, "value": s.segment_value,
                 "metric": s.comparison.metric, "variant": s.comparison.variant,
                 "lift": _lift(t, s.comparison) if s.comparison.error is None
                 else t("exp.error." + s.comparison.error),
                 "p": t.number(s.comparison.p_value, 3)} for s in r.segments]
    charts = [forest_chart(t, list(r.comparisons), t("exp.forest_title"))]
    first_variant = d.variants[1]
    for m in d.metrics:
        chart = cumulative_chart(t, r.daily, m.name, first_variant, d.sequential)
        if chart:
            charts.append(chart)
        if d.sequential:
            chart = sequential_chart(t, r.daily, m.name, first_variant, d.alpha)
            if chart:
                charts.append(chart)
        if d.planned_units_per_arm:
            chart = boundary_chart(t, r.daily, m.name, first_variant)
            if chart:
                charts.append(chart)
    view = {"rows": rows, "segments": segments, "srm": r.srm,
            "assignment": _assignment_view(t, r.assignment, d),
            # the assignment notes are shown translated, above the results
            "warnings": [w for w in r.warnings if w not in assignment_notes(r.assignment, d)],
            "counts": [(v, t.count(n)) for v, n in r.counts.items()],
            "data_version": r.data_version, "cuped": bool(r.cuped)}
    return render(request, "experiment.html", t, session=session, d=d, error=None, view=view,
                  charts=json_safe([{"id": c.id, "figure": c.figure} for c in charts]),
                  plot_config={**PLOT_CONFIG, "locale": t.html_lang})
