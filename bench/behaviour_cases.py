"""Behaviour-analytics benchmark cases (issue 5): funnels, retention, paths.

Registered into ``cases.CASES`` when ``bench/cases.py`` imports this module; each case runs in
its own process like every other case (see ``cases.py``) and writes a normalised result frame
to ``params["check"]``, which ``run.py`` compares across peers for exact equality.

What every peer computes (the same thing, on the same synthetic shop):

**Funnel, user mode** — steps view → add_to_cart → purchase, window 24 h. Visitor =
coalesce(user_id, anonymous_id). A visitor reaches step k when some step-1 event at t1 is
followed by events of steps 2..k with t1 <= t2 <= … <= tk <= t1 + 24 h (each at or after the
previous one); the level is the best over all step-1 events. Output: visitors per step
(``step``, ``count``). With three distinct event types the greedy chain is exact: from a view
at t1 take the first cart at or after t1, then the first purchase at or after that cart.

**Funnel, order mode** — each visitor's timeline is cut at purchases: the segment of a row is
the number of purchases of the visitor strictly before it in time; the user-mode logic runs per
(visitor, segment), and a step counts (visitor, segment) units. (shopscope orders ties within
one timestamp by funnel position, so a purchase tied with another purchase opens a segment that
holds only that purchase and reaches no step: the counts are the same.)

**Retention** — cohort = day of the visitor's first event; retained(cohort, N) = visitors of
the cohort with an event on cohort day + N, N = 0..30. Compared: (cohort, N, cohort_size,
retained) for every cell with retained > 0 (shopscope also lists observable zero cells).

**Paths** — shopscope's definition (``paths(store, start="view", length=5,
collapse_repeats=False)``): sessions are the given ``session_id`` scoped to the visitor (else a
new session after >= 30 min of inactivity); per session the path starts at its *first* view and
holds it and the next 4 events (fewer at session end), ordered by time, then event type,
product, category; count per path; top 20 by count, ties by path text ("a → b → c").
The brief's definition — a path from *every* view, sessions = ``session_id`` alone — has no
shopscope equivalent; the ``paths_every_*`` cases measure it for DuckDB and Polars.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cases as _cases  # the harness's registry and timing helpers (same module object)

Params = dict
CASES: dict[str, Callable[[Params], dict]] = {}

FUNNEL_STEPS = ["view", "add_to_cart", "purchase"]
FUNNEL12_STEPS = ["view", "add_to_cart", "checkout", "purchase"] * 3
PERIODS = 30
TOP = 20
ARROW = " → "


def case(name: str) -> Callable:
    def register(fn: Callable[[Params], dict]) -> Callable[[Params], dict]:
        CASES[name] = fn
        return fn

    return register


def _ws_store(p: Params):
    # Read-only, like the DuckDB SQL peer (the workspace's own store opens read-write and
    # would conflict with any other reader of the file).
    from shopscope.store import connect

    db = (Path(p["events_ws"]) / "shop.duckdb").resolve()
    store = connect(f"duckdb:///{db}?read_only=true")
    store.table("events")  # resolve the table before the clock starts
    return store


def _duckdb(p: Params):
    import duckdb

    con = duckdb.connect(str(Path(p["events_ws"]) / "shop.duckdb"), read_only=True)
    con.execute("SET enable_progress_bar = false")
    return con


# --------------------------------------------------------------------------------------
# Normalised outputs (what the harness compares)
# --------------------------------------------------------------------------------------
def funnel_frame(counts) -> pd.DataFrame:  # noqa: F821
    import pandas as pd

    counts = [int(c) for c in counts]
    return pd.DataFrame({"step": pd.Series(range(1, len(counts) + 1), dtype="int64"),
                         "count": pd.Series(counts, dtype="int64")})


def retention_frame(df) -> pd.DataFrame:  # noqa: F821
    import pandas as pd

    out = df[["cohort", "period_number", "cohort_size", "retained"]].copy()
    out["cohort"] = pd.to_datetime(out["cohort"]).astype("datetime64[us]")
    for col in ("period_number", "cohort_size", "retained"):
        out[col] = out[col].astype("int64")
    out = out[(out["retained"] > 0) & out["period_number"].between(0, PERIODS)]
    return out.sort_values(["cohort", "period_number"]).reset_index(drop=True)


def paths_frame(df) -> pd.DataFrame:  # noqa: F821
    import pandas as pd

    out = pd.DataFrame({"path": df["path"].astype(str).to_numpy(),
                        "count": df["count"].astype("int64").to_numpy()})
    out = out.sort_values(["count", "path"], ascending=[False, True]).head(TOP)
    return out.reset_index(drop=True)


def _check(p: Params, frame) -> None:
    _cases._save_check(p, frame)


# ======================================================================================
# 1-2. Funnels
# ======================================================================================
@case("funnel_user_shopscope")
def _funnel_user_shopscope(p: Params) -> dict:
    return _shopscope_funnel(p, FUNNEL_STEPS, "user")


@case("funnel_order_shopscope")
def _funnel_order_shopscope(p: Params) -> dict:
    return _shopscope_funnel(p, FUNNEL_STEPS, "order")


@case("funnel12_shopscope")
def _funnel12_shopscope(p: Params) -> dict:
    return _shopscope_funnel(p, FUNNEL12_STEPS, "user")


def _shopscope_funnel(p: Params, steps: list[str], mode: str) -> dict:
    from shopscope.behaviour.funnels import funnel

    store = _ws_store(p)
    seconds, res = _cases._timed(lambda: funnel(store, steps, window="24h", mode=mode))
    counts = res.steps.sort_values("step")["count"].tolist()
    _check(p, funnel_frame(counts))
    return {"seconds": seconds, "counts": counts}


# --- hand-written DuckDB SQL ----------------------------------------------------------
# ``e`` is NOT MATERIALIZED: each event type is then its own scan with its filter pushed
# into it, instead of DuckDB storing all funnel events once and reading them back per use;
# "has a visitor" is tested on the stored columns, cheaper than building the coalesce.
# At 105M events these took order mode 30.1 -> 19.5 s and user mode 18.8 -> 11.7 s.
_FUNNEL_EVENTS = """
e AS NOT MATERIALIZED (
  SELECT coalesce(user_id, anonymous_id) AS v, event_at AS t, event_type AS s
  FROM events
  WHERE (user_id IS NOT NULL OR anonymous_id IS NOT NULL)
),
views AS (SELECT v, t, date_trunc('day', t) AS d FROM e WHERE s = 'view'),
carts AS (SELECT v, t, date_trunc('day', t) AS d FROM e WHERE s = 'add_to_cart'),
-- each cart twice: keyed by its own day and by the day before, so that an equi-join on
-- (visitor, day) finds every view of the 24 h before it without sorting the views
cart_days AS (SELECT v, t, d - INTERVAL (k) DAY AS d FROM carts, (VALUES (0), (1)) AS k(k)),
-- the latest view at most 24 h before each cart: the best start for a chain through it
c1 AS (
  SELECT c.v, c.t AS t2, max(w.t) AS t1
  FROM views w JOIN cart_days c ON w.v = c.v AND w.d = c.d
  WHERE w.t <= c.t AND w.t >= c.t - INTERVAL 24 HOUR
  GROUP BY c.v, c.t
)"""

# User mode: the fastest of the formulations tried (see FUNNEL_USER_SQL_ALTERNATIVES).
FUNNEL_USER_SQL = "WITH" + _FUNNEL_EVENTS + """,
buys AS (SELECT v, t FROM e WHERE s = 'purchase'),
c2 AS (  -- the first purchase at or after the cart
  SELECT c1.v, c1.t1, b.t AS t3
  FROM c1 ASOF LEFT JOIN buys b ON c1.v = b.v AND b.t >= c1.t2
),
lv AS (
  SELECT v, max(CASE WHEN t3 <= t1 + INTERVAL 24 HOUR THEN 3 ELSE 2 END) AS level
  FROM c2 GROUP BY v
)
SELECT (SELECT count(DISTINCT v) FROM views) AS c1,
       count(*) AS c2,
       count(*) FILTER (WHERE level = 3) AS c3
