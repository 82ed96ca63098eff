"""``web_search``: a web search through engines configured by name in ``[tools.web_search]``.

Each engine is a table ``[tools.web_search.engines.NAME]`` with a ``kind`` (the wire format:
``searxng`` JSON API, ``brave`` Search API, ``serperdev`` API), a ``url`` (required for
searxng, which is self-hosted; the public endpoint otherwise) and ``api_key_env`` (the
environment variable holding the key: the key itself is never in the configuration, the
results, the journal or the events). A call tries its engine (``provider``, else
``default_engine``, else the first listed), then the ``fallback`` engines in order, until one
answers with results. Results have rs-llmspell's shape: ``{query, provider, count, results:
[{title, url, snippet, provider, rank}]}``.

Every request goes through :func:`llmspell.tools.network.fetch`: off unless
``[runtime.security] allow_network_access``, the engine's host must be in ``allowed_hosts``.
A refused host is raised at once (not hidden by a fallback).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from llmspell.config_schema import SEARCH_KINDS
from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import ToolContext
from llmspell.tools.builtins.support import ConfiguredTool
from llmspell.tools.network import Response, fetch

#: The public endpoint of each kind that has one (searxng is self-hosted: its url is required).
ENDPOINTS = {"brave": "https://api.search.brave.com/res/v1/web/search",
             "serperdev": "https://google.serper.dev/search"}
SETTINGS_TABLE = "[tools.web_search]"


@dataclass(frozen=True)
class SearchSettings:
    """``[tools.web_search]``: engines by name, the default one, the fallback order and the
    defaults of a call."""

    engines: dict[str, dict[str, str]] = field(default_factory=dict)
    default_engine: str = ""
    fallback: tuple[str, ...] = ()
    max_results: int = 10
    safe_search: bool = True
    language: str = "en"

    def chain(self, requested: str | None) -> list[str]:
        """The engines a call tries, in order."""
        first = requested or self.default_engine or next(iter(self.engines), "")
        return list(dict.fromkeys(name for name in (first, *self.fallback) if name))


class WebSearch(ConfiguredTool):
    name = "web_search"
    description = ("Search the web through the engines configured in [tools.web_search] "
                   "(SearXNG, Brave, Serper), falling back to the next engine; returns "
                   "title, url and snippet of each result")
    category = "web"
    security_level = "safe"
    capabilities = ("network", "search")
    timeout = 125.0
    parameters = {
        "type": "object",
        "properties": {
            "input": {"type": "string", "minLength": 1, "maxLength": 2000,
                      "description": "the search query"},
            "provider": {"type": "string", "minLength": 1,
                         "description": "the engine to try first (a name in "
                                        "[tools.web_search] engines)"},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 100},
            "search_type": {"enum": ["web", "news", "images"], "default": "web"},
            "safe_search": {"type": "boolean"},
            "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$"},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "default": 30},
        },
        "required": ["input"],
        "additionalProperties": False,
    }

    Settings = SearchSettings
    TABLE = "tools.web_search"
    settings: SearchSettings

    def available(self) -> str | None:
        if not self.settings.engines:
            return (f"no search engine is configured: add one to {SETTINGS_TABLE} engines "
                    "(e.g. [tools.web_search.engines.searx] kind = 'searxng', url = ...)")
        named = [("default_engine", self.settings.default_engine)]
        named += [("fallback", name) for name in self.settings.fallback]
        for setting, name in named:
            if name and name not in self.settings.engines:
                return (f"{SETTINGS_TABLE} {setting} {name!r} is not one of the engines "
                        f"({', '.join(self.settings.engines)})")
        return None

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        requested = params.get("provider")
        if requested is not None and requested not in self.settings.engines:
            raise ValidationError("params", f"no engine named {requested!r} in "
                                  f"{SETTINGS_TABLE} engines "
                                  f"({', '.join(self.settings.engines)})", path="$.provider",
                                  got=requested)
        options = {"max_results": params.get("max_results", self.settings.max_results),
                   "safe_search": params.get("safe_search", self.settings.safe_search),
                   "language": params.get("language", self.settings.language),
                   "search_type": params.get("search_type", "web"),
                   "timeout": float(params.get("timeout", 30))}
        failures: list[str] = []
        for name in self.settings.chain(requested):
            engine = self.settings.engines.get(name)
            if engine is None:
                failures.append(f"{name}: not in {SETTINGS_TABLE} engines")
                continue
            try:
                found = _search(name, engine, params["input"], options, ctx)
            except ToolError as exc:
                failures.append(f"{name}: {exc}")
                continue
            if found:
                found = found[:options["max_results"]]
                return {"query": params["input"], "provider": name, "count": len(found),
                        "results": found, "failed": failures}
            failures.append(f"{name}: no results")
        raise ToolError(f"web_search: no engine found results for {params['input']!r}: "
                        + "; ".join(failures))


def _search(name: str, engine: dict[str, str], query: str, options: dict[str, Any],
            ctx: ToolContext) -> list[dict[str, Any]]:
    """One engine's results, normalised; ToolError when it fails."""
    kind = engine["kind"]
    assert kind in SEARCH_KINDS  # the config schema checked it
    url = engine.get("url") or ENDPOINTS[kind]
    headers = {"Accept": "application/json"}
    key = _key(name, engine)
    count, kind_of = int(options["max_results"]), options["search_type"]
    content = None
    method = "GET"
    if kind == "searxng":
        args = {"q": query, "format": "json", "safesearch": 2 if options["safe_search"] else 0,
                "language": options["language"], "pageno": 1}
        if kind_of != "web":
            args["categories"] = kind_of
        target = f"{url}?{urlencode(args)}"
    elif kind == "brave":
        if key:
            headers["X-Subscription-Token"] = key
        if kind_of != "web" and url.endswith("/web/search"):
            url = url[: -len("web/search")] + f"{kind_of}/search"
        args = {"q": query, "count": min(count, 20),
                "safesearch": "strict" if options["safe_search"] else "off",
                "search_lang": options["language"]}
        target = f"{url}?{urlencode(args)}"
    else:  # serperdev: a JSON POST; news and images have their own endpoints
        if key:
            headers["X-API-KEY"] = key
        if kind_of != "web" and url.endswith("/search"):
            url = url[: -len("search")] + kind_of
        headers["Content-Type"] = "application/json"
        method, target = "POST", url
        content = json.dumps({"q": query, "num": count, "hl": options["language"],
                              "safe": "active" if options["safe_search"] else "off"}).encode()
    reply = fetch(ctx.security, tool="web_search", url=target, method=method, headers=headers,
                  content=content, timeout=options["timeout"], max_bytes=4 * 1024 * 1024,
                  argument="provider")
    data = _json(reply)
    items = _items(kind, data, kind_of)
    results: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("link") or item.get("imageUrl")
        if not isinstance(link, str) or not link:
            continue
        snippet = item.get("content") or item.get("description") or item.get("snippet") or ""
        results.append({"title": str(item.get("title") or ""), "url": link,
                        "snippet": str(snippet), "provider": name, "rank": len(results) + 1})
    if key:  # an engine echoing the key back must not hand it to the caller
        text = json.dumps(results)
        if key in text:
            results = json.loads(text.replace(key, "[REDACTED]"))
    return results


