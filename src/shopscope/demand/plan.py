"""The replenishment plan: per SKU, stock, demand, policy levels and what to order by when.

Pure pandas over three inputs the service gathers: the latest stock count per SKU
(:func:`stock_rows`), demand statistics per SKU (mean and σ of daily demand, from history
or a forecast) and an optional policy file (:func:`load_policy`). Formulas (``d`` mean
daily demand, ``σ`` its standard deviation, ``L`` lead time, ``R`` review period, days):

* continuous review, (s, Q), checked once a day: the position crosses ``s`` by an
  undershoot ``U`` (the last day's demand beyond ``s``): ``E[U] = (σ² + d²) / 2d``,
  ``Var U = (d² + 3σ²) / 3 − E[U]²`` (renewal approximation, normal daily demand);
  ``σ_L = √(L σ² + Var U)``, ``SS = z σ_L``, ``s = d L + E[U] + SS``; ``Q`` = EOQ
  ``√(2 · 365 d · S / (h · cost))``; an order tops the position up to ``s + Q``;
* periodic review, (R, S): ``σ_L = σ √(R + L)``, ``SS = z σ_L``, ``S = d (R + L) + SS``; at a
  review a SKU below ``S`` orders ``S − position``; its "Q" is ``d R``;
* ``z = Φ⁻¹(CSL)``; implied fill rate ``1 − σ_L G(z) / Q``, ``G(z) = φ(z) − z (1 − Φ(z))``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import tomllib
from pathlib import Path

import pandas as pd
from scipy.stats import norm

from shopscope.demand import policy as pol
from shopscope.errors import OptionError

#: What a policy file may set per SKU or category, and the check of each value.
POLICY_FIELDS = ("lead_time_days", "moq", "pack", "order_cost", "holding_rate")


def _field_value(value: object, field: str, where: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < 0 or (field == "pack" and v == 0):
        need = "> 0" if field == "pack" else "≥ 0"
        raise OptionError(f"{where}: {field} = {value!r} is not a number {need}",
                          hint="fix the policy file")
    return v


def load_policy(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """A policy file as ``{"default": {field: v}, "sku": {id: {...}}, "category": {...}}``.

    TOML: a ``[default]`` table, ``[sku."ID"]`` and ``[category."NAME"]`` tables. CSV: a
    column ``sku`` or ``category`` (one of them filled per row; both empty: the default)
    and any of :data:`POLICY_FIELDS`; empty cells are not set."""
    out: dict[str, dict[str, dict[str, float]]] = {"default": {}, "sku": {}, "category": {}}
    if not path.is_file():
        raise OptionError(f"policy file {path} not found", hint="give a .toml or .csv file")
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise OptionError(f"{path}: not valid TOML ({exc})", hint="fix the file") from None
        unknown = set(data) - {"default", "sku", "category"}
        if unknown:
            raise OptionError(f"{path}: unknown table {sorted(unknown)[0]!r}",
                              hint="use [default], [sku.\"ID\"] and [category.\"NAME\"]")
        entries = [("default", "", data.get("default", {}))]
        for kind in ("sku", "category"):
            entries += [(kind, str(k), v) for k, v in data.get(kind, {}).items()]
    elif path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        entries = []
        for i, row in enumerate(rows, start=2):
            sku, cat = (row.pop("sku", "") or "").strip(), (row.pop("category", "") or "").strip()
            if sku and cat:
                raise OptionError(f"{path} line {i}: both sku and category are set",
                                  hint="one row per SKU or per category")
            kind, key = ("sku", sku) if sku else ("category", cat) if cat else ("default", "")
            entries.append((kind, key, {k: v for k, v in row.items() if v not in ("", None)}))
    else:
        raise OptionError(f"policy file {path}: unknown kind {path.suffix!r}",
                          hint="use a .toml or .csv file")
    for kind, key, values in entries:
        where = f"{path} [{kind}{' ' + key if key else ''}]"
        if not isinstance(values, dict):
            raise OptionError(f"{where}: not a table of values", hint="fix the policy file")
        bad = set(values) - set(POLICY_FIELDS)
        if bad:
            raise OptionError(f"{where}: unknown field {sorted(bad)[0]!r}",
                              hint=f"fields: {', '.join(POLICY_FIELDS)}")
        checked = {f: _field_value(v, f, where) for f, v in values.items()}
        if kind == "default":
            out["default"].update(checked)
        else:
            out[kind].setdefault(key, {}).update(checked)
    return out


def _lookup(policy: dict, sku: str, category: str, field: str) -> tuple[float | None, str]:
    for kind, key in (("sku", sku), ("category", category)):
        v = policy.get(kind, {}).get(key, {}).get(field)
        if v is not None:
            return v, f"policy {kind}"
    v = policy.get("default", {}).get(field)
    return (v, "policy default") if v is not None else (None, "")


def undershoot(d: float, sigma: float) -> tuple[float, float]:
    """Mean and variance of how far a daily-checked position falls below the reorder
    point (renewal approximation for normal daily demand); 0, 0 without demand."""
    if d <= 0:
        return 0.0, 0.0
    mean = (sigma * sigma + d * d) / (2 * d)
    var = (d * d + 3 * sigma * sigma) / 3 - mean * mean
    return mean, max(var, 0.0)


def loss_g(z: float) -> float:
    """The standard normal loss function ``G(z) = φ(z) − z (1 − Φ(z))``."""
    return float(norm.pdf(z) - z * norm.sf(z))


def levels(d: float, sigma: float, lead: float, z: float, review: int, lot: float) -> dict:
    """Safety stock, reorder point, order-up-to level, the lot ``Q`` and the implied fill
    rate for one SKU (see the module's formulas); ``lot``: Q of a continuous review."""
    if review == 0:
        u_mean, u_var = undershoot(d, sigma)
        sigma_l = math.sqrt(lead * sigma * sigma + u_var)
        ss = z * sigma_l
        rop = pol.reorder_point(d, lead, ss + u_mean)
        q = lot
        target = rop + q
    else:
        sigma_l = sigma * math.sqrt(review + lead)
        ss = pol.safety_stock(z, sigma, review + lead)
        target = pol.order_up_to(d, review, lead, ss)
        rop = target
        q = d * review
    fill = max(0.0, 1 - sigma_l * loss_g(z) / q) if q > 0 else None
    return {"sigma_lt": sigma_l, "safety_stock": ss, "reorder_point": rop,
            "order_up_to": target, "lot": q, "fill_rate": fill}


def policy_rows(stats: pd.DataFrame, *, csl: float, review: int, default_lead: int,
                order_cost: float, holding_rate: float, cover_days: int, min_sales: int,
                policy: dict | None = None) -> pd.DataFrame:
    """Per SKU of ``stats`` (``product_id``, ``category``, ``cost``, ``lead_time_days``
    from the stock count or None, ``mean``, ``std``, ``days``, ``sale_days``): the lead time
    and its source, MOQ, pack, the levels and a ``note`` for every fallback. A SKU with
    fewer than ``min_sales`` sale days, or no day in stock, gets no levels (None) and says
    why."""
    z = pol.safety_factor(csl)
    policy = policy or {}
    rows = []
    for r in stats.to_dict("records"):
        sku, cat = str(r["product_id"]), str(r.get("category") or "")
        notes = list(r.get("notes") or [])
        lead = r.get("lead_time_days")
        if lead is not None and not pd.isna(lead):
            lead, lsrc = float(lead), "inventory"
        else:
            lead, lsrc = _lookup(policy, sku, cat, "lead_time_days")
            if lead is None:
                lead, lsrc = float(default_lead), "default"
                notes.append(f"lead time unknown: default {default_lead} d")
        moq = _lookup(policy, sku, cat, "moq")[0] or 0.0
        pack = _lookup(policy, sku, cat, "pack")[0] or 1.0
        s_cost = _lookup(policy, sku, cat, "order_cost")[0]
        s_cost = order_cost if s_cost is None else s_cost
        h_rate = _lookup(policy, sku, cat, "holding_rate")[0]
        h_rate = holding_rate if h_rate is None else h_rate
        row = {"product_id": r["product_id"], "lead_time_days": lead, "lead_time_source": lsrc,
               "moq": moq, "pack": pack, "sigma_lt": None, "safety_stock": None,
               "reorder_point": None, "order_up_to": None, "eoq": None, "lot": None,
               "fill_rate": None}
        d, sigma = float(r["mean"] or 0.0), float(r["std"] or 0.0)
        if not r["days"]:
            notes.append("out of stock on every day of the window: demand unknown, no levels")
        elif r["sale_days"] < min_sales:
            notes.append(f"{int(r['sale_days'])} sale day(s) in the window: too little to "
                         "set levels; review by hand")
        else:
            cost = r.get("cost")
            q = 0.0
            if review == 0:
                if cost is not None and not pd.isna(cost) and cost > 0 and h_rate > 0:
                    q = pol.eoq(365 * d, s_cost, h_rate * float(cost))
                    row["eoq"] = q
                else:
                    q = d * cover_days
                    notes.append(f"no unit cost or holding rate: Q = {cover_days} days of "
                                 "demand")
            row.update(levels(d, sigma, lead, z, review, q))
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows)


