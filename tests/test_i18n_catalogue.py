"""Every message the code uses is translated, and the catalogues hold nothing unused
(issue 14, point 4).

Message ids are extracted with Babel's Python extractor (keywords ``t``, ``_``, ``_t``,
``self`` inside the Translator, ``plural``, ``gettext``, ``ngettext``) and Jinja's Babel
extractor for the page templates (plus ``t.plural('key'`` by a scan, which the Jinja
extractor does not see). Keys built at run time (``t(f"grain.{g}")``, ``t('beh.tab.' ~
tab)``) count through their prefix; a key named as a string anywhere in the sources (a
list of labels passed to ``t(key)``) counts as used.
"""

from __future__ import annotations

import ast
import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_python
from jinja2.ext import babel_extract

from shopscope.core.i18n import GETTEXT_LOCALES, entries, read_catalog, translations
from shopscope.errors import MESSAGES
from shopscope.ingest.reasons import REASONS, decode, reason

SRC = Path(__file__).resolve().parents[1] / "src" / "shopscope"
KEYWORDS = {"t": None, "_": None, "_t": None, "self": None, "gettext": None,
            "plural": None, "ngettext": (1, 2)}
#: Messages whose Chinese is the English on purpose: the brand, comparison symbols, a dash.
SAME_IN_BOTH = {"app.name", "aud.op.gt", "aud.op.ge", "aud.op.lt", "aud.op.le", "cust.none",
                "prod.recs.m.ndcg", "prod.recs.m.map"}
#: A key built at run time: an f-string or a concatenation starting with "<area>.<...>".
_DYNAMIC_PY = re.compile(r"""\bf["']([a-z_]+\.[\w.]*)\{|["']([a-z_]+\.[\w.]*[._])["']\s*\+""")
_DYNAMIC_JINJA = re.compile(r"""'([a-z_]+\.[\w.]*)'\s*[~+]""")
_PLURAL_JINJA = re.compile(r"""\bt\.plural\(\s*'([\w.]+)'""")


def _py_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _templates() -> list[Path]:
    return sorted(SRC.rglob("templates/*.html"))


def used_keys() -> set[str]:
    """Message ids called with a literal key in the Python sources and the templates."""
    keys = set()
    for path in _py_files():
        with path.open("rb") as fh:
            for _, _, msg, _ in extract_python(fh, KEYWORDS, [], {}):
                first = msg[0] if isinstance(msg, tuple) else msg
                if first and re.fullmatch(r"[a-z_]+(\.\w+)+", first) \
                        and not first.endswith("_"):  # a key (not prose, not a prefix)
                    keys.add(first)
    for path in _templates():
        text = path.read_text(encoding="utf-8")
        for _, _, msg, _ in babel_extract(io.BytesIO(text.encode()), KEYWORDS, [], {}):
            first = msg[0] if isinstance(msg, tuple) else msg
            if first:
                keys.add(first)
        keys.update(_PLURAL_JINJA.findall(text))
    return keys


def dynamic_prefixes() -> set[str]:
    out = set()
    for path in _py_files():
        out.update(a or b for a, b in _DYNAMIC_PY.findall(path.read_text(encoding="utf-8")))
    for path in _templates():
        out.update(_DYNAMIC_JINJA.findall(path.read_text(encoding="utf-8")))
    return out


def mentioned_strings() -> set[str]:
    """Every string constant of the Python sources and every quoted word of the templates."""
    out = set()
    for path in _py_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    for path in _templates():
        out.update(re.findall(r"""['"]([\w.]+)['"]""", path.read_text(encoding="utf-8")))
    return out


CATALOGUE = entries()


def test_the_extractor_sees_calls_of_every_kind():
    keys = used_keys()
    # t("..") in Python, t('..') in a template, t.plural in both, _t in the report
    assert {"nav.logout", "beh.bad_range", "exp.n_days", "cust.days",
            "report.sales", "data.rejects_total"} <= keys
    assert {"grain.", "event.", "beh.tab.", "aud.op.", "error."} <= dynamic_prefixes()


def test_every_used_message_is_in_both_catalogues():
    missing = sorted(k for k in used_keys() if k not in CATALOGUE)
    assert not missing, f"used but not in the .po files: {missing}"


@pytest.mark.parametrize("lang", sorted(GETTEXT_LOCALES))
def test_every_message_has_a_non_empty_text(lang):
    empty = [m.id for m in read_catalog(lang) if m.id
             and (not m.string or not all(m.string if isinstance(m.string, tuple)
                                          else [m.string]))]
    assert not empty, f"{GETTEXT_LOCALES[lang]}: no text for {empty}"


def test_chinese_differs_from_english_unless_allowed():
    same = sorted(k for k, e in CATALOGUE.items() if e["zh"] == e["en"]
                  and k not in SAME_IN_BOTH)
    assert not same, f"untranslated (add to SAME_IN_BOTH if on purpose): {same}"


