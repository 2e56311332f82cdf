"""Dashboard messages in English and Chinese, and locale-aware formatting through Babel.

The catalogue is a plain dict: one key per message, one string per language. Languages are
the codes users store (``"en"``, ``"zh"``, as the JSON API uses); :func:`normalize_lang`
also accepts ``zh-CN``/``zh_Hans`` and Accept-Language headers.

Examples
--------
>>> t = Translator("zh")
>>> t("nav.overview"), t.html_lang
('经营概览', 'zh-CN')
>>> t.currency(1234.5, "GBP"), Translator("en").percent(0.1234)
('£1,234.50', '12.3%')
>>> Translator("en").period(dt.date(2011, 1, 1), "quarter"), t.period(dt.date(2011, 1, 1), "quarter")
('Q1 2011', '2011年第1季度')
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from babel import Locale, localedata
from babel.core import get_global
from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent

from shopscope.kpis import METRICS

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
#: Babel locale and HTML ``lang`` attribute of each language.
LOCALES: dict[str, str] = {"en": "en", "zh": "zh_Hans_CN"}
HTML_LANG: dict[str, str] = {"en": "en", "zh": "zh-CN"}
#: The name of each language in itself, for the switch.
NATIVE_NAME: dict[str, str] = {"en": "English", "zh": "中文"}
MISSING = "–"

CATALOGUE: dict[str, dict[str, str]] = {
    # -- frame ----------------------------------------------------------------------------
    "app.name": {"en": "shopscope", "zh": "shopscope"},
    "nav.overview": {"en": "Overview", "zh": "经营概览"},
    "nav.data": {"en": "Data", "zh": "数据管理"},
    "nav.logout": {"en": "Sign out", "zh": "退出登录"},
    "nav.switch_lang": {"en": "Language", "zh": "语言"},
    "nav.user": {"en": "{user} ({role})", "zh": "{user}（{role}）"},
    "nav.main": {"en": "Main navigation", "zh": "主导航"},
    # frame: the phone menu button and the loading indicator (ui/static/nav.js)
    "nav.menu": {"en": "Menu", "zh": "菜单"},
    "busy.loading": {"en": "Loading…", "zh": "正在加载…"},
    "busy.slow": {"en": "Still working: large data can take a while the first time.",
                  "zh": "仍在处理：数据量大时首次加载可能需要一些时间。"},
    "role.admin": {"en": "admin", "zh": "管理员"},
    "role.analyst": {"en": "analyst", "zh": "分析师"},
    "role.viewer": {"en": "viewer", "zh": "查看者"},
    "footer": {"en": "shopscope {version} · workspace {workspace}",
               "zh": "shopscope {version} · 工作区 {workspace}"},
    # -- login ----------------------------------------------------------------------------
    "login.title": {"en": "Sign in", "zh": "登录"},
    "login.intro": {"en": "Sign in to see your shop's dashboard.",
                    "zh": "登录后查看店铺经营看板。"},
    "login.username": {"en": "User name", "zh": "用户名"},
    "login.password": {"en": "Password", "zh": "密码"},
    "login.submit": {"en": "Sign in", "zh": "登录"},
    "login.bad_credentials": {"en": "Wrong user name or password.",
                              "zh": "用户名或密码错误。"},
    "login.rate_limited": {"en": "Too many failed sign-ins. Wait 15 minutes and try again.",
                           "zh": "登录失败次数过多，请 15 分钟后再试。"},
    "login.csrf": {"en": "The form expired or did not come from this page. Please try again.",
                   "zh": "表单已过期或来源无效，请重新提交。"},
    "login.missing": {"en": "Enter your user name and password.",
                      "zh": "请输入用户名和密码。"},
    "login.signed_out": {"en": "You have signed out.", "zh": "您已退出登录。"},
    # -- errors ---------------------------------------------------------------------------
    "error.title": {"en": "Request refused", "zh": "请求被拒绝"},
    "error.csrf": {"en": "The security token is missing or wrong. Go back, reload the page "
                         "and try again.",
                   "zh": "安全令牌缺失或错误。请返回并刷新页面后重试。"},
    "error.back": {"en": "Back to the overview", "zh": "返回经营概览"},
    "error.bad_lang": {"en": "Unknown language.", "zh": "不支持的语言。"},
    # errors of page requests (shopscope.ui.errors): refused URLs, codes of API errors
    "error.invalid_title": {"en": "Cannot show this page", "zh": "无法显示此页面"},
    "error.url_date": {"en": "{name}: {value} is outside the dates shopscope handles "
                             "(1900-01-01 to 2199-12-31). Pick a date in that range.",
                       "zh": "{name}：{value} 超出 shopscope 可处理的日期范围"
                             "（1900-01-01 至 2199-12-31），请选择此范围内的日期。"},
    "error.url_nul": {"en": "{name}: the address contains a NUL character.",
                      "zh": "{name}：地址中包含 NUL 字符。"},
    "error.url_control": {"en": "The address contains a control character.",
                          "zh": "地址中包含控制字符。"},
    "error.code.pii_id": {"en": "This customer id is an e-mail address or a phone number: "
                                "only admins may open it. Open the customer from the "
                                "customer list (its link uses a pseudonymous id, c_…).",
                          "zh": "该客户编号是电子邮箱或电话号码，仅管理员可以打开。"
                                "请从客户列表打开该客户（链接使用匿名编号 c_…）。"},
    # -- filters --------------------------------------------------------------------------
    "filters.legend": {"en": "Filters", "zh": "筛选"},
    "filters.start": {"en": "From", "zh": "开始日期"},
    "filters.end": {"en": "To (inclusive)", "zh": "结束日期（含）"},
    "filters.grain": {"en": "Grain", "zh": "时间粒度"},
    "filters.by": {"en": "Breakdown", "zh": "细分维度"},
    "filters.channel": {"en": "Channel", "zh": "渠道"},
    "filters.category": {"en": "Category", "zh": "品类"},
    "filters.period": {"en": "Cards for", "zh": "卡片周期"},
    "filters.all": {"en": "All", "zh": "全部"},
    "filters.latest": {"en": "Latest full period", "zh": "最近完整周期"},
    "filters.apply": {"en": "Apply", "zh": "应用"},
    "filters.reset": {"en": "Reset", "zh": "重置"},
    "filters.bad_date": {"en": "{field}: “{value}” is not a date; use YYYY-MM-DD.",
                         "zh": "{field}：“{value}”不是有效日期，请使用 YYYY-MM-DD 格式。"},
    "filters.bad_range": {"en": "“From” must not be after “To”; the date range was ignored.",
                          "zh": "开始日期不能晚于结束日期，已忽略日期范围。"},
    "filters.bad_choice": {"en": "{field}: unknown value “{value}”; it was ignored.",
                           "zh": "{field}：未知的值“{value}”，已忽略。"},
    "filters.both_segments": {
        "en": "Filter by a channel or by a category, not both; the category was ignored.",
        "zh": "渠道和品类只能选择其一，已忽略品类筛选。"},
    "grain.day": {"en": "Day", "zh": "日"},
    "grain.week": {"en": "Week", "zh": "周"},
    "grain.month": {"en": "Month", "zh": "月"},
    "grain.quarter": {"en": "Quarter", "zh": "季度"},
    "grain.year": {"en": "Year", "zh": "年"},
    "axis.day": {"en": "Day", "zh": "日期"},
    "axis.week": {"en": "Week (starting Monday)", "zh": "周（周一起）"},
    "axis.month": {"en": "Month", "zh": "月份"},
    "axis.quarter": {"en": "Quarter", "zh": "季度"},
    "axis.year": {"en": "Year", "zh": "年份"},
    "by.channel": {"en": "Channel", "zh": "渠道"},
    "by.country": {"en": "Country", "zh": "国家"},
    "by.region": {"en": "Region", "zh": "地区"},
    "by.category": {"en": "Category", "zh": "品类"},
    "unknown": {"en": "(unknown)", "zh": "（未知）"},
    # -- overview -------------------------------------------------------------------------
    "overview.title": {"en": "Overview", "zh": "经营概览"},
    "overview.segment": {"en": "{field}: {value}", "zh": "{field}：{value}"},
    "overview.all_shop": {"en": "Whole shop", "zh": "全店"},
    "overview.no_data": {"en": "No orders in this range.", "zh": "所选范围内没有订单数据。"},
    "overview.range": {"en": "{start} to {end}", "zh": "{start} 至 {end}"},
    "overview.data_range": {"en": "Data from {start} to {end}", "zh": "数据范围：{start} 至 {end}"},
    "cards.heading": {"en": "Key figures: {period}", "zh": "核心指标：{period}"},
    "cards.partial": {"en": " (partial)", "zh": "（不完整）"},
    "cards.pop": {"en": "vs previous {grain}", "zh": "环比"},
    "cards.yoy": {"en": "vs a year earlier", "zh": "同比"},
    "cards.no_comparison": {"en": "no earlier value", "zh": "无可比数据"},
    "cards.was": {"en": "was {value}", "zh": "对比值 {value}"},
    "totals.heading": {"en": "Whole range: {range}", "zh": "全部期间：{range}"},
    "totals.segment_note": {
        "en": "Whole-range totals are shown for the whole shop only.",
        "zh": "全部期间汇总仅在未筛选渠道或品类时显示。"},
    "chart.sales": {"en": "GMV and net sales per {grain}", "zh": "各{grain}成交总额与净销售额"},
    "chart.orders": {"en": "Orders and buyers per {grain}", "zh": "各{grain}订单数与买家数"},
    "chart.aov": {"en": "Average order value and repurchase rate per {grain}",
                  "zh": "各{grain}客单价与复购率"},
    "chart.rates": {"en": "Cancellation, return and conversion rates per {grain}",
                    "zh": "各{grain}取消率、退货率与转化率"},
    "chart.rates_no_events": {"en": "Cancellation and return rates per {grain}",
                              "zh": "各{grain}取消率与退货率"},
    "chart.breakdown": {"en": "Net sales by {by}, {range} (top {n})",
                        "zh": "按{by}的净销售额，{range}（前 {n} 名）"},
    "chart.breakdown_all": {"en": " — whole shop", "zh": "（全店）"},
    "chart.amount": {"en": "Amount ({currency})", "zh": "金额（{currency}）"},
    "chart.count": {"en": "Count", "zh": "数量"},
    "chart.percent": {"en": "Rate (%)", "zh": "比率（%）"},
    "chart.share": {"en": "share of net sales {share}", "zh": "占净销售额 {share}"},
    "chart.others": {"en": "Other ({n})", "zh": "其他（{n} 项）"},
    "chart.noscript": {"en": "Charts need JavaScript.", "zh": "图表需要启用 JavaScript。"},
    # -- data page ------------------------------------------------------------------------
    "data.title": {"en": "Data", "zh": "数据管理"},
    "data.tables": {"en": "Tables", "zh": "数据表"},
    "data.table": {"en": "Table", "zh": "表"},
    "data.rows": {"en": "Rows", "zh": "行数"},
    "data.time_column": {"en": "Time column", "zh": "时间字段"},
    "data.first": {"en": "First", "zh": "最早"},
    "data.last": {"en": "Last", "zh": "最晚"},
    "data.loads": {"en": "Ingest log", "zh": "导入日志"},
    "data.no_loads": {"en": "Nothing loaded yet.", "zh": "尚未导入任何数据。"},
    "data.source": {"en": "Source file", "zh": "源文件"},
    "data.preset": {"en": "Preset", "zh": "预设格式"},
    "data.rows_read": {"en": "Read", "zh": "读取行数"},
    "data.rows_added": {"en": "Added", "zh": "新增行数"},
    "data.rows_rejected": {"en": "Rejected", "zh": "拒绝行数"},
    "data.loaded_at": {"en": "Loaded at", "zh": "导入时间"},
    "data.rejects": {"en": "Rejected rows", "zh": "被拒绝的行"},
    "data.rejects_total": {"en": "{n} rejected values", "en_one": "{n} rejected value",
                           "zh": "共 {n} 个被拒绝的值"},
    "data.no_rejects": {"en": "No rejected rows.", "zh": "没有被拒绝的行。"},
    "data.masked": {"en": "Personal data (e-mail, phone, name, address) is masked for your role.",
                    "zh": "根据您的角色，个人信息（邮箱、电话、姓名、地址）已隐藏。"},
    "data.row": {"en": "Row", "zh": "行号"},
    "data.column": {"en": "Column", "zh": "字段"},
    "data.value": {"en": "Value", "zh": "值"},
    "data.reason": {"en": "Reason", "zh": "原因"},
    "data.empty_value": {"en": "(empty)", "zh": "（空）"},
    # the warm-up after a load (shopscope.ui.warmup)
    "warmup.running": {"en": "Preparing dashboards: {done} of {total} views ready",
                       "en_one": "Preparing dashboards: {done} of {total} view ready",
                       "zh": "正在准备看板：已完成 {done}/{total} 个视图"},
    "warmup.done": {"en": "Dashboards ready: {total} views prepared in {time}",
                    "en_one": "Dashboards ready: {total} view prepared in {time}",
                    "zh": "看板已就绪：{total} 个视图，用时 {time}"},
    "warmup.cancelled": {"en": "Preparing dashboards was stopped.",
                         "zh": "看板准备已停止。"},
    "warmup.failed": {"en": "{n} views could not be prepared",
                      "en_one": "{n} view could not be prepared",
                      "zh": "{n} 个视图未能准备"},
    "pager.prev": {"en": "Previous", "zh": "上一页"},
    "pager.next": {"en": "Next", "zh": "下一页"},
    "pager.page": {"en": "Page {page} of {pages}", "zh": "第 {page} 页，共 {pages} 页"},
    # -- customers pages ------------------------------------------------------------------
    "nav.customers": {"en": "Customers", "zh": "客户分析"},
    "nav.audiences": {"en": "Audiences", "zh": "人群圈选"},
    "nav.behaviour": {"en": "Behaviour", "zh": "行为分析"},
    "nav.experiments": {"en": "Experiments", "zh": "A/B 实验"},
    "exp.list_title": {"en": "Experiments", "zh": "实验列表"},
    "exp.none": {"en": "No saved experiments yet.", "zh": "还没有保存的实验。"},
    "exp.define_hint": {
        "en": "Define one with `shopscope experiment save definition.json` or POST /api/experiments "
              "(docs/experiments/analysis.md).",
        "zh": "用 `shopscope experiment save 定义.json` 或 POST /api/experiments 创建实验（见 docs/experiments/analysis.md）。"},
    "exp.name": {"en": "Experiment", "zh": "实验"},
    "exp.window": {"en": "Window", "zh": "实验期"},
    "exp.variants": {"en": "Variants", "zh": "实验组"},
    "exp.units": {"en": "Units", "zh": "样本数"},
    "exp.split": {"en": "Split", "zh": "分流"},
    "exp.headline": {"en": "First metric", "zh": "主要指标"},
    "exp.p": {"en": "p", "zh": "p 值"},
    "exp.p_adj": {"en": "p (adjusted)", "zh": "p 值（校正后）"},
    "exp.win": {"en": "Chance to win", "zh": "胜出概率"},
    "exp.loss": {"en": "Expected loss", "zh": "期望损失"},
    "exp.srm_ok_short": {"en": "as planned", "zh": "正常"},
    "exp.srm_bad_short": {"en": "MISMATCH", "zh": "分流异常"},
    "exp.srm_ok": {"en": "Sample ratio as planned.", "zh": "样本比例符合计划。"},
    "exp.srm_bad": {"en": "SAMPLE RATIO MISMATCH: do not trust these results until the "
                           "assignment is fixed.",
                    "zh": "样本比例异常（SRM）：在分流问题解决前，请勿采信以下结果。"},
    "exp.not_found_title": {"en": "No such experiment", "zh": "没有该实验"},
    "exp.not_found": {"en": "There is no saved experiment {id!r}.", "zh": "没有名为 {id} 的实验。"},
    "exp.unit.customer": {"en": "unit: customer", "zh": "实验单位：客户"},
    "exp.unit.visitor": {"en": "unit: visitor", "zh": "实验单位：访客"},
    "exp.hypothesis": {"en": "Hypothesis", "zh": "假设"},
    "exp.results": {"en": "Results", "zh": "实验结果"},
    "exp.metric": {"en": "Metric", "zh": "指标"},
    "exp.variant": {"en": "Variant", "zh": "实验组"},
    "exp.control_value": {"en": "Control", "zh": "对照组"},
    "exp.variant_value": {"en": "Variant", "zh": "实验组"},
    "exp.lift_ci": {"en": "Lift [95% interval]", "zh": "提升 [95% 区间]"},
    "exp.cuped": {"en": "CUPED lift", "zh": "CUPED 提升"},
    "exp.reduction": {"en": "Variance cut", "zh": "方差降低"},
    "exp.units_per_variant": {"en": "Units", "zh": "样本数"},
    "exp.correction.holm": {"en": "Holm-adjusted across variants", "zh": "多组比较按 Holm 校正"},
    "exp.correction.bh": {"en": "Benjamini-Hochberg-adjusted across variants",
                          "zh": "多组比较按 Benjamini-Hochberg 校正"},
    "exp.prior": {"en": "Beta({a}, {b}) prior for rates", "zh": "比率先验 Beta({a}, {b})"},
    "exp.data_version": {"en": "data version {v}", "zh": "数据版本 {v}"},
    "exp.rel_lift": {"en": "Lift (relative)", "zh": "相对提升"},
    "exp.forest_title": {"en": "Lift with 95% intervals", "zh": "提升及 95% 置信区间"},
    "exp.ci_fixed": {"en": "95% interval (valid at the planned end)",
                     "zh": "95% 区间（仅在计划结束时有效）"},
    "exp.abs_lift": {"en": "Difference", "zh": "差值"},
    "exp.confidence_sequence": {"en": "Always-valid interval", "zh": "随时有效区间"},
    "exp.cumulative_title": {"en": "Cumulative {metric}: {variant} − control",
                             "zh": "累计 {metric}：{variant} − 对照组"},
    "exp.sequential_title": {"en": "Sequential test of {metric}", "zh": "{metric} 的序贯检验"},
    "exp.always_valid_p": {"en": "Always-valid p", "zh": "随时有效 p 值"},
    "exp.boundary": {"en": "stop below {alpha}", "zh": "低于 {alpha} 可停止"},
    "exp.segments": {"en": "By segment", "zh": "分群结果"},
    "exp.gs_title": {"en": "Group-sequential test of {metric} (daily looks)",
                     "zh": "{metric} 的成组序贯检验（每日查看）"},
    "exp.gs_boundary": {"en": "stopping boundary (alpha spending)", "zh": "停止边界（α 消耗）"},
    "exp.exploratory": {"en": "exploratory", "zh": "探索性"},
    "exp.exploratory_note": {
        "en": "Many unplanned comparisons without multiplicity correction: use these to form "
              "hypotheses for the next test, not to decide.",
        "zh": "分群比较较多且未做多重校正：仅用于为下一次实验提出假设，不作为决策依据。"},
    "exp.segment": {"en": "Segment", "zh": "分群维度"},
    "exp.segment_value": {"en": "Value", "zh": "取值"},
    "exp.seg.channel": {"en": "Channel", "zh": "渠道"},
    "exp.seg.new_vs_returning": {"en": "New vs returning", "zh": "新客/老客"},
    "exp.seg.rfm_segment": {"en": "RFM segment", "zh": "RFM 分群"},
    "exp.error.empty": {"en": "no units", "zh": "无样本"},
    "exp.error.too_few_units": {"en": "too few units", "zh": "样本过少"},
    "exp.error.zero_variance": {"en": "no variation", "zh": "无差异"},
    "exp.error.zero_denominator": {"en": "zero denominator", "zh": "分母为零"},
    "exp.error.no_scale": {"en": "no scale", "zh": "无尺度"},
    "exp.plan_title": {"en": "Sample size", "zh": "样本量计算"},
    "exp.bad_number": {"en": "{field}: {value!r} is not a number.", "zh": "{field}：{value} 不是数字。"},
    "exp.f.metric": {"en": "Metric", "zh": "指标类型"},
    "exp.f.baseline": {"en": "Baseline (rate or mean)", "zh": "基线（转化率或均值）"},
    "exp.f.sd": {"en": "Std. deviation (means)", "zh": "标准差（均值指标）"},
    "exp.f.mde": {"en": "Min. detectable effect (%)", "zh": "最小可检测效应（%）"},
    "exp.f.mde_kind": {"en": "Effect is", "zh": "效应口径"},
    "exp.f.alpha": {"en": "Alpha", "zh": "显著性水平 α"},
    "exp.f.power": {"en": "Power", "zh": "统计功效"},
    "exp.f.variants": {"en": "Arms (incl. control)", "zh": "组数（含对照组）"},
    "exp.f.daily_traffic": {"en": "Eligible units per day", "zh": "每日可进入实验的用户数"},
    "exp.f.share": {"en": "Share in test (%)", "zh": "实验流量占比（%）"},
    "exp.metric.proportion": {"en": "Rate (conversion)", "zh": "比率（转化率）"},
    "exp.metric.mean": {"en": "Mean (e.g. spend per customer)", "zh": "均值（如人均消费）"},
    "exp.mde.relative": {"en": "relative to baseline", "zh": "相对基线"},
    "exp.mde.absolute": {"en": "absolute (points / units)", "zh": "绝对值（百分点/单位）"},
    "exp.calculate": {"en": "Calculate", "zh": "计算"},
    "exp.n_per_variant": {"en": "Units per arm", "zh": "每组样本量"},
    "exp.total": {"en": "Units in all ({variants} arms)", "zh": "总样本量（{variants} 组）"},
    "exp.duration": {"en": "Duration", "zh": "预计时长"},
    "exp.n_days": {"en": "{n} days", "en_one": "{n} day", "zh": "{n} 天"},
    "exp.alpha_each": {"en": "Alpha per comparison", "zh": "每次比较的 α"},
    "exp.plan_note": {
        "en": "Two-sided z-test (unpooled variance for rates, t-test for means); more than two "
              "arms split alpha over the comparisons with control (Bonferroni).",
        "zh": "双侧检验（比率用非合并方差 z 检验，均值用 t 检验）；多于两组时按与对照组的比较次数拆分 α（Bonferroni）。"},
    "exp.tradeoff_title": {"en": "Detectable effect by test duration",
                           "zh": "不同实验时长可检测的最小效应"},
    "exp.days": {"en": "Days", "zh": "天数"},
    "exp.detectable_rel": {"en": "Detectable lift (relative)", "zh": "可检测提升（相对）"},
    "exp.detectable_abs": {"en": "Detectable effect (absolute)", "zh": "可检测效应（绝对）"},
    # assignment log quality (repeated and multi-arm units) and experiments without units
    "exp.multi_arm.exclude": {
        "en": "{n} units were logged in more than one arm and are left out of these results.",
        "zh": "{n} 个样本单位被记录在多个实验组中，已从结果中剔除。"},
    "exp.multi_arm.first": {
        "en": "{n} units were logged in more than one arm; each is counted in the arm of its "
              "earliest exposure.",
        "zh": "{n} 个样本单位被记录在多个实验组中，按最早一次曝光所在的组计入。"},
    "exp.multi_arm.why": {
        "en": "Units that switch arms point at broken bucketing or identity: check the "
              "assignment code.",
        "zh": "样本单位切换实验组通常意味着分流或身份识别有误，请检查分流代码。"},
    "exp.multi_arm.show_first": {"en": "Count them in their first arm instead",
                                 "zh": "改为按最早所在组计入"},
    "exp.multi_arm.show_exclude": {"en": "Leave them out (default)", "zh": "剔除它们（默认）"},
    "exp.repeated_rows": {
        "en": "{n} repeated exposure rows of {rows} logged were dropped: each unit counts "
              "once, from its earliest exposure.",
        "zh": "已丢弃 {n} 条重复曝光记录（共记录 {rows} 条）：每个样本单位只按最早一次曝光计一次。"},
    "exp.repeated_ingest": {"en": "{n} of them were set aside at ingest (see Data → rejects).",
                            "zh": "其中 {n} 条在导入时被移入被拒绝的行（见数据页）。"},
    "exp.no_units": {"en": "Nothing to analyse for experiment {id}.",
                     "zh": "实验 {id} 没有可分析的样本单位。"},
    "beh.title": {"en": "Behaviour", "zh": "行为分析"},
    "beh.source": {"en": "Data", "zh": "数据来源"},
    "beh.source.events": {"en": "Behaviour events", "zh": "行为事件"},
    "beh.source.orders": {"en": "Orders as purchases", "zh": "订单（视为购买事件）"},
    # which source was read and why a result is empty (behaviour/source.py)
    "beh.source.auto": {"en": "Automatic (events, else orders)",
                        "zh": "自动（有行为事件用事件，否则用订单）"},
    "beh.src.events": {"en": "events", "zh": "行为事件"},
    "beh.src.orders": {"en": "orders", "zh": "订单"},
    "beh.range.between": {"en": "between {start} and {end}", "zh": "{start} 至 {end} 之间"},
    "beh.range.from": {"en": "from {start} on", "zh": "{start} 起"},
    "beh.range.to": {"en": "up to {end}", "zh": "截至 {end}"},
    "beh.range.all": {"en": "in this workspace", "zh": "本工作区中"},
    "beh.empty.no_data": {"en": "No events or orders {range}.",
                          "zh": "{range}没有行为事件或订单。"},
    "beh.empty.no_rows": {"en": "No {source} {range}.", "zh": "{range}没有{source}。"},
    "beh.empty.no_match": {
        "en": "There are {source} {range}, but none matches these options (steps, event, "
              "filters).",
        "zh": "{range}有{source}，但没有符合这些条件（步骤、事件、筛选）的数据。"},
    "beh.empty.orders_only": {"en": "Orders give purchase events only.",
                              "zh": "订单只提供购买事件。"},
    "beh.empty.suggest": {"en": "Choose “{source}” under Data.",
                          "zh": "请在“数据来源”中选择“{source}”。"},
    "beh.orders_note": {
        "en": "Showing orders as purchase events: each order is a purchase by its customer "
              "(a guest order is a visitor of its own).",
        "zh": "当前以订单作为购买事件：每笔订单视为其客户的一次购买（游客订单各自计为一位访客）。"},
    "beh.tab.trends": {"en": "Trends", "zh": "流量趋势"},
    "beh.tab.funnel": {"en": "Funnel", "zh": "转化漏斗"},
    "beh.tab.retention": {"en": "Retention", "zh": "留存与复购"},
    "beh.tab.paths": {"en": "Paths", "zh": "行为路径"},
    "beh.not_found_title": {"en": "No such analysis", "zh": "没有该分析"},
    "beh.not_found": {"en": "There is no behaviour page {tab!r}.",
                      "zh": "没有名为 {tab} 的行为分析页面。"},
    "beh.no_events": {"en": "No behaviour events or orders loaded yet.",
                      "zh": "尚未导入行为事件或订单数据。"},
    "beh.no_result": {"en": "Nothing matches these options.", "zh": "没有符合这些条件的数据。"},
    "beh.bad_option": {"en": "{field}: {value!r} is not valid; the default is used.",
                       "zh": "{field}：{value} 无效，已使用默认值。"},
    "beh.steps": {"en": "Steps (separated by >)", "zh": "步骤（用 > 分隔）"},
    "beh.window": {"en": "Window", "zh": "转化窗口"},
    "beh.mode": {"en": "Count", "zh": "计数方式"},
    "beh.mode.user": {"en": "Visitors", "zh": "访客"},
    "beh.mode.order": {"en": "Journeys (every order)", "zh": "转化旅程（每笔订单）"},
    "beh.order": {"en": "Step order", "zh": "步骤顺序"},
    "beh.order.sequential": {"en": "In order", "zh": "按顺序"},
    "beh.order.any": {"en": "Any order", "zh": "任意顺序"},
    "beh.same_product": {"en": "Same product", "zh": "同一商品"},
    "beh.yes": {"en": "Yes", "zh": "是"},
    "beh.no": {"en": "No", "zh": "否"},
    "beh.by": {"en": "Breakdown", "zh": "拆分维度"},
    "beh.none": {"en": "(none)", "zh": "（无）"},
    "beh.event": {"en": "Event", "zh": "事件"},
    "beh.any_event": {"en": "any event", "zh": "任意事件"},
    "beh.start_event": {"en": "Cohort by first", "zh": "起始事件"},
    "beh.return_event": {"en": "Returns with", "zh": "回访事件"},
    "beh.periods": {"en": "Periods", "zh": "周期数"},
    "beh.ret.exact": {"en": "In period N", "zh": "第 N 期"},
    "beh.ret.unbounded": {"en": "In N or later", "zh": "第 N 期及以后"},
    "beh.grain": {"en": "Grain", "zh": "粒度"},
    "beh.from": {"en": "From step", "zh": "起点事件"},
    "beh.to": {"en": "To step", "zh": "终点事件"},
    "beh.length": {"en": "Length", "zh": "路径长度"},
    "beh.top": {"en": "Top", "zh": "前 N 条"},
    "beh.exclude": {"en": "Leave out", "zh": "排除事件"},
    "beh.collapse": {"en": "Merge repeats", "zh": "合并重复"},
    "beh.compare_start": {"en": "Compare from", "zh": "对比开始"},
    "beh.compare_end": {"en": "Compare to", "zh": "对比结束"},
    "beh.visitors": {"en": "Visitors", "zh": "访客数"},
    "beh.journeys": {"en": "Journeys", "zh": "旅程数"},
    "beh.count": {"en": "Count", "zh": "数量"},
    "beh.dropped": {"en": "Dropped", "zh": "流失"},
    "beh.funnel_title": {"en": "Funnel: {unit} reaching each step",
                         "zh": "转化漏斗：各步骤{unit}"},
    "beh.time_to_convert": {"en": "Time from first to last step", "zh": "从首步到末步的转化时长"},
    "beh.time": {"en": "Time", "zh": "时长"},
    "beh.conversion": {"en": "Conversion", "zh": "转化率"},
    "beh.conversion_by": {"en": "Overall conversion by {by}", "zh": "按{by}拆分的总转化率"},
    "beh.funnel_trend": {"en": "Overall conversion by {grain}", "zh": "按{grain}的总转化率"},
    "beh.steps_table": {"en": "Steps", "zh": "步骤明细"},
    "beh.step": {"en": "Step", "zh": "步骤"},
    "beh.from_prev": {"en": "From previous", "zh": "上一步转化率"},
    "beh.overall": {"en": "Overall", "zh": "总转化率"},
    "beh.median_time": {"en": "Median time", "zh": "中位时长"},
    "beh.value": {"en": "Value", "zh": "金额"},
    "beh.value_lost": {"en": "Value lost", "zh": "流失金额"},
    "beh.audience": {"en": "Who dropped", "zh": "流失人群"},
    "beh.export_dropped": {"en": "Export CSV", "zh": "导出 CSV"},
    "beh.breakdown": {"en": "Breakdown", "zh": "拆分结果"},
    "beh.entered": {"en": "Entered", "zh": "进入"},
    "beh.converted": {"en": "Converted", "zh": "转化"},
    "beh.uv_by": {"en": "Visitors by {by} per {grain}", "zh": "按{by}拆分的每{grain}访客数"},
    "beh.traffic": {"en": "Page views and visitors per {grain}", "zh": "每{grain}浏览量与访客数"},
    "beh.actives": {"en": "Active visitors per {grain}", "zh": "每{grain}活跃访客"},
    "beh.m.pv": {"en": "PV", "zh": "浏览量 PV"},
    "beh.m.uv": {"en": "UV", "zh": "访客数 UV"},
    "beh.m.dau": {"en": "DAU", "zh": "日活 DAU"},
    "beh.m.wau": {"en": "WAU", "zh": "周活 WAU"},
    "beh.m.mau": {"en": "MAU", "zh": "月活 MAU"},
    "beh.m.stickiness": {"en": "Stickiness (DAU/MAU)", "zh": "黏性（DAU/MAU）"},
    "beh.m.events_per_visitor": {"en": "Events per visitor", "zh": "人均事件数"},
    "beh.compared": {"en": "Compared with the second range", "zh": "与对比区间比较"},
    "beh.this_range": {"en": "This range", "zh": "本区间"},
    "beh.other_range": {"en": "Compared range", "zh": "对比区间"},
    "beh.change": {"en": "Change", "zh": "变化"},
    "beh.trend_table": {"en": "By period", "zh": "分期明细"},
    "beh.period": {"en": "Period", "zh": "周期"},
    "beh.cohort": {"en": "Cohort", "zh": "同期群"},
    "beh.retained": {"en": "Retained", "zh": "留存率"},
    "beh.retention_title": {"en": "Retention by cohort", "zh": "同期群留存热力图"},
    "beh.curve_title": {"en": "Retention curve (all cohorts)", "zh": "留存曲线（全部同期群）"},
    "beh.repurchase_title": {"en": "Repurchase by month of first order",
                             "zh": "按首单月份的复购率"},
    "beh.ltv_title": {"en": "Cumulative net sales per customer by cohort",
                      "zh": "各同期群人均累计净销售额（LTV）"},
    "beh.ltv": {"en": "Net sales per customer", "zh": "人均净销售额"},
    "beh.sankey_title": {"en": "Paths (step and position)", "zh": "行为路径（事件与位置）"},
    "beh.top_paths": {"en": "Top paths of {sessions} sessions", "zh": "{sessions} 个会话的热门路径"},
    "beh.path": {"en": "Path", "zh": "路径"},
    "beh.sessions": {"en": "Sessions", "zh": "会话数"},
    "beh.share": {"en": "Share", "zh": "占比"},
    "beh.next_step": {"en": "Next step", "zh": "下一步"},
    "beh.previous_step": {"en": "Previous step", "zh": "上一步"},
    "aud.title": {"en": "Audiences", "zh": "人群圈选"},
    "aud.scope": {"en": "Customers as of {date}; CLV from a fit on the orders before it.",
                  "zh": "截至 {date} 的客户；CLV 基于此前订单拟合。"},
    "aud.saved": {"en": "Saved audiences", "zh": "已保存的人群"},
    "aud.none_saved": {"en": "No saved audiences yet. Build one below.",
                       "zh": "还没有保存的人群，可在下方创建。"},
    "aud.name": {"en": "Name", "zh": "名称"},
    "aud.description": {"en": "Description", "zh": "说明"},
    "aud.filters": {"en": "Filters (all must hold)", "zh": "筛选条件（全部满足）"},
    "aud.everyone": {"en": "everyone", "zh": "全部客户"},
    "aud.customers": {"en": "Customers", "zh": "客户数"},
    "aud.buyers": {"en": "Buyers", "zh": "购买客户"},
    "aud.net_sales": {"en": "Net sales", "zh": "净销售额"},
    "aud.clv": {"en": "CLV (12 months)", "zh": "CLV（12 个月）"},
    "aud.actions": {"en": "Export", "zh": "导出"},
    "aud.delete": {"en": "Delete", "zh": "删除"},
    "aud.confirm_delete": {"en": "Delete the audience {name}?", "zh": "删除人群 {name}？"},
    "aud.export_needs_analyst": {"en": "analysts export", "zh": "需分析师权限"},
    "aud.pii_note": {"en": "Exports mask e-mails, phones and names.",
                     "zh": "导出文件中的邮箱、电话和姓名已脱敏。"},
    "aud.chart_title": {"en": "Audience sizes", "zh": "人群规模"},
    "aud.builder": {"en": "New audience", "zh": "新建人群"},
    "aud.add_filter": {"en": "+ Filter", "zh": "+ 条件"},
    "aud.remove": {"en": "Remove", "zh": "移除"},
    "aud.preview": {"en": "Preview size", "zh": "预估规模"},
    "aud.save": {"en": "Save audience", "zh": "保存人群"},
    "aud.saved_msg": {"en": "Saved.", "zh": "已保存。"},
    "aud.preview_result": {"en": "{size} of {customers} customers; net sales {sales}",
                           "zh": "{customers} 位客户中的 {size} 位；净销售额 {sales}"},
    "aud.value_hint": {"en": "value (lists: a, b)", "zh": "值（多个用逗号分隔）"},
    "aud.op.eq": {"en": "is", "zh": "等于"},
    "aud.op.ne": {"en": "is not", "zh": "不等于"},
    "aud.op.in": {"en": "is one of", "zh": "属于"},
    "aud.op.not_in": {"en": "is none of", "zh": "不属于"},
    "aud.op.gt": {"en": ">", "zh": ">"},
    "aud.op.ge": {"en": "≥", "zh": "≥"},
    "aud.op.lt": {"en": "<", "zh": "<"},
    "aud.op.le": {"en": "≤", "zh": "≤"},
    "aud.op.between": {"en": "between", "zh": "介于"},
    "aud.op.is_null": {"en": "is empty", "zh": "为空"},
    "aud.op.not_null": {"en": "is set", "zh": "不为空"},
    "aud.field.stage": {"en": "Lifecycle stage", "zh": "生命周期阶段"},
    "aud.field.days_since": {"en": "Days since last order", "zh": "距上次购买天数"},
    "aud.field.first_order_at": {"en": "First order", "zh": "首单时间"},
    "aud.field.last_order_at": {"en": "Last order", "zh": "最近下单时间"},
    "aud.field.recency_days": {"en": "Recency (days)", "zh": "最近购买间隔（天）"},
    "aud.field.frequency": {"en": "Frequency", "zh": "购买频次"},
    "aud.field.monetary": {"en": "Net sales", "zh": "消费金额"},
    "aud.field.r_score": {"en": "R score", "zh": "R 分"},
    "aud.field.f_score": {"en": "F score", "zh": "F 分"},
    "aud.field.m_score": {"en": "M score", "zh": "M 分"},
    "aud.field.fm_score": {"en": "FM score", "zh": "FM 分"},
    "aud.field.classic_segment": {"en": "RFM segment (8)", "zh": "RFM 八类分群"},
    "aud.field.eleven_segment": {"en": "RFM segment (11)", "zh": "RFM 十一类分群"},
    "aud.field.clv": {"en": "CLV (12 months)", "zh": "客户终身价值（12 个月）"},
    "aud.field.p_alive": {"en": "P(alive)", "zh": "存活概率"},
    "aud.field.expected_purchases": {"en": "Expected purchases (12 months)",
                                     "zh": "预计购买次数（12 个月）"},
    "aud.field.country": {"en": "Country", "zh": "国家"},
    "aud.field.region": {"en": "Region", "zh": "地区"},
    "aud.field.member_tier": {"en": "Member tier", "zh": "会员等级"},
    "aud.field.signup_channel": {"en": "Sign-up channel", "zh": "注册渠道"},
    "aud.field.first_seen_at": {"en": "First seen", "zh": "首次出现时间"},
    "cust.title": {"en": "Customers", "zh": "客户分析"},
    "cust.scope": {"en": "Orders before {date}", "zh": "统计 {date} 之前的订单"},
    "cust.no_data": {"en": "No orders loaded yet.", "zh": "尚未导入订单数据。"},
    "cust.as_of": {"en": "As of", "zh": "统计日期"},
    "cust.scheme": {"en": "Segments", "zh": "分群方案"},
    "cust.scheme_classic": {"en": "Classic (8 RFM segments)", "zh": "经典 RFM 八类"},
    "cust.scheme_eleven": {"en": "11 segments", "zh": "十一类分群"},
    "cust.calibration_end": {"en": "CLV fitted up to", "zh": "CLV 拟合截止日"},
    "cust.segments": {"en": "RFM segments", "zh": "RFM 客户分群"},
    "cust.segment": {"en": "Segment", "zh": "分群"},
    "cust.customers": {"en": "Customers", "zh": "客户数"},
    "cust.customers_unit": {"en": "customers", "zh": "位客户"},
    "cust.customers_axis": {"en": "Customers (count)", "zh": "客户数（人）"},
    "cust.share": {"en": "Share of customers", "zh": "客户占比"},
    "cust.net_sales": {"en": "Net sales", "zh": "净销售额"},
    "cust.revenue_share": {"en": "Share of net sales", "zh": "销售额占比"},
    "cust.avg_value": {"en": "Net sales per customer", "zh": "人均净销售额"},
    "cust.avg_value_axis": {"en": "Net sales per customer ({currency})",
                            "zh": "人均净销售额（{currency}）"},
    "cust.chart_segments": {"en": "RFM segments as of {date}: size = customers, colour = "
                                  "net sales per customer",
                            "zh": "RFM 分群（{date}）：面积为客户数，颜色为人均净销售额"},
    "cust.chart_flow": {"en": "Lifecycle flow, month to month ({start} – {end}, customers)",
                        "zh": "客户生命周期逐月流转（{start} – {end}，单位：人）"},
    "cust.chart_clv": {"en": "Distribution of {months}-month CLV (fitted on orders to {date})",
                       "zh": "未来 {months} 个月客户终身价值分布（基于 {date} 前的订单拟合）"},
    "cust.clv_axis": {"en": "CLV over the next {months} months ({currency})",
                      "zh": "未来 {months} 个月 CLV（{currency}）"},
    "cust.and_more": {"en": "and more", "zh": "及以上"},
    "cust.chart_holdout": {"en": "Holdout check: purchases predicted vs actual, {start} – {end}",
                           "zh": "验证期检验：预测与实际购买次数对比（{start} – {end}）"},
    "cust.holdout_x": {"en": "Repeat purchases in the calibration period",
                       "zh": "拟合期内复购次数"},
    "cust.holdout_y": {"en": "Purchases per customer in the holdout (mean)",
                       "zh": "验证期内人均购买次数"},
    "cust.freq_label": {"en": "{n} repeat purchases", "en_one": "{n} repeat purchase",
                        "zh": "复购 {n} 次"},
    "cust.freq_label_more": {"en": "{n} or more repeat purchases", "zh": "复购 {n} 次及以上"},
    "cust.actual": {"en": "Actual", "zh": "实际"},
    "cust.predicted": {"en": "Predicted (BG/NBD)", "zh": "预测（BG/NBD）"},
    "cust.clv_heading": {"en": "Customer lifetime value (BG/NBD + Gamma-Gamma, fitted to {date})",
                         "zh": "客户终身价值（BG/NBD + Gamma-Gamma，拟合至 {date}）"},
    "cust.clv_unavailable": {"en": "CLV could not be fitted:", "zh": "无法拟合 CLV 模型："},
    "cust.total_clv": {"en": "Total CLV, 12 months", "zh": "12 个月 CLV 合计"},
    "cust.mean_clv": {"en": "Mean CLV", "zh": "平均 CLV"},
    "cust.median_clv": {"en": "Median CLV", "zh": "CLV 中位数"},
    "cust.expected_alive": {"en": "Expected active customers", "zh": "预计仍活跃客户数"},
    "cust.fitted_on": {"en": "Fitted on", "zh": "拟合样本"},
    "cust.fitted_on_value": {"en": "{n} customers, {r} repeat buyers",
                             "zh": "{n} 位客户，其中复购 {r} 位"},
    "cust.holdout_error": {"en": "Holdout total error", "zh": "验证期总误差"},
    # CLV on real data: spend model exclusions and the too-little-dropout warning
    "cust.spend_excluded": {"en": "Repeat buyers left out of the spend model (spend ≤ 0)",
                            "zh": "未纳入消费金额模型的复购客户（金额 ≤ 0）"},
    "cust.dropout_title": {"en": "The model found too little dropout to judge who has left",
                           "zh": "模型识别出的流失太少，无法判断哪些客户已流失"},
    "cust.dropout_body": {
        "en": "It expects {alive} of {customers} customers to be still active (mean P(alive) "
              "{p}), while {churned} of {buyers} buyers ({share}) have not bought for {days} "
              "days or more (lifecycle stage: churned). Its CLV assumes nearly everyone keeps "
              "buying: read it with the holdout error.",
        "zh": "模型预计 {customers} 位客户中有 {alive} 位仍活跃（平均存活概率 {p}），而按生命周期"
              "规则，{buyers} 位购买客户中有 {churned} 位（{share}）已 {days} 天或更久未购买"
              "（流失）。其 CLV 假定几乎所有客户都会继续购买，请结合验证期误差解读。"},
    "cust.dropout_holdout": {
        "en": "Holdout error: {error} (fitted to {start}, predicted to {end}).",
        "zh": "验证期误差：{error}（拟合至 {start}，预测至 {end}）。"},
    "cust.dropout_no_holdout": {
        "en": "No holdout error: the history is too short to hold part of it out.",
        "zh": "无验证期误差：历史数据太短，无法留出验证期。"},
    "cust.profile_title": {"en": "Customer {id}", "zh": "客户 {id}"},
    "cust.back": {"en": "All customers", "zh": "返回客户分析"},
    "cust.summary": {"en": "Summary", "zh": "概况"},
    "cust.stage": {"en": "Lifecycle stage", "zh": "生命周期阶段"},
    "cust.segment_classic": {"en": "RFM segment (classic)", "zh": "RFM 分群（经典）"},
    "cust.segment_eleven": {"en": "RFM segment (11)", "zh": "RFM 分群（十一类）"},
    "cust.recency": {"en": "Days since last order", "zh": "距上次购买"},
    "cust.days": {"en": "{n} days", "en_one": "{n} day", "zh": "{n} 天"},
    "cust.frequency": {"en": "Orders", "zh": "订单数"},
    "cust.monetary": {"en": "Net sales", "zh": "净销售额"},
    "cust.scores": {"en": "RFM scores", "zh": "RFM 评分"},
    "cust.first_order": {"en": "First order", "zh": "首次购买"},
    "cust.last_order": {"en": "Last order", "zh": "最近购买"},
    "cust.clv": {"en": "CLV, next {months} months", "zh": "未来 {months} 个月 CLV"},
    "cust.p_alive": {"en": "P(alive)", "zh": "存活概率"},
    "cust.none": {"en": "–", "zh": "–"},
    "cust.attributes": {"en": "Attributes", "zh": "客户属性"},
    "cust.attr_first_seen_at": {"en": "First seen", "zh": "首次出现"},
    "cust.attr_signup_channel": {"en": "Sign-up channel", "zh": "注册渠道"},
    "cust.attr_region": {"en": "Region", "zh": "地区"},
    "cust.attr_country": {"en": "Country", "zh": "国家"},
    "cust.attr_member_tier": {"en": "Member tier", "zh": "会员等级"},
    "cust.attr_email": {"en": "E-mail", "zh": "邮箱"},
    "cust.attr_phone": {"en": "Phone", "zh": "电话"},
    "cust.attr_name": {"en": "Name", "zh": "姓名"},
    "cust.tags": {"en": "Tags", "zh": "客户标签"},
    "cust.orders": {"en": "Order history", "zh": "订单历史"},
    "cust.orders_shown": {"en": "Latest {shown} of {total} orders.",
                          "en_one": "Latest {shown} of {total} order.",
                          "zh": "显示最近 {shown} 笔，共 {total} 笔订单。"},
    "cust.order_id": {"en": "Order", "zh": "订单号"},
    "cust.ordered_at": {"en": "Ordered at", "zh": "下单时间"},
    "cust.channel": {"en": "Channel", "zh": "渠道"},
    "cust.status": {"en": "Status", "zh": "状态"},
    "cust.net_amount": {"en": "Net amount", "zh": "实付金额"},
    "cust.status_completed": {"en": "completed", "zh": "已完成"},
    "cust.status_pending": {"en": "pending", "zh": "处理中"},
    "cust.status_cancelled": {"en": "cancelled", "zh": "已取消"},
    "cust.status_refunded": {"en": "refunded", "zh": "已退款"},
    "cust.not_found_title": {"en": "Customer not found", "zh": "未找到客户"},
    "cust.not_found": {"en": "There is no customer “{id}”.", "zh": "没有客户“{id}”。"},
    "table.customers": {"en": "Customers", "zh": "客户"},
    "table.identities": {"en": "Identities", "zh": "身份映射"},
    "table.products": {"en": "Products", "zh": "商品"},
    "table.orders": {"en": "Orders", "zh": "订单"},
    "table.order_items": {"en": "Order lines", "zh": "订单明细"},
    "table.events": {"en": "Behaviour events", "zh": "行为事件"},
    "table.marketing_spend": {"en": "Marketing spend", "zh": "营销花费"},
    "table.inventory": {"en": "Inventory", "zh": "库存"},
    "table.returns": {"en": "Returns", "zh": "退货"},
    "table.experiments": {"en": "Experiments", "zh": "实验分组"},
    # -- readable everywhere (issue 13): changes, partial periods, plurals, names ---------
    "change.pp": {"en": "{n} pp", "zh": "{n}个百分点"},
    "partial.label": {"en": "partial", "zh": "不完整"},
    "beh.since.day": {"en": "Days since the cohort's first day",
                      "zh": "距同期群首日的天数"},
    "beh.since.week": {"en": "Weeks since the cohort's first week",
                       "zh": "距同期群首周的周数"},
    "beh.since.month": {"en": "Months since the cohort's first month",
                        "zh": "距同期群首月的月数"},
    "beh.bad_range": {"en": "“{start}” must not be after “{end}”; the dates were ignored.",
                      "zh": "“{start}”不能晚于“{end}”，已忽略这两个日期。"},
    "beh.error": {"en": "{message}", "zh": "无法按这些选项分析（{message}）"},
    "aud.name_rule": {"en": "Letters of any language, digits, _ . and -; no spaces.",
                      "zh": "可使用任意语言的文字、数字及 _ . -，不能含空格。"},
    "aud.name_example": {"en": "win_back_vips", "zh": "沉睡高价值客户"},
    "exp.srm_empty": {"en": "No units assigned yet.", "zh": "尚无分配的样本。"},
    "exp.srm_sep": {"en": ", ", "zh": "；"},
    "exp.srm_variant": {"en": "{variant} {n} ({share} vs {planned} planned)",
                        "zh": "{variant} {n}（占 {share}，计划 {planned}）"},
    "exp.srm_detail": {"en": "p = {p}: {split}.", "zh": "p = {p}：{split}。"},
    "exp.srm_detail_bad": {"en": "p = {p} < {threshold}: {split}. The assignment or its "
                                 "logging is broken.",
                           "zh": "p = {p} < {threshold}：{split}。分流或其日志记录有问题。"},
    "beh.event_legend": {"en": "Event types:", "zh": "步骤使用事件代码："},
    "beh.f.source": {"en": "Data", "zh": "数据来源"},
    "beh.f.grain": {"en": "Grain", "zh": "粒度"},
    "beh.f.by": {"en": "Breakdown", "zh": "拆分维度"},
    "beh.f.mode": {"en": "Count", "zh": "计数方式"},
    "beh.f.order": {"en": "Step order", "zh": "步骤顺序"},
    "beh.f.same_product": {"en": "Same product", "zh": "同一商品"},
    "beh.f.periods": {"en": "Periods", "zh": "周期数"},
    "beh.f.length": {"en": "Length", "zh": "路径长度"},
    "beh.f.top": {"en": "Top", "zh": "前 N 条"},
    "beh.f.collapse": {"en": "Merge repeats", "zh": "合并重复"},
    "beh.f.start": {"en": "From", "zh": "开始日期"},
    "beh.f.end": {"en": "To (inclusive)", "zh": "结束日期（含）"},
    "beh.f.compare_start": {"en": "Compare from", "zh": "对比开始"},
    "beh.f.compare_end": {"en": "Compare to", "zh": "对比结束"},
    "beh.by.channel": {"en": "Channel", "zh": "渠道"},
    "beh.by.category": {"en": "Category", "zh": "品类"},
    "beh.by.source": {"en": "Traffic source", "zh": "流量来源"},
    "beh.by.medium": {"en": "Medium", "zh": "媒介"},
    "beh.by.campaign": {"en": "Campaign", "zh": "营销活动"},
    "beh.by.customer.country": {"en": "Customer country", "zh": "客户国家"},
    "beh.by.customer.member_tier": {"en": "Member tier", "zh": "会员等级"},
    "beh.by.customer.signup_channel": {"en": "Sign-up channel", "zh": "注册渠道"},
    "event.view": {"en": "view", "zh": "浏览"},
    "event.search": {"en": "search", "zh": "搜索"},
    "event.add_to_cart": {"en": "add_to_cart", "zh": "加购"},
    "event.remove_from_cart": {"en": "remove_from_cart", "zh": "移出购物车"},
    "event.favorite": {"en": "favorite", "zh": "收藏"},
    "event.checkout": {"en": "checkout", "zh": "结算"},
    "event.purchase": {"en": "purchase", "zh": "购买"},
    "event.signup": {"en": "signup", "zh": "注册"},
    "event.login": {"en": "login", "zh": "登录"},
    "event.other": {"en": "other", "zh": "其他"},
}

# Validation reasons are written in English by ingest; these patterns give the Chinese.
_REASONS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r) for p, r in (
        (r"^missing value$", "缺少值"),
        (r"^cannot parse as a whole number$", "无法解析为整数"),
        (r"^cannot parse as a number$", "无法解析为数字"),
        (r"^cannot parse as a date and time \(expected (.*)\)$", r"无法解析为日期时间（应为 \1）"),
        (r"^cannot parse as a date \(expected (.*)\)$", r"无法解析为日期（应为 \1）"),
        (r"^cannot parse as (.*)$", r"无法解析为 \1"),
        (r"^must be one of (.*)$", r"必须是以下之一：\1"),
        (r"^must be (>=|>) (.*)$", r"必须 \1 \2"),
        (r"^duplicate key \((.*)\)$", r"重复的键（\1）"),
        (r"^date out of range \((.*)\)$", r"日期超出范围（\1）"),
        (r"^unknown (.*)$", r"未知的 \1"),
        (r"^another line of this order was rejected$", "该订单的其他行被拒绝"),
        (r"^zero quantity$", "数量为零"),
        (r"^negative price on a merchandise line$", "商品行价格为负"),
        (r"^does not match the pattern (.*)$", r"不符合格式 \1"),
    )
)


# Analysis errors are written in English by the analytics; the ones a page's options can
# cause get Chinese here (codes users type, such as event types, stay as they are).
_ERRORS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.DOTALL), r) for p, r in (
        (r"^unknown event type (.*?); known: (.*)$", r"未知的事件类型 \1；可用的有：\2"),
        (r"^cannot exclude unknown event type\(s\) (.*?); known: (.*)$",
         r"无法排除未知的事件类型 \1；可用的有：\2"),
        (r"^a funnel needs at least 2 steps, got (\d+).*$",
         r"漏斗至少需要 2 个步骤，当前只有 \1 个；请加上要转化到的步骤"),
        (r"^window must look like 30m, 24h or 7d, not (.*?)( \(.*\))?$",
         r"转化窗口应写作 30m、24h 或 7d 这样的形式，而不是 \1"),
        (r"^window must be positive, not (.*?)( \(.*\))?$", r"转化窗口必须大于零，而不是 \1"),
        (r"^step filter (.*) in (.*) is not name=value$", r"步骤 \2 中的筛选 \1 不是 名称=值 的形式"),
        (r"^not a property name: (.*?) \(.*\)$", r"不是有效的属性名：\1（仅限字母、数字及 _ . -）"),
        (r"^filter on (.*) lists no values$", r"对 \1 的筛选没有列出任何值"),
        (r"^(.*) step (.*) is of an excluded event type( \(.*\))?$",
         r"\2 属于被排除的事件类型，不能作为路径的\1步骤"),
        (r"^a path from start to end needs length >= 2$", "同时指定起点和终点时，路径长度至少为 2"),
        (r"^unknown customer column in by=(.*?)( \(.*\))?$", r"客户表中没有字段 \1"),
        (r"^audience (.*), filter (\d+): unknown field (.*?)( \(did you mean .*\))?$",
         r"人群 \1 的第 \2 个条件：未知的字段 \3"),
    )
)


#: Country names in exports that are not CLDR's English names (Online Retail's among them):
#: the territory code, or None for a place without one (named in ``_PLACES_ZH``).
_COUNTRY_ALIASES: dict[str, str | None] = {
    "eire": "IE", "rsa": "ZA", "usa": "US", "u.s.a.": "US", "uk": "GB", "great britain": "GB",
    "england": "GB", "european community": "EU", "hong kong": "HK", "czech republic": "CZ",
    "korea": "KR", "russia": "RU", "macau": "MO", "taiwan": "TW", "vietnam": "VN",
    "channel islands": None, "unspecified": None,
}
_PLACES_ZH = {"channel islands": "海峡群岛", "unspecified": "未指定"}


@lru_cache(maxsize=4)
def _territory_codes() -> dict[str, str]:
    """CLDR's English territory names (lower case) → code."""
    return {name.lower(): code for code, name in Locale.parse("en").territories.items()
            if code.isalpha()}