def stock_rows(counts: pd.DataFrame) -> pd.DataFrame:
    """The latest count per SKU (``counts``: ``product_id``, ``location``, ``date``,
    ``on_hand``, ``on_order``, ``lead_time_days``, one row per location's latest count):
    stock summed over the locations (orders carry no location, so demand is the SKU's),
    ``location`` the one location or ``all (k)``, negative stock counted as 0 (noted),
    on order 0 when not given, the longest lead time given."""
    if counts.empty:
        return pd.DataFrame(columns=["product_id", "location", "counted_on", "on_hand",
                                     "on_order", "lead_time_days", "notes"])
    c = counts.copy()
    c["neg"] = c["on_hand"].where(c["on_hand"] < 0, 0)
    c["on_hand"] = c["on_hand"].clip(lower=0)
    c["on_order_missing"] = c["on_order"].isna()
    c["on_order"] = c["on_order"].fillna(0)
    g = c.groupby("product_id", sort=True)
    out = pd.DataFrame({
        "locations": g["location"].nunique(), "first_loc": g["location"].first(),
        "counted_on": g["date"].min(), "on_hand": g["on_hand"].sum(),
        "on_order": g["on_order"].sum(), "neg": g["neg"].sum(),
        "on_order_missing": g["on_order_missing"].all(),
        "lead_time_days": g["lead_time_days"].max()}).reset_index()
    notes = []
    for r in out.to_dict("records"):
        n = []
        if r["neg"] < 0:
            n.append(f"negative stock ({int(r['neg'])}) counted as 0")
        if r["on_order_missing"]:
            n.append("on order not counted: taken as 0")
        if r["locations"] > 1:
            n.append(f"stock of {r['locations']} locations summed (orders carry no location)")
        notes.append(n)
    out["notes"] = notes
    out["location"] = [f if k == 1 else f"all ({k})"
                       for f, k in zip(out["first_loc"], out["locations"], strict=True)]
    return out[["product_id", "location", "counted_on", "on_hand", "on_order",
                "lead_time_days", "notes"]]


