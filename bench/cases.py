"""One benchmark case, run in its own process by ``bench/run.py``.

Usage (the harness does this; by hand only to debug one case)::

    .venv/bin/python bench/cases.py CASE '{"param": ...}'

The case does its untimed set-up, times its work with ``time.perf_counter``, and prints
one line ``BENCH_RESULT {json}`` with at least ``seconds``. Peak memory is measured by the
parent (``os.wait4`` gives the child's own ``ru_maxrss``, even when the child dies). When
the parameters name a ``check`` file, the case writes the numbers it computed there, for
the harness to compare across peers.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# Run as a script this module is ``__main__``; modules that register more cases import it as
# ``cases`` and must get this same module (one registry, one set of timing marks).
sys.modules.setdefault("cases", sys.modules[__name__])

Params = dict
CASES: dict[str, Callable[[Params], dict]] = {}

# Online Retail monthly metrics compared across peers; events daily metrics likewise.
DAILY_COLUMNS = ["period", "pv", "uv", "event_buyers"]


def case(name: str) -> Callable:
    def register(fn: Callable[[Params], dict]) -> Callable[[Params], dict]:
        CASES[name] = fn
        return fn

    return register


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


_MARK: dict[str, float] = {}


def _ready() -> float:
    """Note the memory in use when set-up is done (once), then start the clock."""
    _MARK.setdefault("rss_ready_mb", _rss_mb())
    return time.perf_counter()


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = _ready()
    out = fn()
    return time.perf_counter() - t0, out


def _repeat(fn: Callable[[], object], warm: int) -> dict:
    """First (cold) call, then ``warm`` more; ``seconds`` is the warm median."""
    cold, out = _timed(fn)
    warm_times = [_timed(fn)[0] for _ in range(warm)]
    return {
        "seconds": statistics.median(warm_times) if warm_times else cold,
        "cold_seconds": cold,
        "warm_seconds": warm_times,
        "_out": out,
    }


def _save_check(p: Params, frame) -> None:
    if p.get("check"):
        frame.to_parquet(p["check"], index=False)


# --------------------------------------------------------------------------------------
# 1. Online Retail ingestion
# --------------------------------------------------------------------------------------
@case("retail_ingest_shopscope")
def _retail_ingest_shopscope(p: Params) -> dict:
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    ws = Workspace.create(Path(p["scratch"]) / "ws")
    ws.store  # noqa: B018 - connect before the clock starts
    t0 = _ready()
    result = ingest_file(ws, p["retail_csv"], preset="online_retail")
    t_load = time.perf_counter() - t0
    ws.close()  # DuckDB checkpoints the WAL into the file on close
    return {"seconds": time.perf_counter() - t0, "load_seconds": t_load,
            "rows": dict(result.rows_added)}


@case("retail_ingest_duckdb")
def _retail_ingest_duckdb(p: Params) -> dict:
    import duckdb

    con = duckdb.connect(str(Path(p["scratch"]) / "t.duckdb"))
    con.execute("SET enable_progress_bar = false")
    t0 = _ready()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [p["retail_csv"]])
    t_load = time.perf_counter() - t0
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "load_seconds": t_load, "rows": {"t": n}}


@case("retail_ingest_pandas")
def _retail_ingest_pandas(p: Params) -> dict:
    import analyst_pandas

    seconds, rows = _timed(lambda: analyst_pandas.ingest(p["retail_csv"],
                                                         Path(p["scratch"]) / "tables"))
    return {"seconds": seconds, "rows": rows}


# --------------------------------------------------------------------------------------
# 2. Monthly KPI table on Online Retail
# --------------------------------------------------------------------------------------
@case("retail_kpi_shopscope")
def _retail_kpi_shopscope(p: Params) -> dict:
    import analyst_pandas

    from shopscope.kpis.queries import kpis
    from shopscope.store import Workspace

    t_open, ws = _timed(lambda: Workspace.open(p["retail_ws"]))
    t_connect, store = _timed(lambda: ws.store)
    res = _repeat(lambda: kpis(store, grain="month"), p["warm"])
    wide = res.pop("_out").wide()
    _save_check(p, wide[["period", *analyst_pandas.MONTHLY_COLUMNS]])
    res["open_seconds"] = t_open + t_connect
    return res


@case("retail_kpi_pandas")
def _retail_kpi_pandas(p: Params) -> dict:
    import analyst_pandas

    df = analyst_pandas.read_lines(p["retail_csv"])  # in memory before the clock starts
    res = _repeat(lambda: analyst_pandas.monthly_from_lines(df), p["warm"])
    _save_check(p, res.pop("_out"))
    return res


@case("retail_kpi_pandas_tables")
def _retail_kpi_pandas_tables(p: Params) -> dict:
    import analyst_pandas

    lines = analyst_pandas.flag_lines(analyst_pandas.read_lines(p["retail_csv"]))
    orders, returns = analyst_pandas.build_orders(lines), analyst_pandas.build_returns(lines)
    res = _repeat(lambda: analyst_pandas.monthly_kpis(orders, returns), p["warm"])
    _save_check(p, res.pop("_out"))
    return res


# --------------------------------------------------------------------------------------
# 3. Ingestion of the synthetic event table from Parquet
# --------------------------------------------------------------------------------------
@case("events_ingest_shopscope")
def _events_ingest_shopscope(p: Params) -> dict:
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    src = Path(p["scratch"]) / "src"
    src.mkdir(parents=True)
    (src / "events.parquet").symlink_to(Path(p["events_parquet"]).resolve())
    ws = Workspace.create(Path(p["scratch"]) / "ws")
    ws.store  # noqa: B018
    t0 = _ready()
    result = ingest_file(ws, src, preset="canonical")
    t_load = time.perf_counter() - t0
    ws.close()
    return {"seconds": time.perf_counter() - t0, "load_seconds": t_load,
            "rows": dict(result.rows_added)}


@case("events_ingest_duckdb")
def _events_ingest_duckdb(p: Params) -> dict:
    import duckdb

    con = duckdb.connect(str(Path(p["scratch"]) / "events.duckdb"))
    con.execute("SET enable_progress_bar = false")
    t0 = _ready()
    con.execute("CREATE TABLE events AS SELECT * FROM read_parquet(?)", [p["events_parquet"]])
    t_load = time.perf_counter() - t0
    n = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - t0, "load_seconds": t_load,
            "rows": {"events": n}}


# --------------------------------------------------------------------------------------
# 4. Daily PV / UV / purchasing visitors over the stored events
# --------------------------------------------------------------------------------------
def _daily_frame(frame):
    import pandas as pd

    out = frame[DAILY_COLUMNS].copy()
    out["period"] = pd.to_datetime(out["period"]).astype("datetime64[us]")
    for col in DAILY_COLUMNS[1:]:
        out[col] = out[col].astype("int64")
    return out.sort_values("period").reset_index(drop=True)


@case("events_daily_shopscope")
def _events_daily_shopscope(p: Params) -> dict:
    from shopscope.kpis.queries import kpi_expr
    from shopscope.store import Workspace

    store = Workspace.open(p["events_ws"]).store
    seconds, frame = _timed(lambda: kpi_expr(store, grain="day").execute())
    _save_check(p, _daily_frame(frame))
    return {"seconds": seconds, "days": len(frame)}


@case("events_daily_shopscope_events_only")
def _events_daily_shopscope_events_only(p: Params) -> dict:
    # Diagnosis only: the events part of kpi_expr alone (a private helper), to tell the
    # cost of the events aggregate from the cost of the rest of the KPI expression.
    import importlib

    from shopscope.store import Workspace

    k = importlib.import_module("shopscope.kpis.queries")

    store = Workspace.open(p["events_ws"]).store
    seconds, frame = _timed(
        lambda: k._events_part(store, "day", None, k._Window()).execute()
    )
    _save_check(p, _daily_frame(frame))
    return {"seconds": seconds, "days": len(frame)}


DAILY_SQL = """
SELECT date_trunc('day', event_at)::DATE AS period,
       count(*) FILTER (WHERE event_type = 'view') AS pv,
       count(DISTINCT coalesce(user_id, anonymous_id)) AS uv,
       count(DISTINCT coalesce(user_id, anonymous_id))
           FILTER (WHERE event_type = 'purchase') AS event_buyers
