"""Forecasts of demand series with statsforecast, the model chosen per demand class.

Each Syntetos-Boylan class has a candidate set (:data:`CANDIDATES`; seasonal naive is in
every set as the floor). The candidates are compared by rolling-origin cross-validation
(``StatsForecast.cross_validation``: ``windows`` origins ``h`` periods apart, each
forecasting ``h`` periods) on MASE, the mean absolute error over the windows scaled by the
in-sample seasonal naive MAE of the history before the first origin; a class takes the
candidate with the lowest mean MASE over its series (series whose scale is 0 are left out
of the mean; ties go to the earlier candidate). The models are statsforecast's, not
re-implemented here.

Prediction intervals: model-based for AutoETS and seasonal naive, conformal
(``ConformalIntervals``) for the intermittent-demand models, which have none of their
own. Forecasts and bounds are demand, so they are clipped at 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Candidate models per demand class, the first the preferred one on a tie.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "smooth": ("AutoETS", "SeasonalNaive"),
    "erratic": ("AutoETS", "SeasonalNaive"),
    "intermittent": ("CrostonOptimized", "TSB", "ADIDA", "IMAPA", "SeasonalNaive"),
    "lumpy": ("CrostonOptimized", "TSB", "ADIDA", "IMAPA", "SeasonalNaive"),
}
NAIVE = "SeasonalNaive"
#: TSB's smoothing of demand size and probability (statsforecast needs them given).
TSB_ALPHA = (0.1, 0.1)
_FREQ = {"day": "D", "week": "W-MON"}


def season_length(grain: str, periods: int, h: int, windows: int) -> int:
    """7 for days; 52 for weeks when two years precede the first origin, else 1."""
    if grain == "day":
        return 7
    return 52 if periods - h * windows >= 104 else 1


def min_periods(season: int, h: int, windows: int) -> int:
    """Periods a series needs for the cross-validation: two seasons (at least 14) of
    history before the first origin, then ``windows`` forecasts of ``h``."""
    return max(2 * season, 14) + h * windows


def model(name: str, season: int, conformal: tuple[int, int] | None = None):
    """A statsforecast model by name (``conformal``: ``(h, windows)`` of its intervals)."""
    from statsforecast import models as m
    from statsforecast.utils import ConformalIntervals

    intervals = None if conformal is None else ConformalIntervals(
        h=conformal[0], n_windows=conformal[1])
    if name == "AutoETS":
        return m.AutoETS(season_length=season)
    if name == "SeasonalNaive":
        return m.SeasonalNaive(season_length=season)
    if name == "CrostonOptimized":
        return m.CrostonOptimized(prediction_intervals=intervals)
    if name == "TSB":
        return m.TSB(alpha_d=TSB_ALPHA[0], alpha_p=TSB_ALPHA[1], prediction_intervals=intervals)
    if name == "ADIDA":
        return m.ADIDA(prediction_intervals=intervals)
    if name == "IMAPA":
        return m.IMAPA(prediction_intervals=intervals)
    raise ValueError(f"unknown model {name!r}")


def _sf(names: tuple[str, ...], season: int, grain: str, conformal=None):
    from statsforecast import StatsForecast

    return StatsForecast(models=[model(n, season, conformal) for n in names],
                         freq=_FREQ[grain], n_jobs=1)


def cross_validate(panel: pd.DataFrame, names: tuple[str, ...], season: int, grain: str,
                   h: int, windows: int) -> pd.DataFrame:
    """statsforecast's rolling-origin cross-validation of ``names`` on ``panel``
    (``unique_id, ds, y``): one row per series, origin (``cutoff``) and day forecast."""
    return _sf(names, season, grain).cross_validation(
        df=panel, h=h, n_windows=windows, step_size=h)


def scale(panel: pd.DataFrame, first_cutoff: pd.Series, season: int) -> pd.Series:
    """Per series: the in-sample seasonal naive MAE of the history up to the first origin
    (the MASE denominator)."""
    out = {}
    for uid, g in panel.groupby("unique_id", sort=False):
        y = g.loc[g["ds"] <= first_cutoff[uid], "y"].to_numpy(dtype="float64")
        out[uid] = float(np.mean(np.abs(y[season:] - y[:-season]))) if len(y) > season \
            else float("nan")
    return pd.Series(out, dtype="float64")


def scores(cv: pd.DataFrame, panel: pd.DataFrame, names: tuple[str, ...],
           season: int) -> pd.DataFrame:
    """One row per series and model: ``mae``, ``mse``, the scales, ``mase``, ``rmsse``
    and the sums WAPE and bias are built from (``abs_error``, ``error``, ``actual``)."""
    first = cv.groupby("unique_id")["cutoff"].min()
    mae_scale = scale(panel, first, season)
    sq = {}
    for uid, g in panel.groupby("unique_id", sort=False):
        y = g.loc[g["ds"] <= first[uid], "y"].to_numpy(dtype="float64")
        sq[uid] = float(np.mean((y[season:] - y[:-season]) ** 2)) if len(y) > season \
            else float("nan")
    mse_scale = pd.Series(sq, dtype="float64")
    rows = []
    for name in names:
        e = cv[name].clip(lower=0).to_numpy(dtype="float64") - cv["y"].to_numpy(
            dtype="float64")
        f = pd.DataFrame({"unique_id": cv["unique_id"].to_numpy(), "e": e,
                          "a": np.abs(e), "s": e * e, "y": cv["y"].to_numpy()})
        g = f.groupby("unique_id").agg(mae=("a", "mean"), mse=("s", "mean"),
                                       abs_error=("a", "sum"), error=("e", "sum"),
                                       actual=("y", "sum"))
        g["model"] = name
        rows.append(g)
    out = pd.concat(rows).reset_index()
    sc = out["unique_id"].map(mae_scale)
    sq2 = out["unique_id"].map(mse_scale)
    out["mase"] = np.where(sc > 0, out["mae"] / sc, np.nan)
    out["rmsse"] = np.where(sq2 > 0, np.sqrt(out["mse"] / sq2), np.nan)
    return out


def choose(scored: pd.DataFrame, names: tuple[str, ...]) -> str:
    """The candidate with the lowest mean MASE (NaN MASE left out; the first on a tie, and
    the first when no series has a scale)."""
    means = scored.groupby("model")["mase"].mean()
    best, value = names[0], float("inf")
    for n in names:
        v = float(means.get(n, float("nan")))
        if np.isfinite(v) and v < value - 1e-12:
            best, value = n, v
    return best


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Backtest per model: mean MASE and RMSSE over the series, WAPE = Σ|e| / Σ y, bias =
    Σ e / Σ y (e = forecast - actual), and the series counted."""
    g = scored.groupby("model").agg(series=("unique_id", "nunique"), mase=("mase", "mean"),
                                    rmsse=("rmsse", "mean"), abs_error=("abs_error", "sum"),
                                    error=("error", "sum"), actual=("actual", "sum"))
    g["wape"] = np.where(g["actual"] > 0, g["abs_error"] / g["actual"], np.nan)
    g["bias"] = np.where(g["actual"] > 0, g["error"] / g["actual"], np.nan)
    return g.drop(columns=["abs_error", "error", "actual"]).reset_index()


def predict(panel: pd.DataFrame, name: str, season: int, grain: str, h: int,
            level: int) -> pd.DataFrame:
    """Forecast ``h`` periods with model ``name``: ``unique_id, ds, forecast, lo, hi``
    (the ``level``% interval), clipped at 0."""
    conformal = None if name in ("AutoETS", NAIVE) else (h, 2)
    fc = _sf((name,), season, grain, conformal).forecast(df=panel, h=h, level=[level])
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    return pd.DataFrame({
        "unique_id": fc["unique_id"].to_numpy(), "ds": fc["ds"].to_numpy(),
        "forecast": fc[name].clip(lower=0).to_numpy(dtype="float64"),
        "lo": fc[f"{name}-lo-{level}"].clip(lower=0).to_numpy(dtype="float64"),
        "hi": fc[f"{name}-hi-{level}"].clip(lower=0).to_numpy(dtype="float64")})
