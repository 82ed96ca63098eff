"""Page tools over the network: ``web-scraper`` (text, links, images and meta tags of a page),
``sitemap-crawler`` (the URLs of an XML sitemap, bounded) and ``webpage-monitor`` (has a page
changed since a previous check). HTML is read with the standard library's parser (no scripts
run; web-scraper's CSS selectors run on BeautifulSoup over the same parser, through
soupsieve); every URL goes through :func:`llmspell.tools.network.check_url` like the other network
tools.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import Tool, ToolContext
from llmspell.tools.builtins.web import parse_html
from llmspell.tools.network import MAX_BODY, Response, check_url, fetch

PAGE_BYTES = 5 * 1024 * 1024
TIMEOUT = {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 30}


def _page(ctx: ToolContext, tool: str, url: str, timeout: float,
          limit: int = PAGE_BYTES) -> Response:
    reply = fetch(ctx.security, tool=tool, url=url, timeout=timeout, max_bytes=limit)
    if reply.status_code >= 400:
        raise ToolError(f"{tool}: GET {url} answered HTTP {reply.status_code}")
    return reply


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


class WebScraper(Tool):
    name = "web-scraper"
    description = ("Fetch a web page and extract its title, visible text and, on request, "
                   "links, images and meta tags (no JavaScript is run)")
    category = "data"
    security_level = "restricted"
    capabilities = ("network", "html", "scraping")
    timeout = 65.0
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "description": "the page URL"},
            "extract_links": {"type": "boolean", "default": False},
            "extract_images": {"type": "boolean", "default": False},
            "extract_meta": {"type": "boolean", "default": False},
            "max_text_chars": {"type": "integer", "minimum": 0, "maximum": 10_000_000,
                               "default": 100_000},
            "selector": {"type": "string", "minLength": 1, "maxLength": 1000,
                         "description": "a CSS selector: the text (else the HTML) of each "
                                        "match, as selected_content"},
            "selectors": {"type": "object", "maxProperties": 100,
                          "additionalProperties": {"type": "string", "minLength": 1,
                                                   "maxLength": 1000},
                          "description": "NAME = CSS selector: each NAME's matches in "
                                         "selections (one match: a string)"},
            "timeout": TIMEOUT,
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        queries = {f"selectors.{k}": v for k, v in params.get("selectors", {}).items()}
        if "selector" in params:
            queries["selector"] = params["selector"]
        compiled = {where: _selector(css, where) for where, css in queries.items()}
        reply = _page(ctx, self.name, params["input"], float(params.get("timeout", 30)))
        html = reply.text()
        page = parse_html(html)
        text = "\n".join(page.text)
        limit = int(params.get("max_text_chars", 100_000))
        result: dict[str, Any] = {**reply.summary(), "title": page.title.strip(),
                                  "text": text[:limit], "text_truncated": len(text) > limit}
        if params.get("extract_links"):
            result["links"] = _unique([urljoin(reply.url, link) for link in page.links])
        if params.get("extract_images"):
            result["images"] = _unique([urljoin(reply.url, src) for src in page.images])
        if params.get("extract_meta"):
            result["meta"] = page.meta
        if compiled:
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(html, "html.parser")
            found = {where: _matches(soup, selector) for where, selector in compiled.items()}
            if "selector" in found:
                result["selected_content"] = found.pop("selector")
            if found:
                result["selections"] = {where.removeprefix("selectors."): (
                    items[0] if len(items) == 1 else items) for where, items in found.items()}
        return result


#: Matches kept per selector.
MAX_MATCHES = 1000


def _selector(css: str, where: str) -> Any:
    """``css`` compiled (soupsieve); ValidationError naming the parameter when it is not a
    valid CSS selector."""
    import soupsieve

    try:
        return soupsieve.compile(css)
    except soupsieve.SelectorSyntaxError as exc:
        raise ValidationError("params", f"is not a valid CSS selector: {exc.args[0]}",
                              path=f"$.{where}", got=css) from None
    except NotImplementedError as exc:  # pseudo-elements, at-rules: they select no element
        raise ValidationError("params", f"is not a valid CSS selector here: {exc}",
                              path=f"$.{where}", got=css) from None


def _matches(soup: Any, selector: Any) -> list[str]:
    """The text of each element ``selector`` matches (its HTML when it has no text), as
    rs-llmspell gives them."""
    found = []
    for element in selector.select(soup, limit=MAX_MATCHES):
        text = element.get_text(" ", strip=True)
        found.append(text or str(element))
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_sitemap(data: bytes, *, tool: str, url: str) -> tuple[list[dict[str, str]],
                                                                 list[str]]:
    """The ``<url>`` entries and the ``<sitemap>`` locations of a sitemap document. A document
    with a DOCTYPE (entities) is refused: sitemaps have none, and entities can explode."""
    if re.search(rb"<!(DOCTYPE|ENTITY)", data, re.I):
        raise ToolError(f"{tool}: {url} has a DOCTYPE or entities; sitemaps have none")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ToolError(f"{tool}: {url} is not a valid XML sitemap: {exc}") from None
    entries: list[dict[str, str]] = []
    nested: list[str] = []
    for element in root:
        fields = {_local(child.tag): (child.text or "").strip() for child in element}
        if not fields.get("loc"):
            continue
        if _local(element.tag) == "sitemap":
            nested.append(urljoin(url, fields["loc"]))
        elif _local(element.tag) == "url":
            entries.append({k: v for k, v in fields.items()
                            if k in ("loc", "lastmod", "changefreq", "priority")})
    return entries, nested


class SitemapCrawler(Tool):
    name = "sitemap-crawler"
    description = ("Read an XML sitemap (and the sitemaps a sitemap index lists) and return "
                   "its URLs, bounded by max_urls, max_sitemaps and max_depth")
    category = "data"
    security_level = "restricted"
    capabilities = ("network", "sitemap", "crawling")
    timeout = 125.0
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "description": "the sitemap URL"},
            "follow_sitemaps": {"type": "boolean", "default": True},
            "max_urls": {"type": "integer", "minimum": 1, "maximum": 50_000, "default": 1000},
            "max_sitemaps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "max_depth": {"type": "integer", "minimum": 0, "maximum": 5, "default": 2},
            "same_host": {"type": "boolean", "default": True,
                          "description": "follow only sitemaps on the first one's host"},
            "timeout": TIMEOUT,
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        start = params["input"]
        host = check_url(start, ctx.security, tool=self.name).hostname
        max_urls = int(params.get("max_urls", 1000))
        max_sitemaps = int(params.get("max_sitemaps", 20))
        max_depth = int(params.get("max_depth", 2)) if params.get("follow_sitemaps",
                                                                  True) else 0
        timeout = float(params.get("timeout", 30))
        queue: list[tuple[str, int]] = [(start, 0)]
        seen: set[str] = set()
        visited: list[str] = []
        urls: list[dict[str, str]] = []
        skipped: list[str] = []
        errors: list[str] = []
        truncated = False
        while queue:
            url, depth = queue.pop(0)
            if url in seen:
                continue
            if len(visited) >= max_sitemaps:
                truncated = True
                break
            seen.add(url)
            try:
                reply = _page(ctx, self.name, url, timeout, MAX_BODY)
                entries, nested = parse_sitemap(reply.body, tool=self.name, url=url)
            except ToolError as exc:
                if url == start:
                    raise
                errors.append(str(exc))
                continue
            visited.append(url)
            for entry in entries:
                if len(urls) >= max_urls:
                    truncated = True
                    break
                urls.append(entry)
            for child in nested:
                if depth >= max_depth:
                    truncated = truncated or max_depth > 0
                    skipped.append(child)
                elif params.get("same_host", True) and urlsplit(child).hostname != host:
                    skipped.append(child)
                else:
                    queue.append((child, depth + 1))
        return {"url": start, "urls": urls, "count": len(urls), "sitemaps": visited,
                "skipped_sitemaps": skipped, "truncated": truncated, "errors": errors}


class WebpageMonitor(Tool):
    name = "webpage-monitor"
    description = ("Fetch a page and tell whether it changed since a previous check (by "
                   "previous_content or previous_hash): SHA-256 of its text, and a diff")
    category = "data"
    security_level = "restricted"
    capabilities = ("network", "monitoring", "html")
    timeout = 65.0
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "description": "the page URL"},
            "previous_content": {"type": "string"},
            "previous_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "ignore_whitespace": {"type": "boolean", "default": True},
            "include_content": {"type": "boolean", "default": True},
            "timeout": TIMEOUT,
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        reply = _page(ctx, self.name, params["input"], float(params.get("timeout", 30)))
        content = ("\n".join(parse_html(reply.text()).text) if "html" in reply.content_type
                   else reply.text())
        squeeze = params.get("ignore_whitespace", True)
        current = _normal(content, squeeze)
        digest = hashlib.sha256(current.encode("utf-8")).hexdigest()
        result: dict[str, Any] = {**reply.summary(), "hash": digest,
                                  "truncated": reply.truncated}
        if "previous_content" in params:
            before = _normal(params["previous_content"], squeeze)
            result["changed"] = before != current
            result["diff"] = "".join(difflib.unified_diff(
                before.splitlines(keepends=True), current.splitlines(keepends=True),
                "previous", "current", n=1))[:100_000]
        elif "previous_hash" in params:
            result["changed"] = params["previous_hash"] != digest
        else:
            result["changed"] = None  # a first check: nothing to compare with
        if params.get("include_content", True):
            result["content"] = current
        return result


def _normal(text: str, squeeze: bool) -> str:
    if not squeeze:
        return text
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


__all__ = ["SitemapCrawler", "WebScraper", "WebpageMonitor", "parse_sitemap"]
