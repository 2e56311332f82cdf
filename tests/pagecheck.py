"""Assertions on a page's structure, not its text.

A page carries random content (CSRF tokens, nonces, hashed ids), so "no CDN" is checked on
the hosts of the URLs the page loads or links to, and "no such element" on parsed elements:
a substring test such as ``"cdn" not in html`` fails whenever a random token spells it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

#: Attributes whose value is a URL (``srcset`` holds several, split below).
URL_ATTRS = frozenset({"src", "href", "action", "formaction", "data", "poster", "srcset",
                       "xlink:href", "background", "manifest", "cite"})
#: Hosts a page may name: relative URLs (no host) and the local server.
LOCAL_HOSTS = frozenset({"", "127.0.0.1", "localhost", "testserver"})
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""")
_CSS_IMPORT = re.compile(r"""@import\s+['"]([^'"]+)""")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.elements.append((tag, values))
        for name, value in values.items():
            if name == "srcset":
                self.urls += [part.split()[0] for part in value.split(",") if part.strip()]
            elif name in URL_ATTRS:
                self.urls.append(value)
            elif name == "style":
                self.urls += _css_urls(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += _css_urls(data)


def _css_urls(css: str) -> list[str]:
    return _CSS_URL.findall(css) + _CSS_IMPORT.findall(css)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def page_urls(html: str) -> list[str]:
    """Every URL the page names in an attribute (src, href, action, srcset…) or in CSS."""
    return [u.strip() for u in _parse(html).urls if u.strip()]


def url_host(url: str) -> str:
    """The host of ``url``; '' for relative URLs and for data:, blob: and javascript: ones."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "javascript", "mailto", "about"):
        return ""
    return (parts.hostname or "").lower()


def foreign_urls(html: str, allowed: frozenset[str] = LOCAL_HOSTS) -> list[str]:
    """The URLs of ``html`` that point to a host other than the local server."""
    return [u for u in page_urls(html) if url_host(u) not in allowed]


def assert_local_only(html: str) -> None:
    """Fail when the page loads or links anything from another host (a CDN, fonts…)."""
    foreign = foreign_urls(html)
    assert not foreign, f"the page names other hosts: {foreign}"


def elements(html: str, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
    """The attributes of each element of ``html`` with ``tag`` (any when None) whose
    attributes include ``attrs`` (``data_testid="x"`` means ``data-testid="x"``)."""
    want = {k.replace("_", "-"): v for k, v in attrs.items()}
    return [a for t, a in _parse(html).elements
            if (tag is None or t == tag) and all(a.get(k) == v for k, v in want.items())]