FROM lv"""

# Order mode. A segment ends at the first purchase at or after its rows (its "closing"
# purchase), so (visitor, closing purchase time) names a segment; a view and a cart are in one
# segment when no purchase lies in [view, cart).
FUNNEL_ORDER_SQL = "WITH" + _FUNNEL_EVENTS + """,
buys AS (SELECT DISTINCT v, t FROM e WHERE s = 'purchase'),
c2 AS (  -- the purchase closing the segment of the view
  SELECT c1.v, c1.t1, c1.t2, b.t AS np
  FROM c1 ASOF LEFT JOIN buys b ON c1.v = b.v AND b.t >= c1.t1
),
lv AS (
  SELECT v, np, max(CASE WHEN np <= t1 + INTERVAL 24 HOUR THEN 3 ELSE 2 END) AS level
  FROM c2 WHERE np IS NULL OR np >= t2
  GROUP BY v, np
),
-- segments with at least one view: purchasers' segments (previous purchase, purchase] and
-- (last purchase, ∞), plus one segment per visitor who never purchased
segs AS (
  SELECT v, lag(t) OVER (PARTITION BY v ORDER BY t) AS lo, t AS hi FROM buys
  UNION ALL
  SELECT v, max(t), NULL FROM buys GROUP BY v
),
seg_views AS (
  SELECT count(DISTINCT (s.v, s.hi)) AS n
  FROM views w JOIN segs s ON w.v = s.v
  WHERE (s.lo IS NULL OR w.t > s.lo) AND (s.hi IS NULL OR w.t <= s.hi)
),
no_buy AS (
  SELECT count(DISTINCT v) AS n FROM views WHERE v NOT IN (SELECT v FROM buys)
)
SELECT (SELECT n FROM seg_views) + (SELECT n FROM no_buy) AS c1,
       count(*) AS c2,
       count(*) FILTER (WHERE level = 3) AS c3
