"""RFM on the hand-built shop (values worked out by hand) and on Online Retail against an
independent pandas computation."""

from __future__ import annotations

import pandas as pd
import pytest

from shopscope.customers.rfm import (
    ELEVEN_GRID,
    RfmOptionError,
    classic_segment,
    eleven_segment,
    rfm_scores,
    rfm_table,
    segment_movement,
    segment_summary,
)
from shopscope.store import connect
from tests.conftest import shared_file
from tests.kpi_shop import load


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    store = connect("duckdb://")
    load(store, tmp_path_factory.mktemp("rfm_shop"))
    return store


def test_rfm_by_hand_as_of_march_2024(shop):
    got = rfm_table(shop, "2024-03-01").order_by("customer_id").execute().set_index(
        "customer_id")
    # c1: o01 (Jan 5, net 90) and o06 (Feb 3, net 60); o03 cancelled does not count.
    #     recency: Feb 3 11:00 -> Mar 1 00:00 = 26.5 days -> 26; monetary 90 + 60 - 35 (r1).
    # c2: o02 (Jan 10, net 50), o05 pending (Jan 28, 25): 2 orders; last Jan 28 20:00 ->
    #     Mar 1 = 32.2 days -> 32; monetary 50 + 25 - 10 (r2 cancellation credit).
    # c3: o07 refunded (Feb 14 15:00, net 72): 1 order, 15.375 days -> 15, monetary 72.
    # c4: only o08, cancelled: not a buyer.  Guest o04: no customer.
    assert list(got.index) == ["c1", "c2", "c3"]
    assert got.frequency.tolist() == [2, 2, 1]
    assert got.recency_days.tolist() == [26, 32, 15]
    assert got.monetary.tolist() == pytest.approx([115.0, 65.0, 72.0])


def test_frequency_in_days_and_window(shop):
    # By 2025-03-01 c1 has o01, o06, o12 on three different days.
    days = rfm_table(shop, "2025-03-01", frequency="days").execute().set_index("customer_id")
    assert days.loc["c1", "frequency"] == 3
    # A 60-day window (from 2024-12-31) keeps only o10 (c3), o11 (c4), o12 (c1).
    recent = rfm_table(shop, "2025-03-01", window_days=60).execute().set_index("customer_id")
    assert sorted(recent.index) == ["c1", "c3", "c4"]
    assert recent.loc["c3", "monetary"] == pytest.approx(100.0)  # 120 - 20 discount


def test_scores_ties_and_thresholds(shop):
    scored = rfm_scores(rfm_table(shop, "2024-03-01")).order_by("customer_id").execute()
    # recency 26, 32, 15 -> most recent (c3) = 5; cume_dist of -recency: c2 1/3, c1 2/3,
    # c3 1 -> ceil(5x): 2, 4, 5.  frequency 2, 2, 1: c3 1/3 -> 2; c1, c2 tie at 1 -> 5.
    assert scored.r_score.tolist() == [4, 2, 5]
    assert scored.f_score.tolist() == [5, 5, 2]
    cuts = {"recency_days": [7, 14, 21, 28], "frequency": [1, 2, 3, 4],
            "monetary": [50, 70, 100, 200]}
    fixed = rfm_scores(rfm_table(shop, "2024-03-01"), thresholds=cuts).order_by(
        "customer_id").execute()
    # recency 26 > 21 -> level 4 -> 6-4 = 2; 32 > 28 -> 1; 15 > 14 -> 3 -> 3.
    assert fixed.r_score.tolist() == [2, 1, 3]
    # monetary 115 > 100 -> 4; 65 > 50 -> 2; 72 > 70 -> 3.
    assert fixed.m_score.tolist() == [4, 2, 3]
    with pytest.raises(RfmOptionError, match="4 ascending numbers"):
        rfm_scores(rfm_table(shop, "2024-03-01"), thresholds={"frequency": [3, 1, 2, 4]})


def test_classic_segments_by_hand(shop):
    seg = classic_segment(rfm_scores(rfm_table(shop, "2024-03-01"))).order_by(
        "customer_id").execute()
    # means: recency (26+32+15)/3 = 24.33, frequency 5/3, monetary 252/3 = 84.
    # c1: recency 26 (low), freq 2 (high), monetary 115 (high) -> rFM important retention
    # c2: 32 low, 2 high, 65 low -> rFm general retention
    # c3: 15 high, 1 low, 72 low -> Rfm general development
    assert seg.segment.tolist() == ["important_retention", "general_retention",
                                    "general_development"]


def test_eleven_grid_covers_every_cell():
    assert sorted(ELEVEN_GRID) == [1, 2, 3, 4, 5]
    cells = [name for row in ELEVEN_GRID.values() for name in row]
    assert len(cells) == 25 and len(set(cells)) == 11


def test_segment_summary_and_movement(shop):
    before = classic_segment(rfm_scores(rfm_table(shop, "2024-03-01")))
    after = classic_segment(rfm_scores(rfm_table(shop, "2025-03-01")))
    summary = segment_summary(after, "classic").data
    assert summary.customers.sum() == 4  # c1..c4 have bought by 2025-03-01
    assert summary.share.sum() == pytest.approx(1.0)
    assert summary.revenue_share.sum() == pytest.approx(1.0)
    moves = segment_movement(before, after)
    assert moves.customers.sum() == 4
    assert moves[moves.seg_from.isna()].customers.sum() == 1  # c4 was not a buyer before


@pytest.mark.realdata
def test_online_retail_rfm_against_pandas(tmp_path):
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    path = shared_file("online_retail", "online_retail.csv.gz")
    ws = Workspace.create(tmp_path / "ws")
    ingest_file(ws, path, preset="online_retail")
    got = eleven_segment(rfm_scores(rfm_table(ws.store, "2011-12-10"))).execute()
    # Independent pandas: non-cancel invoices' merchandise lines with a customer.
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[(df.CustomerID != "") & ~df.InvoiceNo.str.startswith("C")]
    code = df.StockCode.str.upper()
    merch = ~code.isin(["POST", "DOT", "C2", "D", "M", "S", "B", "BANK CHARGES",
                        "AMAZONFEE", "CRUK"]) & ~code.str.match(r"(?i)^gift_\d+_\d+$")
    df = df[merch & (df.Quantity.astype(int) > 0)]
    df["cid"] = df.CustomerID.str.replace(r"\.0$", "", regex=True)
    df["at"] = pd.to_datetime(df.InvoiceDate)
    per = df.groupby("cid").agg(freq=("InvoiceNo", "nunique"), last=("at", "max"))
    expected_recency = ((pd.Timestamp("2011-12-10") - per["last"]).dt.total_seconds()
                        // 86400).astype(int)
    got = got.set_index("customer_id")
    assert set(got.index) == set(per.index)
    assert (got.frequency.sort_index() == per.freq.sort_index()).all()
    assert (got.recency_days.sort_index() == expected_recency.sort_index()).all()
    assert got.segment.notna().all()
    assert set(got.r_score) == {1, 2, 3, 4, 5}
    ws.close()
