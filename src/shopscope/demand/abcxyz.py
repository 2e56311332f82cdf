"""ABC, XYZ and Syntetos-Boylan classes of demand series, from their per-series statistics
(:func:`shopscope.demand.series.series_stats`, computed in the engine).

* **ABC** by revenue (net sales): series ranked by revenue, highest first; a series is A
  while the revenue share of the series ranked above it is below ``a`` (so the series that
  crosses the line is still A), B while it is below ``a + b``, else C. A series with no
  positive revenue is C.
* **XYZ** by the coefficient of variation of demand per period, ``CV = σ / μ`` (population
  σ over the periods that are not censored): X when CV ≤ ``x``, Y when CV ≤ ``y``, else Z;
  a series without demand is Z.
* **Syntetos-Boylan** (2005): ``ADI`` = periods / periods with demand (the average
  interval between demands), ``CV²`` = (σ / μ)² of the non-zero demand sizes. smooth:
  ADI < 1.32 and CV² < 0.49; erratic: ADI < 1.32, CV² ≥ 0.49; intermittent: ADI ≥ 1.32,
  CV² < 0.49; lumpy: both at or over. A series without demand is ``no_demand``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ADI_CUT = 1.32
CV2_CUT = 0.49
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy", "no_demand")
ABC = ("A", "B", "C")
XYZ = ("X", "Y", "Z")


def abc(revenue: pd.Series, a: float = 0.80, b: float = 0.15) -> pd.Series:
    """The ABC class of each series by its revenue (index kept)."""
    if not (0 < a <= 1 and 0 <= b <= 1 - a):
        raise ValueError(f"ABC thresholds a={a}, b={b}: need 0 < a ≤ 1 and 0 ≤ b ≤ 1 - a")
    rev = revenue.astype("float64").fillna(0.0)
    # a stable order: revenue down, then the index (ties keep one class per rank)
    order = sorted(rev.index, key=lambda k: (-rev[k], str(k)))
    ranked = rev.loc[order]
    positive = ranked.clip(lower=0.0)
    total = float(positive.sum())
    out = pd.Series("C", index=rev.index, dtype="object")
    if total <= 0:
        return out
    before = (positive.cumsum() - positive) / total
    cls = np.where(before < a - 1e-12, "A", np.where(before < a + b - 1e-12, "B", "C"))
    cls = np.where(ranked.to_numpy() > 0, cls, "C")
    out.loc[order] = cls
    return out


def xyz(cv: pd.Series, x: float = 0.5, y: float = 1.0) -> pd.Series:
    """The XYZ class of each coefficient of variation (NaN: no demand → Z)."""
    if not 0 <= x <= y:
        raise ValueError(f"XYZ thresholds x={x}, y={y}: need 0 ≤ x ≤ y")
    v = cv.astype("float64")
    return pd.Series(np.where(v <= x, "X", np.where(v <= y, "Y", "Z")), index=cv.index,
                     dtype="object")


def pattern(adi: pd.Series, cv2: pd.Series, adi_cut: float = ADI_CUT,
            cv2_cut: float = CV2_CUT) -> pd.Series:
    """The Syntetos-Boylan quadrant of each series (NaN ADI: no demand)."""
    a = adi.astype("float64").to_numpy()
    c = cv2.astype("float64").fillna(0.0).to_numpy()
    short = a < adi_cut
    steady = c < cv2_cut
    out = np.where(short, np.where(steady, "smooth", "erratic"),
                   np.where(steady, "intermittent", "lumpy"))
    return pd.Series(np.where(np.isnan(a), "no_demand", out), index=adi.index, dtype="object")


def classify(stats: pd.DataFrame, a: float = 0.80, b: float = 0.15, x: float = 0.5,
             y: float = 1.0) -> pd.DataFrame:
    """``stats`` (one row per series: periods, mean, std, nonzero, size_mean, size_std,
    revenue) with ``cv``, ``adi``, ``cv2``, ``abc``, ``xyz`` and ``pattern`` added."""
    out = stats.copy()
    mean = out["mean"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cv"] = np.where(mean > 0, out["std"].astype("float64") / mean, np.nan)
        nz = out["nonzero"].astype("float64")
        out["adi"] = np.where(nz > 0, out["periods"].astype("float64") / nz, np.nan)
        sm = out["size_mean"].astype("float64")
        out["cv2"] = np.where(sm > 0, (out["size_std"].astype("float64") / sm) ** 2, np.nan)
    out["abc"] = abc(out["revenue"], a, b)
    out["xyz"] = xyz(out["cv"], x, y)
    out["pattern"] = pattern(out["adi"], out["cv2"])
    return out


def matrix(classes: pd.DataFrame) -> pd.DataFrame:
    """The ABC-XYZ matrix: one row per ABC × XYZ cell (all nine, empty ones zero) with the
    ``series`` count and their ``revenue``; the cells add up to the totals."""
    full = pd.MultiIndex.from_product([ABC, XYZ], names=["abc", "xyz"])
    g = classes.groupby(["abc", "xyz"]).agg(series=("revenue", "size"),
                                             revenue=("revenue", "sum"))
    g = g.reindex(full, fill_value=0)
    g["series"] = g["series"].astype("int64")
    g["revenue"] = g["revenue"].astype("float64")
    return g.reset_index()