def territory_code(name: str) -> str | None:
    """The territory code of a country as a shop's data name it, or None.

    Examples
    --------
    >>> territory_code("Germany"), territory_code("EIRE"), territory_code("GB")
    ('DE', 'IE', 'GB')
    >>> territory_code("Channel Islands") is None, territory_code("Atlantis") is None
    (True, True)
    """
    text = name.strip()
    if len(text) == 2 and text.isalpha() and text.upper() in Locale.parse("en").territories:
        return text.upper()
    key = text.lower()
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    return _territory_codes().get(key)


def country_name(name: str, lang: str) -> str:
    """A country for display in ``lang``: codes become names in both languages; names
    (Online Retail's "EIRE", "RSA" too) are translated into Chinese; anything unknown is
    shown as the data has it.

    Examples
    --------
    >>> country_name("United Kingdom", "zh"), country_name("EIRE", "zh"), country_name("DE", "en")
    ('英国', '爱尔兰', 'Germany')
    >>> country_name("EIRE", "en"), country_name("Unspecified", "zh"), country_name("Mars", "zh")
    ('EIRE', '未指定', 'Mars')
    """
    code = territory_code(name)
    if code is None:
        return _PLACES_ZH.get(name.strip().lower(), name) if lang == "zh" else name
    if lang == "en" and len(name.strip()) != 2:
        return name  # the shop's own English name stays as the data has it
    return Locale.parse(LOCALES[lang]).territories.get(code, name)


