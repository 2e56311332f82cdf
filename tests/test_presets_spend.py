"""Ad platform spend presets (Google Ads, Meta, 巨量引擎, 千川, 直通车, 腾讯广告, 小红书 聚光) on
the hand-written exports in tests/data/spend/, written from the platforms' published column
lists. Every expected total is summed by hand from the fixture's rows (comments show how).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from shopscope.errors import InputError, ValidationFailed
from shopscope.ingest.mapping import MappingError
from shopscope.ingest.presets.exports import EXPORTS, SPEND, ingest_export
from shopscope.store import Workspace

DATA = Path(__file__).parent / "data" / "spend"

# preset → (channel, rows, spend, impressions, clicks), hand-summed from the fixture
EXPECTED = {
    # Total: Account / Total: Search rows left out; "1,234.50" and "12,000" have separators
    "google_ads": ("google_ads", 4, 1234.50 + 88.20 + 1100.00 + 0.00,
                   12000 + 5400 + 11500 + 0, 310 + 97 + 295 + 0),
    # spend column "Amount spent (EUR)"; Link clicks, not Results
    "meta_ads": ("meta_ads", 3, 123.00 + 45.50 + 104.40, 10250 + 3100 + 9800, 240 + 88 + 201),
    # UTF-8 with BOM; the 合计 row on top left out
    "ocean_engine": ("ocean_engine", 3, 1200.00 + 860.50 + 1499.50, 30000 + 21000 + 40000,
                     700 + 450 + 900),
    # ¥520.00 and "¥1,080.00": currency sign and separator
    "qianchuan": ("qianchuan", 3, 520.00 + 1080.00 + 300.25, 15000 + 26000 + 9000,
                  410 + 655 + 120),
    # GBK; the 总计 row at the bottom left out
    "ztc": ("ztc", 3, 1045.00 + 940.50 + 60.00, 8200 + 7900 + 1200, 190 + 171 + 20),
    # GBK
    "tencent_ads": ("tencent_ads", 2, 410.00 + 395.60, 22000 + 21000, 330 + 318),
    # UTF-8 with BOM
    "xiaohongshu": ("xiaohongshu", 3, 150.00 + 1020.00 + 149.90, 12000 + 8000 + 11800,
                    520 + 610 + 498),
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """One workspace with every fixture loaded once (the loads are the slow part)."""
    w = Workspace.create(tmp_path_factory.mktemp("spend") / "ws", timezone="UTC")
    for name in SPEND:
        ingest_export(w, [DATA / f"{name}.csv"], preset=name)
    yield w
    w.close()


@pytest.fixture
def fresh(tmp_path):
    w = Workspace.create(tmp_path / "ws", timezone="UTC")
    yield w
    w.close()


def test_every_platform_has_a_fixture_and_is_an_export_preset():
    assert set(SPEND) == set(EXPECTED)
    assert set(SPEND) <= set(EXPORTS)  # `shopscope ingest <preset>` finds them
    assert (DATA / "ztc.csv").read_bytes().decode("gbk").startswith("日期")  # really GBK
    assert (DATA / "ocean_engine.csv").read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spend_export_totals(ws, name):
    channel, rows, spend, impressions, clicks = EXPECTED[name]
    t = ws.store.table("marketing_spend")
    mine = t.filter(t.channel == channel)
    got = mine.aggregate(n=mine.count(), s=mine.spend.sum(), i=mine.impressions.sum(),
                         c=mine.clicks.sum()).execute().iloc[0]
    assert int(got.n) == rows
    assert math.isclose(float(got.s), spend, abs_tol=1e-6)
    assert (int(got.i), int(got.c)) == (impressions, clicks)


def test_dates_and_campaigns_are_the_files(ws):
    t = ws.store.table("marketing_spend")
    df = t.filter(t.channel == "ztc").execute()
    assert sorted(zip(df.date.astype(str), df.campaign_id, df.spend, strict=True)) == [
        ("2024-12-01", "宝贝推广-羽绒服", 1045.00),
        ("2024-12-02", "宝贝推广-羽绒服", 940.50),
        ("2024-12-02", "店铺推广", 60.00),
    ]
    assert set(t.channel.execute()) == {e[0] for e in EXPECTED.values()}


def test_missing_column_names_the_file_and_column(fresh, tmp_path):
    bad = tmp_path / "腾讯报表.csv"
    bad.write_bytes("日期,推广计划名称,花费,曝光量\r\n2024-12-01,a,1.00,2\r\n".encode("gbk"))
    with pytest.raises(MappingError, match=r"腾讯报表\.csv: column '点击量' not found") as info:
        ingest_export(fresh, [bad], preset="tencent_ads")
    assert "columns.clicks" in str(info.value)
    assert "曝光量" in (info.value.hint or "")  # the file's columns are listed


def test_meta_without_amount_spent_says_so(fresh, tmp_path):
    bad = tmp_path / "meta.csv"
    bad.write_text("Reporting starts,Campaign name,Impressions,Link clicks\n"
                   "2024-12-01,A,10,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"meta\.csv: meta_ads: column 'Amount spent"):
        ingest_export(fresh, [bad], preset="meta_ads")


def test_meta_spend_column_in_any_currency(fresh, tmp_path):
    f = tmp_path / "meta_cny.csv"
    f.write_text("Reporting starts,Reporting ends,Campaign name,Impressions,"
                 "Amount spent (CNY),Link clicks\n2024-12-01,2024-12-01,A,10,\"1,500.00\",1\n",
                 encoding="utf-8")
    ingest_export(fresh, [f], preset="meta_ads")
    assert fresh.store.table("marketing_spend").spend.sum().execute() == 1500.0


def test_duplicate_key_in_a_file_is_refused_and_a_stored_day_is_kept(fresh, tmp_path):
    head = "日期,推广计划名称,花费,曝光量,点击量\r\n"
    dup = tmp_path / "dup.csv"
    dup.write_bytes((head + "2024-12-01,A,10.00,100,1\r\n2024-12-01,A,5.00,50,1\r\n")
                    .encode("gbk"))
    with pytest.raises(ValidationFailed) as info:
        ingest_export(fresh, [dup], preset="tencent_ads")
    (problem,) = info.value.report.problems
    assert problem.row == 2 and "duplicate" in problem.reason  # the second row, not summed
    assert fresh.store.row_count("marketing_spend") == 0       # nothing loaded
    first = tmp_path / "first.csv"
    first.write_bytes((head + "2024-12-01,A,10.00,100,1\r\n").encode("gbk"))
    again = tmp_path / "again.csv"
    again.write_bytes((head + "2024-12-01,A,99.00,100,1\r\n2024-12-02,A,5.00,50,1\r\n")
                      .encode("gbk"))
    ingest_export(fresh, [first], preset="tencent_ads")
    ingest_export(fresh, [again], preset="tencent_ads")
    # the day already stored keeps its first value; only the new day is added
    assert fresh.store.table("marketing_spend").spend.sum().execute() == 10.00 + 5.00


def test_date_only_mapping_with_a_time_zone(fresh, tmp_path):
    """A mapping of a table of dates with its own time zone: nothing to convert (this
    used to fail on an empty aggregate)."""
    data = tmp_path / "s.csv"
    data.write_text("d,c,s\n2024-12-01,x,3.5\n", encoding="utf-8")
    m = tmp_path / "m.toml"
    m.write_text('version = 1\ntimezone = "Asia/Shanghai"\n[[source]]\nfile = "s.csv"\n'
                 'table = "marketing_spend"\n[source.columns]\ndate = "d"\n'
                 'campaign_id = "c"\nspend = "s"\n[source.constants]\nchannel = "x"\n',
                 encoding="utf-8")
    from shopscope.ingest.mapping import ingest_mapping

    ingest_mapping(fresh, m)
    df = fresh.store.table("marketing_spend").execute()
    assert (str(df.date[0])[:10], float(df.spend[0])) == ("2024-12-01", 3.5)


def test_channels_report_shows_the_spend(ws):
    from typer.testing import CliRunner

    from shopscope import cli

    if not any(g.name == "marketing" for g in cli.app.registered_groups):
        cli._register_subcommands()
    res = CliRunner().invoke(cli.app, ["marketing", "channels", "--workspace", str(ws.path),
                                       "--format", "csv"])
    assert res.exit_code == 0, res.stdout + str(res.exception)
    lines = res.stdout.strip().splitlines()
    header = lines[0].split(",")
    rows = {r[header.index("channel")]: r for r in (x.split(",") for x in lines[1:])}
    for channel, _, spend, impressions, clicks in EXPECTED.values():
        row = rows[channel]
        assert math.isclose(float(row[header.index("spend")]), spend, abs_tol=0.005)
        assert int(row[header.index("clicks")]) == clicks
        assert int(row[header.index("impressions")]) == impressions


def test_google_ads_csv_for_excel_utf16_tabs(fresh, tmp_path):
    """The "CSV (Excel)" download is UTF-16 with tabs; its title lines have no tab, so the
    delimiter is sniffed below them."""
    lines = ["Campaign report", "December 1, 2024 - December 1, 2024",
             "Day\tCampaign\tCost\tImpr.\tClicks", "2024-12-01\tBrand\t1,234.50\t12,000\t310",
             "Total: Account\t--\t1,234.50\t12,000\t310"]
    f = tmp_path / "Campaign report.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-16")
    ingest_export(fresh, [f], preset="google_ads")
    df = fresh.store.table("marketing_spend").execute()
    assert (list(df.campaign_id), list(df.spend), list(df.clicks)) == (["Brand"], [1234.5], [310])
