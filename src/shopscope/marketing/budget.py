"""The budget view's arithmetic: return on spend per channel and period, the marginal ROAS
from the recent trend, and a plain recommendation. Pure functions on small frames (periods x
channels); the service (:mod:`shopscope.marketing.service_budget`) gathers the inputs.

Marginal ROAS is the least-squares slope of a channel's per-period return on its per-period
spend over the last ``window`` periods of the range (``return = a + b * spend``; ``b`` is
the extra return of one more unit of spend). It assumes the response is linear over the
spend levels seen, no carry-over between periods, and that nothing else moved spend and
return together (seasonality, a promotion): it is a trend, not an experiment. With fewer
than :data:`MIN_PERIODS` periods or spend that did not vary it is None, with the reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Fewest periods a slope is fitted on (two points always fit a line exactly).
MIN_PERIODS = 3
#: Reasons a marginal ROAS is missing (codes, so every interface can word them).
TOO_FEW = "too_few_periods"
CONSTANT = "spend_constant"
NO_SPEND = "no_spend"


def ratio(num: float, den: float) -> float | None:
    """num / den; None when the denominator is 0 (undefined, not zero)."""
    return num / den if den else None


def marginal_roas(spend: np.ndarray | list[float],
                  ret: np.ndarray | list[float]) -> tuple[float | None, str | None]:
    """Least-squares slope of ``ret`` on ``spend`` and why it is missing (None, reason)."""
    x = np.asarray(spend, dtype=float)
    y = np.asarray(ret, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) and not np.any(x > 0):
        return None, NO_SPEND
    if len(x) < MIN_PERIODS:
        return None, TOO_FEW
    dx = x - x.mean()
    sxx = float(dx @ dx)
    # relative tolerance: spend summed from float cents differs in the last bits
    if sxx <= (1e-9 * max(1.0, float(np.abs(x).max()))) ** 2 * len(x):
        return None, CONSTANT
    return float(dx @ (y - y.mean()) / sxx), None


def rows(spend: pd.DataFrame, attributed: pd.DataFrame | None) -> pd.DataFrame:
    """One row per period and channel: ``spend``, ``last_touch`` (return of the orders
    whose touch is the channel), ``attributed`` (the model's credited value, NaN when
    there are no journeys) and the ROAS of each (NaN without spend).

    ``spend``: ``period, channel, spend, last_touch``; ``attributed``: ``period, channel,
    attributed`` (None: no attribution at all). A channel missing from one side gets 0
    there (a period with journeys but no credit for the channel: 0, not unknown)."""
    out = spend[["period", "channel", "spend", "last_touch"]]
    if attributed is not None:
        out = out.merge(attributed[["period", "channel", "attributed"]], how="outer",
                        on=["period", "channel"])
        has = set(attributed["period"])
        out["attributed"] = [a if not pd.isna(a) else (0.0 if p in has else math.nan)
                             for p, a in zip(out["period"], out["attributed"], strict=True)]
    else:
        out = out.assign(attributed=math.nan)
    out["spend"] = out["spend"].fillna(0.0)
    out["last_touch"] = out["last_touch"].fillna(0.0)
    den = out["spend"].where(out["spend"] != 0)
    out["roas_last_touch"] = out["last_touch"] / den
    out["roas_attributed"] = out["attributed"] / den
    return out.sort_values(["period", "channel"], kind="stable").reset_index(drop=True)


def channels(frame: pd.DataFrame, window: int, basis: str,
             periods: list | None = None) -> pd.DataFrame:
    """One row per channel over the whole range: totals, their ROAS, and the marginal ROAS
    of ``basis`` (``attributed`` or ``last_touch``) on spend over the last ``window``
    periods (every period of the range counts, a period without a row as 0 spend and 0
    return), with ``marginal_reason`` when it is None."""
    periods = sorted(periods if periods is not None else set(frame["period"]))[-window:]
    # a period with journeys credits a channel absent from it 0; one without: unknown
    known = frame.groupby("period")["attributed"].apply(lambda s: s.notna().any())
    any_known = bool(known.any())
    out = []
    for name, g in frame.groupby("channel", sort=True):
        recent = g.set_index("period").reindex(periods)
        ret = recent[basis].to_numpy(dtype=float)
        fill = np.array([basis == "last_touch" or bool(known.get(p, any_known))
                         for p in periods])
        ret = np.where(np.isnan(ret) & fill, 0.0, ret)
        slope, why = marginal_roas(recent["spend"].fillna(0.0).to_numpy(), ret)
        spent = float(g["spend"].sum())
        att = float(g["attributed"].sum()) if g["attributed"].notna().any() else math.nan
        out.append({"channel": name, "spend": spent, "last_touch": float(g["last_touch"].sum()),
                    "attributed": att,
                    "roas_last_touch": ratio(float(g["last_touch"].sum()), spent),
                    "roas_attributed": ratio(att, spent) if not math.isnan(att) else None,
                    "marginal_roas": slope, "marginal_reason": why})
    return pd.DataFrame(out, columns=["channel", "spend", "last_touch", "attributed",
                                      "roas_last_touch", "roas_attributed", "marginal_roas",
                                      "marginal_reason"])


def recommend(marginal: dict[str, float | None]) -> dict[str, str | None]:
    """``increase`` for the channel with the highest marginal ROAS, ``decrease`` for the
    lowest, when at least two channels have one and they differ; None elsewhere. Moving
    budget from the lowest to the highest is what the trend suggests, no more."""
    known = {c: m for c, m in marginal.items() if m is not None and math.isfinite(m)}
    out: dict[str, str | None] = dict.fromkeys(marginal)
    if len(known) < 2:
        return out
    hi = max(known, key=lambda c: (known[c], c))
    lo = min(known, key=lambda c: (known[c], c))
    if known[hi] > known[lo]:
        out[hi], out[lo] = "increase", "decrease"
    return out
