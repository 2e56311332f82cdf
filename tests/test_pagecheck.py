"""The page helpers judge URLs and elements, never random text."""

from tests.pagecheck import elements, foreign_urls, page_urls

PAGE = """<html><head><link rel="stylesheet" href="/static/app.css?v=1">
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist/swagger-ui-bundle.js"></script>
<style>@import "//fonts.example.com/x.css"; body { background: url('/static/bg.png') }</style>
</head><body><form action="/lang"><input type="hidden" name="csrf" value="xcdnCDNz"></form>
<img srcset="/a.png 1x, http://img.example.org/b.png 2x" src="data:image/png;base64,AAAA">
<a href="http://127.0.0.1:8000/data">data</a><div style="background:url(https://x.example/y)">
<strong class="bad" data-testid="srm-bad">SRM</strong></div></body></html>"""


def test_foreign_urls_are_found_by_host_not_by_text():
    assert set(foreign_urls(PAGE)) == {
        "https://cdn.jsdelivr.net/npm/swagger-ui-dist/swagger-ui-bundle.js",
        "http://img.example.org/b.png", "https://x.example/y", "//fonts.example.com/x.css"}
    assert "/static/bg.png" in page_urls(PAGE) and "/lang" in page_urls(PAGE)
    # a random token that spells "cdn" is not a URL
    token_page = '<input type="hidden" name="csrf" value="Qcdn_x-CDN"><a href="/x">x</a>'
    assert foreign_urls(token_page) == []


def test_elements_by_attribute():
    assert len(elements(PAGE, data_testid="srm-bad")) == 1
    assert elements(PAGE, "strong", data_testid="srm-bad")[0]["class"] == "bad"
    assert elements('<p title="srm-bad">srm-bad</p>', data_testid="srm-bad") == []
