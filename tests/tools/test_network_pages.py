"""api-tester, web-scraper, sitemap-crawler and webpage-monitor against a loopback server the
tests start; each refused when network access is off or the host is not allowed."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from llmspell.errors import SecurityViolation, ToolError, ValidationError

PAGES: dict[str, tuple[str, bytes]] = {}


def _sitemap(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{u}</loc><lastmod>2026-01-0{i + 1}</lastmod></url>"
                   for i, u in enumerate(urls))
    return (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{body}</urlset>").encode()


def _index(locs: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}'
            "</sitemapindex>").encode()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        ctype, body = PAGES.get(self.path, ("text/plain", b"missing"))
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.do_GET()


@pytest.fixture
def server(loopback: Any) -> str:
    base = str(loopback(_Handler))
    html = "text/html; charset=utf-8"
    PAGES.clear()
    PAGES.update({
        "/page": (html, b"<html><head><title> Shop </title><meta property='og:title' "
                        b"content='The shop'><script>var hidden = 1;</script></head><body>"
                        b"<h1>Welcome</h1><p>Cheap &amp; good</p><a href='/a'>A</a>"
                        b"<a href='https://other.example/b'>B</a><a href='/a'>again</a>"
                        b"<img src='logo.png'></body></html>"),
        "/api/user": ("application/json", b'{"id": 7, "name": "ann"}'),
        "/sitemap.xml": ("application/xml", _sitemap([base + "/p1", base + "/p2"])),
        "/index.xml": ("application/xml", _index([base + "/sitemap.xml", base + "/deep.xml",
                                                  "http://elsewhere.example/s.xml"])),
        "/deep.xml": ("application/xml", _index([base + "/deeper.xml"])),
        "/deeper.xml": ("application/xml", _sitemap([base + "/p9"])),
        "/bomb.xml": ("application/xml", b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY '
                                         b'lol "lol">]><urlset><url><loc>&lol;</loc></url>'
                                         b"</urlset>"),
        "/news": (html, b"<html><body><p>Headline one</p></body></html>"),
    })
    return base


@pytest.mark.parametrize("tool", ["api-tester", "web-scraper", "sitemap-crawler",
                                  "webpage-monitor"])
def test_refused_when_off_or_host_not_allowed(make_rt: Any, rt: Any, tool: str) -> None:
    seen: list[Any] = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    with pytest.raises(SecurityViolation, match=r"allow_network_access = false"):
        rt.tools.invoke(tool, {"input": "http://127.0.0.1:1/x"})
    assert seen and seen[0]["tool"] == tool
    other = make_rt(runtime__security__allow_network_access=True,
                    runtime__security__allowed_hosts=["docs.example.org"])
    with pytest.raises(SecurityViolation, match=r"host '127.0.0.1' is not in"):
        other.tools.invoke(tool, {"input": "http://127.0.0.1:1/x"})


def test_api_tester_reports_each_check(net: Any, server: str) -> None:
    schema = {"type": "object", "required": ["id", "name"],
              "properties": {"id": {"type": "integer"}}}
    good = net.tools.invoke("api-tester", {
        "input": server + "/api/user", "expected_status": 200,
        "expected_body_contains": '"ann"', "expected_json_schema": schema}).result
    assert good["passed"] and [c["check"] for c in good["checks"]] == [
        "status", "body_contains", "json_schema"]
    bad = net.tools.invoke("api-tester", {
        "input": server + "/api/user", "expected_status": [201, 204],
        "expected_json_schema": {"properties": {"id": {"type": "string"}}}}).result
    assert not bad["passed"]
    assert bad["checks"][0] == {"check": "status", "expected": [201, 204], "actual": 200,
                                "passed": False}
    assert bad["checks"][1]["errors"] == ["$.id: 7 is not of type 'string'"]
    missing = net.tools.invoke("api-tester", {"input": server + "/nothing"}).result
    assert not missing["passed"] and missing["checks"][0]["actual"] == 404
    with pytest.raises(ValidationError, match=r"\$.expected_json_schema"):
        net.tools.invoke("api-tester", {"input": server + "/api/user",
                                        "expected_json_schema": {"type": 12}})


def test_web_scraper_extracts_text_links_images_meta(net: Any, server: str) -> None:
    out = net.tools.invoke("web-scraper", {"input": server + "/page", "extract_links": True,
                                           "extract_images": True,
                                           "extract_meta": True}).result
    assert out["title"] == "Shop" and out["text"] == "Welcome\nCheap & good\nA\nB\nagain"
    assert "hidden" not in out["text"]
    assert out["links"] == [server + "/a", "https://other.example/b"]
    assert out["images"] == [server + "/logo.png"] and out["meta"] == {"og:title": "The shop"}
    short = net.tools.invoke("web-scraper", {"input": server + "/page",
                                             "max_text_chars": 7}).result
    assert short["text"] == "Welcome" and short["text_truncated"] and "links" not in short
    with pytest.raises(ToolError, match=r"answered HTTP 404"):
        net.tools.invoke("web-scraper", {"input": server + "/gone"})


def test_web_scraper_css_selectors(net: Any, server: str) -> None:
    PAGES["/list"] = ("text/html", b"<html><body><h1 class='t'>Items</h1><ul id='items'>"
                                   b"<li data-p='3'>Tea <b>green</b></li><li data-p='5'>Cake</li>"
                                   b"</ul><img class='logo' src='x.png'><p>free</p></body></html>")
    out = net.tools.invoke("web-scraper", {
        "input": server + "/list", "selector": "ul#items > li",
        "selectors": {"heading": "h1.t", "prices": "li[data-p]", "logo": "img.logo",
                      "none": "table td", "second": "li:nth-of-type(2)"}}).result
    assert out["selected_content"] == ["Tea green", "Cake"]
    assert out["selections"] == {"heading": "Items", "prices": ["Tea green", "Cake"],
                                 "logo": '<img class="logo" src="x.png"/>', "none": [],
                                 "second": "Cake"}
    assert out["title"] == "" and "free" in out["text"]


def test_web_scraper_refuses_a_bad_selector_before_fetching(net: Any, server: str,
                                                            rt: Any) -> None:
    for params, path in (({"selector": "li[["}, "$.selector"),
                         ({"selectors": {"a": "p", "bad": "::nope("}}, "$.selectors.bad")):
        with pytest.raises(ValidationError, match="not a valid CSS selector") as info:
            rt.tools.invoke("web-scraper", {"input": server + "/page", **params})
        assert info.value.path == path  # refused before the network rule was asked


def test_sitemap_crawler_reads_urls_and_index_within_bounds(net: Any, server: str) -> None:
    out = net.tools.invoke("sitemap-crawler", {"input": server + "/sitemap.xml"}).result
    assert [u["loc"] for u in out["urls"]] == [server + "/p1", server + "/p2"]
    assert out["urls"][0]["lastmod"] == "2026-01-01" and not out["truncated"]
    index = net.tools.invoke("sitemap-crawler", {"input": server + "/index.xml"}).result
    assert [u["loc"] for u in index["urls"]] == [server + "/p1", server + "/p2",
                                                 server + "/p9"]
    assert "http://elsewhere.example/s.xml" in index["skipped_sitemaps"]
    shallow = net.tools.invoke("sitemap-crawler", {"input": server + "/index.xml",
                                                   "max_depth": 1}).result
    assert [u["loc"] for u in shallow["urls"]] == [server + "/p1", server + "/p2"]
    assert shallow["truncated"] and server + "/deeper.xml" in shallow["skipped_sitemaps"]
    few = net.tools.invoke("sitemap-crawler", {"input": server + "/index.xml",
                                               "max_urls": 1}).result
    assert few["count"] == 1 and few["truncated"]
    one = net.tools.invoke("sitemap-crawler", {"input": server + "/index.xml",
                                               "max_sitemaps": 2}).result
    assert one["sitemaps"] == [server + "/index.xml", server + "/sitemap.xml"]
    assert one["truncated"]


def test_sitemap_crawler_refuses_entities_and_bad_xml(net: Any, server: str) -> None:
    with pytest.raises(ToolError, match=r"DOCTYPE or entities"):
        net.tools.invoke("sitemap-crawler", {"input": server + "/bomb.xml"})
    with pytest.raises(ToolError, match=r"not a valid XML sitemap"):
        net.tools.invoke("sitemap-crawler", {"input": server + "/page"})


def test_webpage_monitor_detects_changes(net: Any, server: str) -> None:
    first = net.tools.invoke("webpage-monitor", {"input": server + "/news"}).result
    assert first["changed"] is None and first["content"] == "Headline one"
    same = net.tools.invoke("webpage-monitor", {"input": server + "/news",
                                                "previous_hash": first["hash"]}).result
    assert same["changed"] is False and same["hash"] == first["hash"]
    PAGES["/news"] = ("text/html", b"<html><body><p>Headline   two</p></body></html>")
    moved = net.tools.invoke("webpage-monitor", {"input": server + "/news",
                                                 "previous_hash": first["hash"]}).result
    assert moved["changed"] is True and moved["content"] == "Headline two"
    diff = net.tools.invoke("webpage-monitor", {"input": server + "/news",
                                                "previous_content": "Headline one"}).result
    assert diff["changed"] and "-Headline one" in diff["diff"] and "+Headline two" in diff["diff"]
    spaced = net.tools.invoke("webpage-monitor", {"input": server + "/news",
                                                  "previous_content": " Headline two "}).result
    assert spaced["changed"] is False
    with pytest.raises(ValidationError, match=r"\$.previous_hash"):
        net.tools.invoke("webpage-monitor", {"input": server + "/news",
                                             "previous_hash": "abc"})