def _key(name: str, engine: dict[str, str]) -> str | None:
    variable = engine.get("api_key_env")
    if not variable:
        if engine["kind"] != "searxng":
            raise ToolError(f"engine {name!r} needs api_key_env (the variable holding its "
                            "key)")
        return None
    value = os.environ.get(variable)
    if not value:
        raise ToolError(f"the environment variable {variable} (api_key_env of engine "
                        f"{name!r}) is not set")
    return value


def _json(reply: Response) -> Any:
    if not 200 <= reply.status_code < 300:
        raise ToolError(f"HTTP {reply.status_code} from {reply.url.split('?')[0]}")
    try:
        return json.loads(reply.body)
    except ValueError:
        raise ToolError(f"{reply.url.split('?')[0]} did not answer JSON "
                        f"({reply.content_type or 'no content type'})") from None


def _items(kind: str, data: Any, search_type: str) -> list[Any]:
    if not isinstance(data, dict):
        raise ToolError(f"the {kind} answer is not a JSON object")
    if kind == "searxng":
        found = data.get("results")
    elif kind == "brave":
        section = data.get(search_type) if search_type != "web" else data.get("web")
        found = section.get("results") if isinstance(section, dict) else data.get("results")
    else:
        found = data.get({"web": "organic", "news": "news", "images": "images"}[search_type])
    if found is None:
        return []
    if not isinstance(found, list):
        raise ToolError(f"the {kind} answer's results are not a list")
    return found


__all__ = ["SearchSettings", "WebSearch"]