FROM events
GROUP BY 1
ORDER BY 1
"""


@case("events_daily_duckdb")
def _events_daily_duckdb(p: Params) -> dict:
    import duckdb

    con = duckdb.connect(str(Path(p["events_ws"]) / "shop.duckdb"), read_only=True)
    con.execute("SET enable_progress_bar = false")
    seconds, frame = _timed(lambda: con.execute(DAILY_SQL).df())
    _save_check(p, _daily_frame(frame))
    return {"seconds": seconds, "days": len(frame)}


def _polars_daily(path: str, engine: str):
    import polars as pl

    visitor = pl.coalesce("user_id", "anonymous_id")
    return (
        pl.scan_parquet(path)
        .group_by(pl.col("event_at").dt.truncate("1d").alias("period"))
        .agg(
            pv=(pl.col("event_type") == "view").sum(),
            uv=visitor.drop_nulls().n_unique(),
            event_buyers=visitor.filter(pl.col("event_type") == "purchase")
            .drop_nulls()
            .n_unique(),
        )
        .sort("period")
        .collect(engine=engine)
    )


@case("events_daily_polars")
def _events_daily_polars(p: Params) -> dict:
    # collect()'s default engine ("auto") is the streaming engine in Polars 2.
    seconds, frame = _timed(lambda: _polars_daily(p["events_parquet"], "auto"))
    _save_check(p, _daily_frame(frame.to_pandas()))
    return {"seconds": seconds, "days": frame.height}


@case("events_daily_polars_inmemory")
def _events_daily_polars_inmemory(p: Params) -> dict:
    seconds, frame = _timed(lambda: _polars_daily(p["events_parquet"], "in-memory"))
    _save_check(p, _daily_frame(frame.to_pandas()))
    return {"seconds": seconds, "days": frame.height}


@case("events_daily_pandas")
def _events_daily_pandas(p: Params) -> dict:
    import pandas as pd

    def run() -> pd.DataFrame:
        df = pd.read_parquet(p["events_parquet"],
                             columns=["event_at", "user_id", "anonymous_id", "event_type"])
        df["period"] = df["event_at"].dt.floor("D")
        df["visitor"] = df["user_id"].fillna(df["anonymous_id"])
        df["is_view"] = df["event_type"] == "view"
        by_day = df.groupby("period")
        out = pd.DataFrame({"pv": by_day["is_view"].sum(), "uv": by_day["visitor"].nunique()})
        buyers = df[df["event_type"] == "purchase"].groupby("period")["visitor"].nunique()
        out["event_buyers"] = buyers.reindex(out.index, fill_value=0)
        return out.reset_index()

    seconds, frame = _timed(run)
    _save_check(p, _daily_frame(frame))
    return {"seconds": seconds, "days": len(frame)}


# --------------------------------------------------------------------------------------
# Frequently bought together: pair rules on Online Retail (issue 16)
# --------------------------------------------------------------------------------------
RULE_SUPPORT = 0.01
RULE_COLUMNS = ["antecedents", "consequents", "support", "confidence", "lift", "leverage",
                "conviction"]


def _rules_frame(frame):  # pandas in, pandas out
    """Rules in one comparable form: items as sorted ``a|b`` text, measures to 10 places."""
    out = frame[RULE_COLUMNS].copy()
    for col in ("antecedents", "consequents"):
        out[col] = ["|".join(sorted(str(x) for x in v)) for v in out[col]]
    for col in RULE_COLUMNS[2:]:
        out[col] = out[col].astype(float).round(10)
    return out.sort_values(["antecedents", "consequents"]).reset_index(drop=True)


@case("retail_rules_shopscope")
def _retail_rules_shopscope(p: Params) -> dict:
    from shopscope.products.baskets import rules
    from shopscope.store import Workspace

    ws = Workspace.open(p["retail_ws"])
    store = ws.store
    res = _repeat(lambda: rules(store, None, None, min_support=RULE_SUPPORT,
                                max_len=2).execute(), p["warm"])
    out = res.pop("_out")
    _save_check(p, _rules_frame(out))
    res["rules"] = len(out)
    return res


@case("retail_rules_mlxtend")
def _retail_rules_mlxtend(p: Params) -> dict:
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    from shopscope.store import Workspace

    # the same baskets, in memory before the clock starts: product lines of orders not
    # cancelled, one list of distinct SKUs per order
    store = Workspace.open(p["retail_ws"]).store
    orders, items = store.table("orders"), store.table("order_items")
    kept = orders.filter(orders.status != "cancelled")
    lines = items.join(kept, "order_id").select("order_id", "product_id").execute().dropna()
    baskets = lines.groupby("order_id")["product_id"].agg(lambda s: sorted(set(s))).tolist()

    def run():
        enc = TransactionEncoder()
        dense = pd.DataFrame(enc.fit(baskets).transform(baskets), columns=enc.columns_)
        frequent = fpgrowth(dense, min_support=RULE_SUPPORT, use_colnames=True, max_len=2)
        return association_rules(frequent, num_itemsets=len(dense), metric="support",
                                 min_threshold=0.0)

    res = _repeat(run, p["warm"])
    out = res.pop("_out")
    _save_check(p, _rules_frame(out))
    res["rules"] = len(out)
    return res


def _register_more() -> None:
    """Cases kept in their own modules (behaviour analytics: funnels, retention, paths)."""
    import behaviour_cases

    CASES.update(behaviour_cases.CASES)


def main() -> None:
    _register_more()
    name, params = sys.argv[1], json.loads(sys.argv[2])
    if params.get("mem_limit_gb"):
        limit = int(params["mem_limit_gb"] * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    rss_start = _rss_mb()
    result = CASES[name](params)
    result = {k: v for k, v in result.items() if not k.startswith("_")}
    result["rss_start_mb"] = rss_start
    result.update(_MARK)
    result["rss_end_mb"] = _rss_mb()
    print("BENCH_RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
