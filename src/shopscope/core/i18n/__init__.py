"""The gettext catalogues of shopscope's messages (domain ``shopscope``), loaded with Babel.

Message ids are keys (``nav.overview``, ``report.title``, ``error.<code>``); the ``.po``
files under ``locale/<lang>/LC_MESSAGES/`` are the source. Building or installing the package
compiles them to ``.mo`` (``setup.py``); a source checkout or an editable install that has no
``.mo`` compiles the ``.po`` in memory on first use, so both run the same catalogue.

Languages are the codes users store (``"en"``, ``"zh"``); Chinese falls back to English for
a message without a Chinese text, and a message missing from both reads as its key.

Examples
--------
>>> translations("zh").gettext("nav.overview"), translations("en").gettext("nav.overview")
('经营概览', 'Overview')
>>> translations("en").ngettext("exp.n_days", "exp.n_days", 1)
'{n} day'
>>> has("nav.overview"), has("nav.nonexistent")
(True, False)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DOMAIN = "shopscope"
LOCALE_DIR = Path(__file__).with_name("locale")
#: Catalogue language -> gettext locale directory.
GETTEXT_LOCALES: dict[str, str] = {"en": "en", "zh": "zh_CN"}


def po_path(lang: str) -> Path:
    return LOCALE_DIR / GETTEXT_LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=4)
def read_catalog(lang: str) -> Catalog:
    """The ``.po`` of ``lang`` as a Babel catalogue (for tests and the in-memory fallback)."""
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=GETTEXT_LOCALES[lang], domain=DOMAIN)


def _load(lang: str) -> Translations:
    mo = po_path(lang).with_suffix(".mo")
    # an installer writes both files within moments, in any order; a .po edited since an
    # editable install (minutes later) makes the .mo stale
    if mo.exists() and mo.stat().st_mtime > po_path(lang).stat().st_mtime - 2:
        with mo.open("rb") as fh:
            return Translations(fh, domain=DOMAIN)
    # no compiled catalogue (source tree, editable install) or a stale one: compile now
    import io

    buf = io.BytesIO()
    write_mo(buf, read_catalog(lang))
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


@lru_cache(maxsize=4)
def translations(lang: str) -> Translations:
    """The messages of ``lang`` (``"en"`` or ``"zh"``); others fall back to English."""
    own = _load(lang if lang in GETTEXT_LOCALES else "en")
    if lang != "en":
        own.add_fallback(translations("en"))
    return own


@lru_cache(maxsize=1)
def _keys() -> frozenset[str]:
    return frozenset(m.id if isinstance(m.id, str) else m.id[0]
                     for m in read_catalog("en") if m.id)


def has(key: str) -> bool:
    """Whether the catalogue has a message ``key`` (for labels that may not be translated,
    such as an event type a shop invented)."""
    return key in _keys()


def entries() -> dict[str, dict[str, str]]:
    """Every message as ``{key: {"en": ..., "zh": ..., "en_one": ...}}`` (plural messages:
    ``<lang>`` holds the "other" form, ``<lang>_one`` the singular), for tests and tools."""
    out: dict[str, dict[str, str]] = {}
    for lang in GETTEXT_LOCALES:
        for m in read_catalog(lang):
            if not m.id:
                continue
            forms = [m.string] if isinstance(m.string, str) else list(m.string or [""])
            if isinstance(m.id, str):
                out.setdefault(m.id, {})[lang] = forms[0]
                continue
            entry = out.setdefault(m.id[0], {})
            entry[lang] = forms[-1]
            if len(forms) > 1:
                entry[f"{lang}_one"] = forms[0]
    return out
