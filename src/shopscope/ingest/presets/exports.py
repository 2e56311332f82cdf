"""Presets for shops' own order exports: Shopify, WooCommerce, Tmall/Taobao (千牛),
Douyin (抖店) and the Olist-style normalised marketplace schema; and for ad platforms'
campaign reports by day (:data:`SPEND`: Google Ads, Meta, 巨量引擎, 千川, 直通车, 腾讯广告,
小红书 聚光) into ``marketing_spend``.

Each is a mapping file shipped with shopscope (``presets/mappings/<name>.toml``; read it to
see exactly how every column is taken), run by :func:`~shopscope.ingest.mapping.ingest_mapping`
on the files given: validated, atomic and idempotent like any mapping. ``docs/ingest.md``
says which export version each one follows.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from shopscope.errors import InputError
from shopscope.ingest.load import LoadResult, Progress
from shopscope.ingest.validate import Policy
from shopscope.store import Workspace

#: preset name → what it reads (for the CLI's help and errors)
EXPORTS: dict[str, str] = {
    "shopify": "Shopify admin orders export (orders_export.csv), one row per line item",
    "woocommerce": "WooCommerce Customer/Order/Coupon Export, default CSV one row per item",
    "tmall": "Tmall/Taobao 千牛 order report + item report (ExportOrderList, "
             "ExportOrderDetailList), GBK",
    "douyin": "Douyin 抖店 order export by sub-order (商品维度), UTF-8 with BOM or GBK",
    "olist": "Olist-style marketplace folder: olist_orders/order_items/customers/"
             "order_payments_dataset.csv",
}
#: ad platform campaign reports by day → marketing_spend, each with a constant channel
SPEND: dict[str, str] = {
    "google_ads": "Google Ads campaign report by Day (UI download CSV): Day, Campaign, Cost, "
                  "Impr., Clicks → channel google_ads",
    "meta_ads": "Meta Ads Manager export by day: Reporting starts, Campaign name, "
                "Amount spent (XXX), Impressions, Link clicks → channel meta_ads",
    "ocean_engine": "巨量引擎 计划报表 by day: 日期, 计划名称, 消耗, 展示数, 点击数 → ocean_engine",
    "qianchuan": "巨量千川 计划数据 by day: 日期, 计划名称, 消耗, 展示次数, 点击次数 → qianchuan",
    "ztc": "直通车 推广计划报表 by day: 日期, 计划名字, 花费, 展现量, 点击量 → ztc",
    "tencent_ads": "腾讯广告/广点通 推广计划 by day: 日期, 推广计划名称, 花费, 曝光量, 点击量 "
                   "→ tencent_ads",
    "xiaohongshu": "小红书 聚光 计划 by day: 日期, 计划名称, 消费, 展现量, 点击量 → xiaohongshu",
}
EXPORTS.update(SPEND)
_ITEM_WORDS = ("detail", "item", "宝贝", "明细")
# Meta names the spend column after the account's currency: "Amount spent (EUR)"
_META_SPEND = re.compile(r"^Amount spent \([A-Z]{3}\)$")


def mapping_text(name: str) -> str:
    """The shipped mapping file of an export preset."""
    return resources.files("shopscope.ingest.presets").joinpath(
        "mappings", f"{name}.toml").read_text(encoding="utf-8")


def _placeholders(name: str, paths: Sequence[Path]) -> list[dict[str, Path | str]]:
    """One run per file, or per pair/folder for the multi-file exports."""
    if name == "olist":
        folders = sorted({p if p.is_dir() else p.parent for p in paths})
        return [{"folder": f} for f in folders]
    if name == "tmall":
        files = [f for p in paths for f in (sorted(p.glob("*.csv")) + sorted(p.glob("*.xls*"))
                                            if p.is_dir() else [p])]
        items = [f for f in files if any(w in f.name.lower() for w in _ITEM_WORDS)]
        orders = [f for f in files if f not in items]
        if len(orders) != 1 or len(items) != 1:
            raise InputError(
                f"tmall: give one order report and one item report, got {len(orders)} and "
                f"{len(items)} ({', '.join(f.name for f in files) or 'no files'})",
                hint="the item report's name contains Detail, item, 宝贝 or 明细 "
                "(ExportOrderDetailList…); or pass the folder holding both",
            )
        return [{"orders": orders[0], "items": items[0]}]
    if name == "meta_ads":
        return [{"file": p, "amount_spent": _meta_spend_column(p)} for p in paths]
    return [{"file": p} for p in paths]


def _meta_spend_column(path: Path) -> str:
    """The file's ``Amount spent (XXX)`` header, whatever the account's currency."""
    from shopscope.ingest.readers import ReadOptions, read_text

    names = read_text(path, ReadOptions(format="csv")).columns
    found = [n for n in names if _META_SPEND.match(n.strip())]
    if len(found) != 1:
        raise InputError(
            f"{path}: meta_ads: column 'Amount spent (…)' not found"
            if not found else f"{path}: meta_ads: several spend columns ({', '.join(found)})",
            hint="export the campaign table with the Amount spent column and a currency, "
                 f"e.g. 'Amount spent (USD)'; the file's columns are: {', '.join(names)}",
        )
    return found[0]


def ingest_export(
    workspace: Workspace,
    paths: Sequence[str | Path],
    *,
    preset: str,
    policy: Policy = "reject",
    progress: Progress | None = None,
    force: bool = False,
) -> list[LoadResult]:
    """Load shop exports with one of the :data:`EXPORTS` presets.

    Raises
    ------
    InputError
        A file is missing, or the Tmall pair / Olist folder is incomplete.
    MappingError, ValidationFailed
        As :func:`~shopscope.ingest.mapping.ingest_mapping`: a column the export should
        have is not there (named with the preset's mapping line), or rows are bad.
    """
    from shopscope.ingest.mapping import ingest_mapping

    given = [Path(p).resolve() for p in paths]
    for p in given:
        if not p.exists():
            raise InputError(f"{p}: no such file", hint="check the path")
    template = mapping_text(preset)
    results: list[LoadResult] = []
    for values in _placeholders(preset, given):
        text = template
        for key, value in values.items():
            # JSON string escapes are TOML basic-string escapes
            quoted = json.dumps(value.as_posix() if isinstance(value, Path) else value)[1:-1]
            text = text.replace("{" + key + "}", quoted)
        with tempfile.TemporaryDirectory(prefix="shopscope-preset-") as tmp:
            mapping = Path(tmp) / f"{preset}.toml"
            mapping.write_text(text, encoding="utf-8")
            results += ingest_mapping(workspace, mapping, policy=policy, progress=progress,
                                      force=force)
    return results