def format_change(t: Translator, unit: str, now: float | None,
                  before: float | None) -> tuple[str, float] | None:
    """A change by the KPI module's one rule (:func:`shopscope.kpis.queries.unit_change`)
    as text in this language, with its signed size (for the arrow and colour); None when
    there is nothing to compare with.

    Rates (unit ``ratio``) change by percentage points: a cancellation rate going from
    0.01% to 1% is "▲1.0 pp", not "▲9,900%". Amounts and counts change relatively.

    Examples
    --------
    >>> format_change(Translator("en"), "ratio", 0.01, 0.0001)
    ('1.0 pp', 0.99)
    >>> format_change(Translator("zh"), "ratio", 0.25, 0.263)[0]
    '1.3个百分点'
    >>> format_change(Translator("en"), "currency", 90.0, 80.0)
    ('12.5%', 0.125)
    """
    from shopscope.kpis.queries import unit_change

    moved = unit_change(unit, now, before)
    if moved is None:
        return None
    if moved.unit == "pp":
        return t.points(moved.value / 100), moved.value
    return t.percent(abs(moved.value)), moved.value


@lru_cache(maxsize=64)
def _regional_locale(lang: str, region: str | None) -> str:
    """English in the shop's region when Babel has it (en_GB, en_DE); Chinese is written
    the same way everywhere, so it keeps zh_Hans_CN."""
    if lang == "en" and region and localedata.exists(f"en_{region}"):
        return f"en_{region}"
    return LOCALES[lang]