FROM lv"""

_WINDOW_EVENTS = """
e AS (
  SELECT coalesce(user_id, anonymous_id) AS v, event_at AS t,
         CASE event_type WHEN 'view' THEN 1 WHEN 'add_to_cart' THEN 2 ELSE 3 END AS s
  FROM events
  WHERE event_type IN ('view', 'add_to_cart', 'purchase')
    AND coalesce(user_id, anonymous_id) IS NOT NULL
),
-- per row: the first cart and the first purchase at or after it (RANGE: ties included)
a AS (
  SELECT v, t, s,
         min(CASE WHEN s = 2 THEN t END) OVER w AS t2,
         min(CASE WHEN s = 3 THEN t END) OVER w AS n3
  FROM e
  WINDOW w AS (PARTITION BY v ORDER BY t RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
)"""
_LEVELS = """
SELECT count(*) AS c1, count(*) FILTER (WHERE level >= 2) AS c2,
       count(*) FILTER (WHERE level >= 3) AS c3
FROM lv"""

# Formulations tried and kept for the record (``--diagnose`` runs them).
FUNNEL_USER_SQL_ALTERNATIVES = {
    # two window passes: "next cart", "next purchase", then the next purchase after the next cart
    "window2": "WITH" + _WINDOW_EVENTS + """,
b AS (
  SELECT v, t, s, t2, min(CASE WHEN s = 2 THEN n3 END) OVER w AS t3
  FROM a WHERE s <= 2
  WINDOW w AS (PARTITION BY v ORDER BY t RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
),
lv AS (
  SELECT v, max(CASE WHEN t3 <= t + INTERVAL 24 HOUR THEN 3
                     WHEN t2 <= t + INTERVAL 24 HOUR THEN 2 ELSE 1 END) AS level
  FROM b WHERE s = 1 GROUP BY v
)""" + _LEVELS,
    # one window pass, the latest view per next cart, equi-join to that cart's next purchase
    "window_join": "WITH" + _WINDOW_EVENTS + """,
starts AS (SELECT v, t2, max(t) AS t1 FROM a WHERE s = 1 GROUP BY v, t2),
cart_next AS (SELECT DISTINCT v, t AS t2, n3 FROM a WHERE s = 2),
lv AS (
  SELECT st.v, max(CASE WHEN c.n3 <= st.t1 + INTERVAL 24 HOUR THEN 3
                        WHEN st.t2 <= st.t1 + INTERVAL 24 HOUR THEN 2 ELSE 1 END) AS level
  FROM starts st LEFT JOIN cart_next c ON st.v = c.v AND st.t2 = c.t2
  GROUP BY st.v
)""" + _LEVELS,
    # ASOF joins: the latest view at or before each cart, the first purchase at or after it
    "asof": """WITH
e AS (
  SELECT coalesce(user_id, anonymous_id) AS v, event_at AS t, event_type AS s
  FROM events
  WHERE event_type IN ('view', 'add_to_cart', 'purchase')
    AND coalesce(user_id, anonymous_id) IS NOT NULL
),
views AS (SELECT v, t FROM e WHERE s = 'view'),
c1 AS (
  SELECT c.v, c.t AS t2, w.t AS t1
  FROM (SELECT v, t FROM e WHERE s = 'add_to_cart') c
  ASOF JOIN views w ON c.v = w.v AND w.t <= c.t
),
c2 AS (
  SELECT c1.v, c1.t1, c1.t2, b.t AS t3
  FROM c1 ASOF LEFT JOIN (SELECT v, t FROM e WHERE s = 'purchase') b
    ON c1.v = b.v AND b.t >= c1.t2
),
lv AS (
  SELECT v, max(CASE WHEN t3 <= t1 + INTERVAL 24 HOUR THEN 3
                     WHEN t2 <= t1 + INTERVAL 24 HOUR THEN 2 ELSE 1 END) AS level
  FROM c2 GROUP BY v
)
SELECT (SELECT count(DISTINCT v) FROM views) AS c1,
       count(*) FILTER (WHERE level >= 2) AS c2,
       count(*) FILTER (WHERE level >= 3) AS c3
FROM lv""",
}

# shopscope's own algorithm (forward DP: S2 = latest view before a row, S3 = largest S2 among
# the carts before it), hand-written, for the diagnosis of its time: as shopscope runs it
# (both passes over all rows) and with the second pass over carts and purchases only.
_DP = """WITH
e AS (
  SELECT coalesce(user_id, anonymous_id) AS v, event_at AS t,
         CASE event_type WHEN 'view' THEN 1 WHEN 'add_to_cart' THEN 2 ELSE 3 END AS s
  FROM events
  WHERE event_type IN ('view', 'add_to_cart', 'purchase')
    AND coalesce(user_id, anonymous_id) IS NOT NULL
),
a AS (
  SELECT v, t, s, max(CASE WHEN s = 1 THEN t END) OVER (
           PARTITION BY v ORDER BY t, s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS s2
  FROM e
),
b AS (
  SELECT v, t, s, s2, max(CASE WHEN s = 2 AND t <= s2 + INTERVAL 24 HOUR THEN s2 END) OVER (
           PARTITION BY v ORDER BY t, s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS s3
  FROM a {where}
),
lv AS (
  SELECT v, max(CASE WHEN s = 3 AND t <= s3 + INTERVAL 24 HOUR THEN 3
                     WHEN s = 2 AND t <= s2 + INTERVAL 24 HOUR THEN 2
                     WHEN s = 1 THEN 1 ELSE 0 END) AS level
  FROM {rows} GROUP BY v
)
SELECT count(*) FILTER (WHERE level >= 1) AS c1, count(*) FILTER (WHERE level >= 2) AS c2,
       count(*) FILTER (WHERE level >= 3) AS c3
FROM lv"""
FUNNEL_USER_SQL_ALTERNATIVES["dp"] = _DP.format(where="", rows="b")
FUNNEL_USER_SQL_ALTERNATIVES["dp_filtered"] = _DP.format(
    where="WHERE s >= 2",
    rows="(SELECT v, t, s, s2, NULL AS s3 FROM a WHERE s = 1 UNION ALL SELECT * FROM b)")

FUNNEL_ORDER_SQL_ALTERNATIVES = {
    # one window pass: the next purchase at or after a view closes its segment
    "window": "WITH" + _WINDOW_EVENTS + """,
lv AS (
  SELECT v, n3, max(CASE WHEN t2 <= n3 AND n3 <= t + INTERVAL 24 HOUR THEN 3
                         WHEN t2 <= t + INTERVAL 24 HOUR AND (n3 IS NULL OR t2 <= n3) THEN 2
                         ELSE 1 END) AS level
  FROM a WHERE s = 1 GROUP BY v, n3
)""" + _LEVELS,
}


# The joins above are written big side (views) first, and DuckDB is told to keep them so:
# it estimates the carts, and a UNION, as about as many rows as the views, and then builds
# its hash tables on the ~90M views (measured at 105M events: user mode 35-41 s -> 23 s,
# order mode 38 s -> 30.5 s). The "planner" alternatives let DuckDB choose.
_KEEP_SIDES = "SET disabled_optimizers = 'build_side_probe_side'"
_PLANNER = (("views w JOIN cart_days c ON w.v = c.v", "cart_days c JOIN views w ON w.v = c.v"),
            ("views w JOIN segs s ON w.v = s.v", "segs s JOIN views w ON w.v = s.v"))


def _planner_form(sql: str) -> str:
    for written, planner in _PLANNER:
        sql = sql.replace(written, planner)
    return sql


FUNNEL_USER_SQL_ALTERNATIVES["planner"] = _planner_form(FUNNEL_USER_SQL)
FUNNEL_ORDER_SQL_ALTERNATIVES["planner"] = _planner_form(FUNNEL_ORDER_SQL)


def _duckdb_funnel(p: Params, sql: str) -> dict:
    con = _duckdb(p)
    if sql in (FUNNEL_USER_SQL, FUNNEL_ORDER_SQL):
        con.execute(_KEEP_SIDES)
    seconds, row = _cases._timed(lambda: con.execute(sql).fetchone())
    _check(p, funnel_frame(row))
    return {"seconds": seconds, "counts": list(row)}


@case("funnel_user_duckdb")
def _funnel_user_duckdb(p: Params) -> dict:
    return _duckdb_funnel(p, FUNNEL_USER_SQL)


@case("funnel_order_duckdb")
def _funnel_order_duckdb(p: Params) -> dict:
    return _duckdb_funnel(p, FUNNEL_ORDER_SQL)


for _name, _sql in FUNNEL_USER_SQL_ALTERNATIVES.items():
    CASES[f"funnel_user_duckdb_{_name}"] = (lambda sql: lambda p: _duckdb_funnel(p, sql))(_sql)
for _name, _sql in FUNNEL_ORDER_SQL_ALTERNATIVES.items():
    CASES[f"funnel_order_duckdb_{_name}"] = (lambda sql: lambda p: _duckdb_funnel(p, sql))(_sql)


# --- Polars ---------------------------------------------------------------------------
def _polars_funnel(path: str, mode: str, engine: str) -> list[int]:
    import polars as pl

    day = pl.duration(hours=24)
    rank = (pl.when(pl.col("event_type") == "view").then(1)
            .when(pl.col("event_type") == "add_to_cart").then(2).otherwise(3))
    lf = (
        pl.scan_parquet(path)
        .filter(pl.col("event_type").is_in(FUNNEL_STEPS))
        .select(v=pl.coalesce("user_id", "anonymous_id"), t=pl.col("event_at"),
                s=rank.cast(pl.Int8))
        .drop_nulls("v")
        # at one timestamp a view sorts before a cart before a purchase, so "the next X at or
        # after this row" is a backward fill within the visitor
        .sort(["v", "t", "s"])
        .with_columns(
            t2=pl.when(pl.col("s") == 2).then(pl.col("t")).backward_fill().over("v"),
            n3=pl.when(pl.col("s") == 3).then(pl.col("t")).backward_fill().over("v"),
        )
    )
    t, t2, n3 = pl.col("t"), pl.col("t2"), pl.col("n3")
    if mode == "user":
        lf = lf.with_columns(  # the next purchase after the next cart
            t3=pl.when(pl.col("s") == 2).then(n3).backward_fill().over("v"))
        level = (pl.when(pl.col("t3") <= t + day).then(3)
                 .when(t2 <= t + day).then(2).otherwise(1))
        keys = ["v"]
    else:  # the next purchase closes the segment: unit = (visitor, n3)
        level = (pl.when((t2 <= n3) & (n3 <= t + day)).then(3)
                 .when((t2 <= t + day) & (n3.is_null() | (t2 <= n3))).then(2).otherwise(1))
        keys = ["v", "n3"]
    out = (
        lf.filter(pl.col("s") == 1)
        .group_by(keys).agg(level=level.max())
        .select(c1=pl.len(), c2=(pl.col("level") >= 2).sum(), c3=(pl.col("level") >= 3).sum())
        .collect(engine=engine)
    )
    return list(out.row(0))


def _polars_case(p: Params, mode: str, engine: str) -> dict:
    import polars as pl  # noqa: F401 - imported before the clock starts

    seconds, counts = _cases._timed(lambda: _polars_funnel(p["events_parquet"], mode, engine))
    _check(p, funnel_frame(counts))
    return {"seconds": seconds, "counts": counts}


@case("funnel_user_polars")
def _funnel_user_polars(p: Params) -> dict:
    return _polars_case(p, "user", "auto")  # "auto" = the streaming engine in Polars 2


@case("funnel_user_polars_inmemory")
def _funnel_user_polars_inmemory(p: Params) -> dict:
    return _polars_case(p, "user", "in-memory")


@case("funnel_order_polars")
def _funnel_order_polars(p: Params) -> dict:
    return _polars_case(p, "order", "auto")


@case("funnel_order_polars_inmemory")
def _funnel_order_polars_inmemory(p: Params) -> dict:
    return _polars_case(p, "order", "in-memory")


# --- pandas ---------------------------------------------------------------------------
def _pandas_funnel(path: str, mode: str) -> list[int]:
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(path, columns=["event_at", "user_id", "anonymous_id", "event_type"],
                         filters=[("event_type", "in", FUNNEL_STEPS)])
    v = df["user_id"].fillna(df["anonymous_id"])
    keep = v.notna().to_numpy()
    codes, _ = pd.factorize(v[keep])  # integer visitor ids sort much faster than strings
    s = df["event_type"][keep].map({"view": 1, "add_to_cart": 2, "purchase": 3})
    e = pd.DataFrame({"v": codes, "t": df["event_at"][keep].to_numpy(),
                      "s": s.to_numpy(dtype="int8")})
    del df, v, s
    e = e.sort_values(["v", "t", "s"], kind="stable", ignore_index=True)

    v = e["v"].to_numpy()
    rows = np.arange(len(e))

    def next_row(where: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        # the first row at or after each row where `where` holds: a backward fill over the
        # whole sorted frame (much faster than groupby(...).bfill()), valid when that row
        # belongs to the same visitor
        nxt = pd.Series(np.where(where, rows, np.nan)).bfill().fillna(-1).to_numpy("int64")
        return nxt, (nxt >= 0) & (v[np.maximum(nxt, 0)] == v)

    t = e["t"].to_numpy()
    cart, cart_ok = next_row(e["s"] == 2)
    buy, buy_ok = next_row(e["s"] == 3)
    nat = np.datetime64("NaT")
    e["t2"] = np.where(cart_ok, t[cart], nat)
    e["n3"] = np.where(buy_ok, t[buy], nat)
    day = pd.Timedelta(hours=24)
    if mode == "user":
        n3 = e["n3"].to_numpy()
        e["t3"] = np.where(cart_ok, n3[cart], nat)  # the first purchase after the next cart
        views = e[e["s"] == 1]
        ok3 = (views["t3"] <= views["t"] + day).to_numpy()
        ok2 = (views["t2"] <= views["t"] + day).to_numpy()
        keys = [views["v"]]
    else:
        views = e[e["s"] == 1]
        t, t2, n3 = views["t"], views["t2"], views["n3"]
        ok3 = ((t2 <= n3) & (n3 <= t + day)).to_numpy()
        ok2 = ((t2 <= t + day) & (n3.isna() | (t2 <= n3))).to_numpy()
        keys = [views["v"], views["n3"]]
    level = pd.Series(np.where(ok3, 3, np.where(ok2, 2, 1)), index=views.index)
    best = level.groupby(keys, sort=False, dropna=False).max()
    return [len(best), int((best >= 2).sum()), int((best >= 3).sum())]


@case("funnel_user_pandas")
def _funnel_user_pandas(p: Params) -> dict:
    import pandas as pd  # noqa: F401 - imported before the clock starts

    seconds, counts = _cases._timed(lambda: _pandas_funnel(p["events_parquet"], "user"))
    _check(p, funnel_frame(counts))
    return {"seconds": seconds, "counts": counts}


@case("funnel_order_pandas")
def _funnel_order_pandas(p: Params) -> dict:
    import pandas as pd  # noqa: F401 - imported before the clock starts

    seconds, counts = _cases._timed(lambda: _pandas_funnel(p["events_parquet"], "order"))
    _check(p, funnel_frame(counts))
    return {"seconds": seconds, "counts": counts}


# --- Spark local ----------------------------------------------------------------------
# Spark evaluates an "UNBOUNDED FOLLOWING" frame by re-aggregating for each row; a running
# frame in descending time order is the same "next at or after" and runs in one pass.
_SPARK_EVENTS = """
e AS (
  SELECT coalesce(user_id, anonymous_id) AS v, event_at AS t,
         CASE event_type WHEN 'view' THEN 1 WHEN 'add_to_cart' THEN 2 ELSE 3 END AS s
  FROM events
  WHERE event_type IN ('view', 'add_to_cart', 'purchase')
    AND coalesce(user_id, anonymous_id) IS NOT NULL
),
a AS (
  SELECT v, t, s,
         min(CASE WHEN s = 2 THEN t END) OVER w AS t2,
         min(CASE WHEN s = 3 THEN t END) OVER w AS n3
  FROM e
  WINDOW w AS (PARTITION BY v ORDER BY t DESC RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)"""
SPARK_FUNNEL_SQL = {
    "user": "WITH" + _SPARK_EVENTS + """,
b AS (
  SELECT v, t, s, t2, min(CASE WHEN s = 2 THEN n3 END) OVER w AS t3
  FROM a WHERE s <= 2
  WINDOW w AS (PARTITION BY v ORDER BY t DESC RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
lv AS (
  SELECT v, max(CASE WHEN t3 <= t + INTERVAL 24 HOURS THEN 3
                     WHEN t2 <= t + INTERVAL 24 HOURS THEN 2 ELSE 1 END) AS level
  FROM b WHERE s = 1 GROUP BY v
)
SELECT count(*) AS c1, count_if(level >= 2) AS c2, count_if(level >= 3) AS c3 FROM lv""",
    "order": "WITH" + _SPARK_EVENTS + """,
lv AS (
  SELECT v, n3, max(CASE WHEN t2 <= n3 AND n3 <= t + INTERVAL 24 HOURS THEN 3
                         WHEN t2 <= t + INTERVAL 24 HOURS AND (n3 IS NULL OR t2 <= n3) THEN 2
                         ELSE 1 END) AS level
  FROM a WHERE s = 1 GROUP BY v, n3
)
SELECT count(*) AS c1, count_if(level >= 2) AS c2, count_if(level >= 3) AS c3 FROM lv""",
}


def _spark_funnel(p: Params, mode: str) -> dict:
    import os

    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]").appName("bench")
        .config("spark.driver.memory", p.get("spark_memory", "8g"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(Path(p["scratch"]) / "spark"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.read.parquet(p["events_parquet"]).createOrReplaceTempView("events")
    seconds, row = _cases._timed(lambda: spark.sql(SPARK_FUNNEL_SQL[mode]).collect()[0])
    counts = [int(x) for x in row]
    _check(p, funnel_frame(counts))
    jvm_peak = _jvm_peak_mb(os.getpid())
    _stop_and_reap(spark)
    return {"seconds": seconds, "counts": counts, "jvm_peak_rss_mb": jvm_peak}


def _stop_and_reap(spark) -> None:
    """Stop Spark and wait for its JVM, so that the JVM's CPU time and peak RSS are part of
    this process's resource usage (``os.wait4`` in the harness counts waited-for children;
    an unreaped JVM's CPU would count as "other processes")."""
    import contextlib

    from pyspark import SparkContext

    gateway = SparkContext._gateway
    spark.stop()
    proc = getattr(gateway, "proc", None)
    if proc is None:
        return
    with contextlib.suppress(Exception):
        gateway.shutdown()
    with contextlib.suppress(Exception):
        proc.stdin.close()  # the JVM exits when its stdin closes
    try:
        proc.wait(timeout=60)
    except Exception:
        proc.kill()
        proc.wait()


def _jvm_peak_mb(parent: int) -> float | None:
    """Peak RSS (VmHWM) of the Spark JVM, a child of this process: the harness's ru_maxrss
    of this process does not include it."""
    import psutil

    best = None
    for child in psutil.Process(parent).children(recursive=True):
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    mb = int(line.split()[1]) / 1024
                    best = mb if best is None else max(best, mb)
        except OSError:
            continue
    return best


@case("funnel_user_spark")
def _funnel_user_spark(p: Params) -> dict:
    return _spark_funnel(p, "user")


@case("funnel_order_spark")
def _funnel_order_spark(p: Params) -> dict:
    return _spark_funnel(p, "order")


# ======================================================================================
# 3. Retention matrix (day grain, 30 days, exact)
# ======================================================================================
@case("retention_shopscope")
def _retention_shopscope(p: Params) -> dict:
    from shopscope.behaviour.retention import retention

    store = _ws_store(p)
    seconds, res = _cases._timed(
        lambda: retention(store, grain="day", periods=PERIODS, mode="exact"))
    frame = retention_frame(res.matrix)
    _check(p, frame)
    return {"seconds": seconds, "cells": len(frame)}


RETENTION_SQL = """
WITH d AS (
  SELECT DISTINCT coalesce(user_id, anonymous_id) AS v, CAST(event_at AS DATE) AS day
  FROM events WHERE coalesce(user_id, anonymous_id) IS NOT NULL
),
f AS (SELECT v, min(day) AS cohort FROM d GROUP BY v),
sizes AS (SELECT cohort, count(*) AS cohort_size FROM f GROUP BY cohort)
SELECT f.cohort, d.day - f.cohort AS period_number, s.cohort_size, count(*) AS retained
FROM d JOIN f USING (v) JOIN sizes s USING (cohort)
WHERE d.day - f.cohort <= 30
GROUP BY ALL"""

RETENTION_SQL_ALTERNATIVES = {
    # first day by a window min over the distinct pairs; every visitor is active on their
    # cohort day, so the cohort size is the period-0 count
    "window": """
WITH d AS (
  SELECT DISTINCT coalesce(user_id, anonymous_id) AS v, CAST(event_at AS DATE) AS day
  FROM events WHERE coalesce(user_id, anonymous_id) IS NOT NULL
),
f AS (SELECT day, min(day) OVER (PARTITION BY v) AS cohort FROM d),
m AS (
  SELECT cohort, day - cohort AS period_number, count(*) AS retained
  FROM f WHERE day - cohort <= 30 GROUP BY ALL
)
SELECT cohort, period_number,
       max(retained) FILTER (WHERE period_number = 0) OVER (PARTITION BY cohort) AS cohort_size,
       retained
FROM m""",
}


def _duckdb_retention(p: Params, sql: str) -> dict:
    con = _duckdb(p)
    seconds, frame = _cases._timed(lambda: con.execute(sql).df())
    frame = retention_frame(frame)
    _check(p, frame)
    return {"seconds": seconds, "cells": len(frame)}


@case("retention_duckdb")
def _retention_duckdb(p: Params) -> dict:
    return _duckdb_retention(p, RETENTION_SQL)


for _name, _sql in RETENTION_SQL_ALTERNATIVES.items():
    CASES[f"retention_duckdb_{_name}"] = (lambda sql: lambda p: _duckdb_retention(p, sql))(_sql)


def _polars_retention(path: str, engine: str):
    import polars as pl

    pairs = (
        pl.scan_parquet(path)
        .select(v=pl.coalesce("user_id", "anonymous_id"), day=pl.col("event_at").dt.date())
        .drop_nulls("v")
        .unique()
    )
    first = pairs.group_by("v").agg(cohort=pl.col("day").min())
    cells = (
        pairs.join(first, on="v")
        .with_columns(period_number=(pl.col("day") - pl.col("cohort")).dt.total_days())
        .filter(pl.col("period_number") <= PERIODS)
        .group_by("cohort", "period_number").agg(retained=pl.len())
    )
    sizes = first.group_by("cohort").agg(cohort_size=pl.len())
    return cells.join(sizes, on="cohort").collect(engine=engine)


@case("retention_polars")
def _retention_polars(p: Params) -> dict:
    import polars as pl  # noqa: F401 - imported before the clock starts

    seconds, frame = _cases._timed(lambda: _polars_retention(p["events_parquet"], "auto"))
    frame = retention_frame(frame.to_pandas())
    _check(p, frame)
    return {"seconds": seconds, "cells": len(frame)}


@case("retention_pandas")
def _retention_pandas(p: Params) -> dict:
    import pandas as pd

    def run() -> pd.DataFrame:
        df = pd.read_parquet(p["events_parquet"],
                             columns=["event_at", "user_id", "anonymous_id"])
        pairs = pd.DataFrame({"v": df["user_id"].fillna(df["anonymous_id"]),
                              "day": df["event_at"].dt.floor("D")})
        del df
        pairs = pairs.dropna(subset=["v"]).drop_duplicates()
        pairs["cohort"] = pairs.groupby("v")["day"].transform("min")
        pairs["period_number"] = (pairs["day"] - pairs["cohort"]).dt.days
        sizes = pairs[pairs["period_number"] == 0].groupby("cohort").size()
        cells = (pairs[pairs["period_number"] <= PERIODS]
                 .groupby(["cohort", "period_number"]).size().rename("retained").reset_index())
        cells["cohort_size"] = cells["cohort"].map(sizes)
        return cells

    seconds, frame = _cases._timed(run)
    frame = retention_frame(frame)
    _check(p, frame)
    return {"seconds": seconds, "cells": len(frame)}


# ======================================================================================
# 4. Top-20 paths from `view`
# ======================================================================================
@case("paths_shopscope")
def _paths_shopscope(p: Params) -> dict:
    from shopscope.behaviour.paths import paths

    store = _ws_store(p)
    seconds, res = _cases._timed(lambda: paths(store, start="view", length=5, top=TOP,
                                               collapse_repeats=False))
    frame = paths_frame(res.paths[["text", "sessions"]].set_axis(["path", "count"], axis=1))
    _check(p, frame)
    return {"seconds": seconds, "paths": len(frame)}


def _paths_sql(first_only: bool, scoped: bool) -> str:
    """Paths of 5 from `view`: from the first view per session (shopscope) or every view.

    Sessions: the given session_id (scoped to the visitor, or alone), else a new session
    after >= 30 min without an event, per visitor.
    """
    sid = "v || '/' || session_id" if scoped else "session_id"
    leads = ",\n         ".join(f"lead(event_type, {k}) OVER w AS e{k + 1}" for k in range(1, 5))
    first = (",\n         count(*) FILTER (WHERE event_type = 'view') OVER "
             "(w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS nth_view"
             if first_only else "")
    keep = "e1 = 'view'" + (" AND nth_view = 1" if first_only else "")
    return f"""
WITH ev AS (
  SELECT coalesce(user_id, anonymous_id) AS v, session_id, event_at, event_type,
         product_id, category
  FROM events WHERE coalesce(user_id, anonymous_id) IS NOT NULL
),
tagged AS (
  SELECT {sid} AS sess, event_at, event_type, product_id, category
  FROM ev WHERE session_id IS NOT NULL
),
untagged AS (  -- only the events without a session id need the inactivity cut
  SELECT v, event_at, event_type, product_id, category,
         CASE WHEN lag(event_at) OVER (PARTITION BY v ORDER BY event_at) IS NULL
                OR event_at >= lag(event_at) OVER (PARTITION BY v ORDER BY event_at)
                   + INTERVAL 30 MINUTE THEN 1 ELSE 0 END AS new_session
  FROM ev WHERE session_id IS NULL
),
cut AS (
  SELECT v || '#' || sum(new_session) OVER (PARTITION BY v ORDER BY event_at
                                            ROWS UNBOUNDED PRECEDING) AS sess,
         event_at, event_type, product_id, category
  FROM untagged
),
s AS (SELECT * FROM tagged UNION ALL SELECT * FROM cut),
p AS (
  SELECT event_type AS e1,
         {leads}{first}
  FROM s
  WINDOW w AS (PARTITION BY sess ORDER BY event_at, event_type, product_id, category)
)
SELECT concat_ws(' → ', e1, e2, e3, e4, e5) AS path, count(*) AS count
FROM p WHERE {keep}
GROUP BY 1 ORDER BY count DESC, path LIMIT {TOP}"""


PATHS_SQL = _paths_sql(first_only=True, scoped=True)
PATHS_EVERY_SQL = _paths_sql(first_only=False, scoped=False)


def _duckdb_paths(p: Params, sql: str) -> dict:
    con = _duckdb(p)
    seconds, frame = _cases._timed(lambda: con.execute(sql).df())
    frame = paths_frame(frame)
    _check(p, frame)
    return {"seconds": seconds, "paths": len(frame)}


@case("paths_duckdb")
def _paths_duckdb(p: Params) -> dict:
    return _duckdb_paths(p, PATHS_SQL)


@case("paths_every_duckdb")
def _paths_every_duckdb(p: Params) -> dict:
    return _duckdb_paths(p, PATHS_EVERY_SQL)


def _polars_paths(path: str, first_only: bool, scoped: bool, engine: str):
    import polars as pl

    ev = (
        pl.scan_parquet(path)
        .select("event_at", "event_type", "product_id", "category", "session_id",
                v=pl.coalesce("user_id", "anonymous_id"))
        .drop_nulls("v")
    )
    order = ["event_at", "event_type", "product_id", "category"]
    # session key: (visitor, session id) or the session id alone; untagged events get
    # "#<n>", the visitor's n-th session cut by >= 30 min of inactivity
    tagged = ev.filter(pl.col("session_id").is_not_null()).select(
        "v", *order, sid=pl.col("session_id"))
    gap = pl.col("event_at").diff()
    cut = (
        ev.filter(pl.col("session_id").is_null())
        .sort(["v", "event_at"])
        .with_columns(new=(gap.is_null() | (gap >= pl.duration(minutes=30)))
                      .cast(pl.Int64).over("v"))
        .select("v", *order, sid="#" + pl.col("new").cum_sum().over("v").cast(pl.String))
    )
    if not scoped:
        tagged = tagged.with_columns(v=pl.lit(""))
    keys = ["v", "sid"]
    s = pl.concat([tagged, cut]).sort([*keys, *order], nulls_last=True)
    nxt = [pl.col("event_type").shift(-k).over(keys).alias(f"e{k + 1}") for k in range(1, 5)]
    s = s.with_columns(*nxt)
    keep = pl.col("event_type") == "view"
    if first_only:
        keep = keep & ((pl.col("event_type") == "view").cum_sum().over(keys) == 1)
    return (
        s.filter(keep)
        .select(path=pl.concat_str("event_type", "e2", "e3", "e4", "e5", separator=ARROW,
                                   ignore_nulls=True))
        .group_by("path").agg(count=pl.len())
        .sort(["count", "path"], descending=[True, False])
        .head(TOP)
        .collect(engine=engine)
    )


@case("paths_polars")
def _paths_polars(p: Params) -> dict:
    import polars as pl  # noqa: F401 - imported before the clock starts

    seconds, frame = _cases._timed(
        lambda: _polars_paths(p["events_parquet"], True, True, "auto"))
    frame = paths_frame(frame.to_pandas())
    _check(p, frame)
    return {"seconds": seconds, "paths": len(frame)}


@case("paths_every_polars")
def _paths_every_polars(p: Params) -> dict:
    import polars as pl  # noqa: F401 - imported before the clock starts

    seconds, frame = _cases._timed(
        lambda: _polars_paths(p["events_parquet"], False, False, "auto"))
    frame = paths_frame(frame.to_pandas())
    _check(p, frame)
    return {"seconds": seconds, "paths": len(frame)}


@case("paths_pandas")
def _paths_pandas(p: Params) -> dict:
    import numpy as np
    import pandas as pd

    def run() -> pd.DataFrame:
        df = pd.read_parquet(p["events_parquet"],
                             columns=["event_at", "user_id", "anonymous_id", "session_id",
                                      "event_type", "product_id", "category"])
        df["v"] = df["user_id"].fillna(df["anonymous_id"])
        df = df.drop(columns=["user_id", "anonymous_id"]).dropna(subset=["v"])
        tagged = df["session_id"].notna()
        sess = (df["v"] + "/" + df["session_id"]).where(tagged)
        if not tagged.all():
            un = df[~tagged].sort_values(["v", "event_at"])
            gap = un.groupby("v")["event_at"].diff()
            new = (gap.isna() | (gap >= pd.Timedelta(minutes=30))).astype("int64")
            sess[un.index] = un["v"] + "#" + new.groupby(un["v"]).cumsum().astype(str)
        df["sess"] = pd.factorize(sess)[0]
        df = df.drop(columns=["session_id", "v"])
        df = df.sort_values(["sess", "event_at", "event_type", "product_id", "category"],
                            na_position="last", ignore_index=True)
        types = df["event_type"].to_numpy()
        sess_ids = df["sess"].to_numpy()
        is_view = types == "view"
        # the first view of each session: no earlier view in it
        nth = pd.Series(is_view.astype("int64")).groupby(sess_ids).cumsum().to_numpy()
        starts = np.flatnonzero(is_view & (nth == 1))
        parts = [types[starts]]
        for k in range(1, 5):
            j = np.minimum(starts + k, len(types) - 1)
            same = (starts + k < len(types)) & (sess_ids[j] == sess_ids[starts])
            parts.append(np.where(same, types[j], None))
        path = pd.Series(parts[0], dtype=object)
        for part in parts[1:]:
            nxt = pd.Series(part, dtype=object)
            path = path.where(nxt.isna(), path + ARROW + nxt)
        return path.value_counts().rename_axis("path").reset_index(name="count")

    seconds, frame = _cases._timed(run)
    frame = paths_frame(frame)
    _check(p, frame)
    return {"seconds": seconds, "paths": len(frame)}

