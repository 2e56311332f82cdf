"""Dashboard messages in English and Chinese, and locale-aware formatting through Babel.

Messages live in the gettext catalogues of :mod:`shopscope.core.i18n` (``.po`` files, one key
per message id); the :class:`Translator` looks them up through Babel and keeps the page API
(``t(key, **kw)``, ``t.plural``, formatting helpers). Languages are the codes users store
(``"en"``, ``"zh"``, as the JSON API uses); :func:`normalize_lang` also accepts
``zh-CN``/``zh_Hans`` and Accept-Language headers.

Examples
--------
>>> t = Translator("zh")
>>> t("nav.overview"), t.html_lang
('经营概览', 'zh-CN')
>>> t.currency(1234.5, "GBP"), Translator("en").percent(0.1234)
('£1,234.50', '12.3%')
>>> q1 = dt.date(2011, 1, 1)
>>> Translator("en").period(q1, "quarter"), t.period(q1, "quarter")
('Q1 2011', '2011年第1季度')
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

from babel import Locale, localedata
from babel.core import get_global
from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from shopscope.core.i18n import has, translations
from shopscope.core.metrics import METRICS

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
#: Babel locale and HTML ``lang`` attribute of each language.
LOCALES: dict[str, str] = {"en": "en", "zh": "zh_Hans_CN"}
HTML_LANG: dict[str, str] = {"en": "en", "zh": "zh-CN"}
#: The name of each language in itself, for the switch.
NATIVE_NAME: dict[str, str] = {"en": "English", "zh": "中文"}
MISSING = "–"

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
    """A change by the KPI module's one rule (:func:`shopscope.core.metrics.unit_change`)
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
    from shopscope.core.metrics import unit_change

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
            return cast(Lang, base)
    return default


def _missing(value: float | None) -> bool:
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

    @property
    def translations(self) -> Translations:
        """The gettext messages of this language (Chinese falls back to English)."""
        return translations(self.lang)

    def __call__(self, key: str, **kwargs: object) -> str:
        text = self.translations.gettext(key)
        if text == key and not has(key):  # a programming error; show the key, not a 500
            return key
        if text == key:  # a plural message asked without a number: its "other" form
            text = self.translations.ngettext(key, key, 2)
        return text.format(**kwargs) if kwargs else text

    def has(self, key: str) -> bool:
        """Whether the catalogue has the message ``key``."""
        return has(key)

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
        from shopscope.core.metrics import UNKNOWN

        return self("unknown") if value == UNKNOWN else value

    def plural(self, key: str, count: float, **kwargs: object) -> str:
        """A message whose wording depends on a number ("1 day", "2 days"): gettext's
        ``ngettext`` with the catalogue's Plural-Forms. A fraction (1.5 days) is never
        "one", which is CLDR's rule for English; gettext's formulas take whole numbers."""
        n = abs(count)
        whole = int(n) if float(n).is_integer() else int(n) + 2  # never 1 for a fraction
        return self.translations.ngettext(key, key, whole).format(**kwargs)

    def points(self, delta: float) -> str:
        """A difference of two rates in percentage points, unsigned ("1.2 pp")."""
        n = format_decimal(abs(delta) * 100, "#,##0.0", locale=self.locale)
        return self("change.pp", n=n)

    def event(self, name: str) -> str:
        """An event type in this language (unknown types as they are)."""
        return self(f"event.{name}") if has(f"event.{name}") else name

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

    def error(self, error: object) -> str:
        """An analysis error in this language: a :class:`~shopscope.errors.ShopscopeError`
        with a ``code`` is the message ``error.<code>`` with its arguments; any other error
        (or a plain text) is its English message. The hint is the caller's to add.

        Examples
        --------
        >>> from shopscope.errors import OptionError
        >>> e = OptionError(code="window_positive", args={"window": "'0m'"}, hint="e.g. 30m")
        >>> Translator("zh").error(e), Translator("en").error(e)
        ("转化窗口必须大于零，而不是 '0m'", "window must be positive, not '0m'")
        """
        if isinstance(error, str):
            return error
        english = str(getattr(error, "message", error))
        code = getattr(error, "code", None)
        if self.lang == "en" or not isinstance(code, str) or not has(f"error.{code}"):
            return english
        return self(f"error.{code}", **getattr(error, "code_args", {}))

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
        return self(f"table.{name}") if has(f"table.{name}") else name

    def reason(self, text: str | None) -> str:
        """A stored validation reason in this language: its code and arguments (see
        :mod:`shopscope.ingest.reasons`) give the message ``reason.<code>``; a text no
        rule wrote is shown as it is.

        Examples
        --------
        >>> Translator("zh").reason("must be >= 0"), Translator("zh").reason("odd")
        ('必须 >= 0', 'odd')
        """
        from shopscope.ingest.reasons import decode

        if not text or self.lang == "en":
            return text or ""
        coded = decode(text)
        if coded is None or not has(f"reason.{coded[0]}"):
            return text
        return self(f"reason.{coded[0]}", **coded[1])

    # -- numbers ----------------------------------------------------------------------
    def count(self, value: float | None) -> str:
        if value is None or _missing(value):
            return MISSING
        return format_decimal(value, "#,##0", locale=self.locale)

    def number(self, value: float | None, digits: int = 2) -> str:
        if value is None or _missing(value):
            return MISSING
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, pattern, locale=self.locale)

    def currency(self, value: float | None, currency: str) -> str:
        if value is None or _missing(value):
            return MISSING
        return format_currency(value, currency, locale=self.locale)

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None or _missing(value):
            return MISSING
        pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
        return format_percent(value, pattern, locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """A length of time in the largest fitting unit ("45 sec", "2 hr", "3天")."""
        if seconds is None or _missing(seconds):
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


# -- Jinja ------------------------------------------------------------------------------------
@pass_context
def _jinja_gettext(context: Context, key: str, **kwargs: object) -> str:
    t = context.get("t")
    return (t if isinstance(t, Translator) else Translator())(key, **kwargs)


@pass_context
def _jinja_ngettext(context: Context, key: str, _plural: str, count: float,
                    **kwargs: object) -> str:
    t = context.get("t")
    return (t if isinstance(t, Translator) else Translator()).plural(
        key, count, **{"n": count, **kwargs})


def install_jinja(env: Environment) -> None:
    """Jinja's i18n extension over the same catalogue, in the language of the page's
    translator ``t`` (the render context's; English without one).

    Templates may write ``{{ _('nav.overview') }}``, ``{{ _('nav.user', user=u, role=r) }}``,
    ``{{ ngettext('exp.n_days', 'exp.n_days', days) }}`` (``{n}`` is the count unless given)
    or ``{% trans %}nav.overview{% endtrans %}`` for a message without placeholders; the
    catalogue's placeholders are ``str.format`` fields, so ``{% trans x=... %}`` does not
    fill them. ``t('key')`` keeps working.

    Examples
    --------
    >>> from jinja2 import Environment
    >>> env = Environment(autoescape=True)
    >>> install_jinja(env)
    >>> env.from_string("{{ _('nav.overview') }}/{% trans %}nav.data{% endtrans %}/"
    ...                 "{{ ngettext('exp.n_days', 'exp.n_days', 1) }}").render(t=Translator("zh"))
    '经营概览/数据管理/1 天'
    """
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _jinja_gettext, _jinja_ngettext, newstyle=False)