def region_of_timezone(timezone: str | None) -> str | None:
    """The territory of a time zone ("Europe/London" → "GB"), or None (e.g. "UTC").

    Examples
    --------
    >>> region_of_timezone("Europe/London"), region_of_timezone("UTC")
    ('GB', None)
    >>> Translator("en", region_of_timezone("Europe/London")).date(dt.date(2011, 3, 1))
    '1 Mar 2011'
    """
    return get_global("zone_territories").get(timezone or "")


def normalize_lang(value: str | None, default: Lang = "en") -> Lang:
    """The dashboard language for a stored value, a query parameter or Accept-Language.

    Examples
    --------
    >>> normalize_lang("zh-CN"), normalize_lang("en-GB,en;q=0.8"), normalize_lang("fr")
    ('zh', 'en', 'en')
    >>> normalize_lang("fr-FR,zh-Hans;q=0.7")
    'zh'
    """
    if not value:
        return default
    for part in value.split(","):
        code = part.split(";")[0].strip().lower().replace("_", "-")
        base = code.split("-")[0]
        if base in LANGS:
            return base  # type: ignore[return-value]
    return default


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Translator:
    """Messages and number/date formatting for one language; ``region`` (the shop's
    territory, e.g. ``"GB"``) picks the regional English for dates: "1 Mar 2011" in a
    British shop, "Mar 1, 2011" in an American one."""

    lang: Lang = "en"
    region: str | None = None

    @property
    def locale(self) -> str:
        return _regional_locale(self.lang, self.region)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.lang]

    def __call__(self, key: str, **kwargs: object) -> str:
        entry = CATALOGUE.get(key)
        if entry is None:  # a programming error; show the key rather than fail a page
            return key
        text = entry.get(self.lang) or entry["en"]
        return text.format(**kwargs) if kwargs else text

    # -- labels -----------------------------------------------------------------------
    def metric(self, name: str) -> str:
        """The metric's label from the METRICS registry."""
        m = METRICS[name]
        return m.label_zh if self.lang == "zh" else m.label_en

    def grain_noun(self, grain: str) -> str:
        """The grain as it reads inside a sentence ("per month" / "各月")."""
        word = self(f"grain.{grain}")
        return word if self.lang == "zh" else word.lower()

    def value_label(self, value: str) -> str:
        """A breakdown value for display (the unknown marker is translated)."""
        from shopscope.kpis.queries import UNKNOWN

        return self("unknown") if value == UNKNOWN else value

    def plural(self, key: str, count: float, **kwargs: object) -> str:
        """A message whose wording depends on a number ("1 day", "2 days"): the entry's
        ``<lang>_one`` text when the language's plural rule says "one"."""
        entry = CATALOGUE.get(key, {})
        if Locale.parse(self.locale).plural_form(abs(count)) == "one" \
                and f"{self.lang}_one" in entry:
            return entry[f"{self.lang}_one"].format(**kwargs)
        return self(key, **kwargs)

    def points(self, delta: float) -> str:
        """A difference of two rates in percentage points, unsigned ("1.2 pp")."""
        n = format_decimal(abs(delta) * 100, "#,##0.0", locale=self.locale)
        return self("change.pp", n=n)

    def event(self, name: str) -> str:
        """An event type in this language (unknown types as they are)."""
        return self(f"event.{name}") if f"event.{name}" in CATALOGUE else name

    def step(self, text: str) -> str:
        """A funnel or path step: its event translated, any filter (``:category=toys``) kept."""
        head, sep, rest = text.partition(":")
        return self.event(head.strip()) + sep + rest

    def country(self, name: str) -> str:
        return country_name(name, self.lang)

    def breakdown(self, dimension: str, value: object) -> str:
        """A breakdown value for display: countries by name in this language."""
        text = self.value_label(str(value))
        return self.country(text) if dimension.endswith("country") and text == str(value) \
            else text

    def error(self, text: str) -> str:
        """An analysis error in this language (the English text when no pattern knows it)."""
        if self.lang == "en":
            return text
        for pattern, repl in _ERRORS_ZH:
            if pattern.match(text):
                return pattern.sub(repl, text)
        return text

    def srm_note(self, srm: object) -> str:
        """The sample-ratio check's numbers in this language: p-value and each variant's
        share of units against its planned share."""
        observed = dict(getattr(srm, "observed", {}) or {})
        expected = dict(getattr(srm, "expected", {}) or {})
        total, planned = sum(observed.values()), sum(expected.values())
        if not total or not planned:
            return self("exp.srm_empty")
        split = self("exp.srm_sep").join(
            self("exp.srm_variant", variant=k, n=self.count(n), share=self.percent(n / total, 2),
                 planned=self.percent(expected.get(k, 0.0) / planned, 2))
            for k, n in observed.items())
        p = getattr(srm, "p_value", math.nan)
        threshold = getattr(srm, "threshold", math.nan)
        key = "exp.srm_detail_bad" if getattr(srm, "mismatch", False) else "exp.srm_detail"
        return self(key, p=f"{p:.2g}", threshold=f"{threshold:g}", split=split)

    def table_name(self, name: str) -> str:
        return self(f"table.{name}") if f"table.{name}" in CATALOGUE else name

    def reason(self, text: str | None) -> str:
        """A validation reason in this language (English reasons are the source)."""
        if not text or self.lang == "en":
            return text or ""
        for pattern, repl in _REASONS_ZH:
            if pattern.match(text):
                return pattern.sub(repl, text)
        return text

    # -- numbers ----------------------------------------------------------------------
    def count(self, value: float | None) -> str:
        return MISSING if _missing(value) else format_decimal(value, "#,##0", locale=self.locale)

    def number(self, value: float | None, digits: int = 2) -> str:
        if _missing(value):
            return MISSING
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, pattern, locale=self.locale)

    def currency(self, value: float | None, currency: str) -> str:
        if _missing(value):
            return MISSING
        return format_currency(value, currency, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        if _missing(value):
            return MISSING
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(value, pattern, locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """A length of time in the largest fitting unit ("45 sec", "2 hr", "3天")."""
        if _missing(seconds):
            return MISSING
        return format_timedelta(dt.timedelta(seconds=float(seconds)), threshold=1.0,
                                format="short", locale=self.locale)

    def metric_value(self, name: str, value: float | None, currency: str) -> str:
        """A metric value formatted by its unit (currency, count, number, ratio)."""
        unit = METRICS[name].unit
        if unit == "currency":
            return self.currency(value, currency)
        if unit == "ratio":
            return self.percent(value)
        if unit == "number":
            return self.number(value)
        return self.count(value)

    # -- dates ------------------------------------------------------------------------
    def date(self, value: dt.date | None) -> str:
        if value is None:
            return MISSING
        return format_date(value, "medium", locale=self.locale)

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return MISSING
        return format_datetime(value, "medium", locale=self.locale)

    def period(self, start: dt.date, grain: str) -> str:
        """The label of the period starting on ``start`` ("Mar 2011", "2011年3月")."""
        if grain == "month":
            return format_skeleton("yMMM", start, locale=self.locale)
        if grain == "quarter":
            return format_skeleton("yQQQ", start, locale=self.locale)
        if grain == "year":
            return format_skeleton("y", start, locale=self.locale)
        if grain == "week":
            day = format_date(start, "medium", locale=self.locale)
            return f"{day} 当周" if self.lang == "zh" else f"Week of {day}"
        return format_date(start, "medium", locale=self.locale)

    def period_short(self, start: dt.date, grain: str) -> str:
        """A compact period label for chart ticks."""
        if grain in ("day", "week"):
            return format_skeleton("yMMMd", start, locale=self.locale)
        return self.period(start, grain)