def replenishment(stock: pd.DataFrame, stats: pd.DataFrame, levels_: pd.DataFrame,
                  as_of: dt.date, *, overstock_days: float, within: int) -> pd.DataFrame:
    """The plan: one row per counted SKU with stock, demand, flags and levels; ``reorder``
    marks the replenishment list (position ≤ reorder point, or reaching it within
    ``within`` days), ``order_qty`` what to order (MOQ, packs) and ``order_by`` when."""
    f = stock.drop(columns=["notes", "lead_time_days"]).merge(
        stats.drop(columns=["notes", "lead_time_days"], errors="ignore"), on="product_id",
        how="left").merge(levels_, on="product_id", how="left")
    f["position"] = f["on_hand"] + f["on_order"]
    out = []
    for r in f.to_dict("records"):
        d = float(r["mean"] or 0.0)
        cover = pol.days_of_cover(r["on_hand"], d)
        sold = float(r["sold"] or 0.0)
        through = sold / (sold + r["on_hand"]) if sold + r["on_hand"] > 0 else None
        dead = bool(r["on_hand"] > 0 and sold == 0)
        rop, target = r["reorder_point"], r["order_up_to"]
        qty, by, due = 0.0, None, False
        if rop is not None and not pd.isna(rop):
            gap = r["position"] - rop
            days = 0 if gap <= 0 else (math.floor(gap / d) if d > 0 else None)
            if days is not None:
                by = as_of + dt.timedelta(days=days)
                due = days <= within
            if due and days is not None:
                # the position on the order-by day, topped up to the level
                at = r["position"] - d * days
                qty = pol.order_quantity(target - at, r["moq"], r["pack"])
                due = qty > 0
        out.append({"days_of_cover": cover if math.isfinite(cover) else None,
                    "sell_through": through, "dead_stock": dead,
                    "overstock": bool(not dead and math.isfinite(cover)
                                      and cover > overstock_days),
                    "reorder": due, "order_qty": qty if due else 0.0,
                    "order_by": by,
                    "arrives": by + dt.timedelta(days=int(r["lead_time_days"]))
                    if by is not None and due else None})
    extra = pd.DataFrame(out, index=f.index)
    return pd.concat([f, extra], axis=1)