def test_placeholders_agree_between_languages():
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, e in CATALOGUE.items():
        # the Chinese may leave out an English-only detail (the "did you mean" suggestion)
        assert fields(e["zh"]) <= fields(e["en"]), key


def test_no_catalogue_entry_is_unused():
    keys, prefixes, strings = used_keys(), dynamic_prefixes(), mentioned_strings()
    unused = sorted(k for k in CATALOGUE if k not in keys and k not in strings
                    and not any(k.startswith(p) for p in prefixes))
    assert not unused, f"in the .po files but used nowhere: {unused}"


def test_plural_forms_follow_each_language():
    en, zh = read_catalog("en"), read_catalog("zh")
    assert en.num_plurals == 2 and zh.num_plurals == 1
    assert translations("en").ngettext("exp.n_days", "exp.n_days", 1) == "{n} day"
    assert translations("en").ngettext("exp.n_days", "exp.n_days", 0) == "{n} days"
    assert translations("zh").ngettext("exp.n_days", "exp.n_days", 1) == "{n} 天"


def test_every_error_code_is_translated_and_its_english_is_the_template():
    for code, template in MESSAGES.items():
        assert CATALOGUE[f"error.{code}"]["en"] == template, code
    # the other error.* messages are the error page's own, called by name
    page = {k for k in CATALOGUE if k.startswith("error.")} - {f"error.{c}" for c in MESSAGES}
    # called by name, handed over as a key (refused URLs), or built from a prefix
    known = used_keys() | mentioned_strings()
    prefixes = dynamic_prefixes()
    assert page
    assert not {k for k in page if k not in known
                and not any(k.startswith(p) for p in prefixes)}


def test_every_reason_code_is_translated_and_decodes_back():
    for code, template in REASONS.items():
        assert CATALOGUE[f"reason.{code}"]["en"] == template, code
        args = {f: f"<{f}>" for _, f, _, _ in string.Formatter().parse(template) if f}
        assert decode(reason(code, **args)) == (code, args)
    assert {k for k in CATALOGUE if k.startswith("reason.")} == {f"reason.{c}" for c in REASONS}


# -- coded errors and reasons are translated by code, not by pattern --------------------------
def test_a_coded_error_is_translated_with_its_arguments():
    from shopscope.behaviour.funnels import parse_window
    from shopscope.errors import FunnelOptionError
    from shopscope.ui.i18n import Translator

    with pytest.raises(FunnelOptionError) as info:
        parse_window("1 year")
    err = info.value
    assert (err.code, err.code_args) == ("window_format", {"window": "'1 year'"})
    assert err.message == "window must look like 30m, 24h or 7d, not '1 year'"  # logs, CLI, API
    assert Translator("zh").error(err) == ("转化窗口应写作 30m、24h 或 7d 这样的形式，"
                                           "而不是 '1 year'")
    assert Translator("en").error(err) == err.message


def test_an_error_wrapped_for_funnels_keeps_its_code():
    from shopscope.behaviour.common import as_step
    from shopscope.behaviour.funnels import _as_funnel_option
    from shopscope.errors import FunnelOptionError
    from shopscope.ui.i18n import Translator

    with pytest.raises(FunnelOptionError) as info, _as_funnel_option():
        as_step("viw")
    assert info.value.code == "event_type_unknown"
    assert Translator("zh").error(info.value).startswith("未知的事件类型 'viw'；可用的有：view, ")


def test_an_uncoded_error_reads_in_english():
    from shopscope.errors import OptionError
    from shopscope.ui.i18n import Translator

    assert Translator("zh").error(OptionError("top must be >= 1")) == "top must be >= 1"


def test_stored_reasons_are_translated_by_code():
    from shopscope.ui.i18n import Translator

    zh = Translator("zh")
    assert zh.reason("cannot parse as a date (expected %d/%m/%Y)") == ("无法解析为日期"
                                                                       "（应为 %d/%m/%Y）")
    assert zh.reason("must be one of web, app") == "必须是以下之一：web, app"
    assert zh.reason("duplicate key (order_id, line_no)") == "重复的键（order_id, line_no）"
    assert zh.reason("a reason from elsewhere") == "a reason from elsewhere"
    assert Translator("en").reason("missing value") == "missing value"


def test_page_templates_have_the_jinja_i18n_extension():
    from shopscope.ui.i18n import Translator
    from shopscope.ui.routes import templates

    env = templates().env
    assert "jinja2.ext.InternationalizationExtension" in env.extensions
    page = env.from_string("{{ _('nav.logout') }}|{% trans %}nav.data{% endtrans %}|"
                           "{{ ngettext('cust.days', 'cust.days', 1) }}|"
                           "{{ ngettext('cust.days', 'cust.days', 3) }}|{{ t('nav.data') }}")
    assert page.render(t=Translator("zh")) == "退出登录|数据管理|1 天|3 天|数据管理"
    assert page.render(t=Translator("en")) == "Sign out|Data|1 day|3 days|Data"
