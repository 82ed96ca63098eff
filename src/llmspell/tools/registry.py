"""The tool registry: tools by name, discovery by category, capability, level and text.

Thread-safe. Registering a name twice is refused unless ``replace=True`` (a script that
re-registers its own tool).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import LEVELS, Tool, check_level
from llmspell.validation import check_known_keys, did_you_mean

DISCOVER_KEYS = ("category", "capability", "security_level", "tag", "text", "available")


class ToolNotFound(ToolError, LookupError):
    """No tool has the given name; the message lists close names."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        hint = did_you_mean(name, known)
        super().__init__(f"no tool named {name!r}{hint}; `llmspell tool list` shows them all")


class ToolRegistry:
    """Tools by name."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._lock = threading.Lock()
        for item in tools:
            self.register(item)

    def register(self, item: Tool, *, replace: bool = False) -> Tool:
        """Add ``item``; ValidationError if it is not a Tool or its name is taken."""
        if not isinstance(item, Tool):
            raise ValidationError("tool", "must be a Tool (see llmspell.tools.tool)", got=item)
        with self._lock:
            if item.name in self._tools and not replace:
                raise ValidationError("name", f"a tool named {item.name!r} is already "
                                      "registered", got=item.name)
            self._tools[item.name] = item
        return item

    def unregister(self, name: str) -> bool:
        """Remove the tool ``name``; False when there is none."""
        if not isinstance(name, str):
            raise ValidationError("name", "must be a tool's name (a string)", got=name)
        with self._lock:
            return self._tools.pop(name, None) is not None

    def get(self, name: str) -> Tool:
        """The tool called ``name``; ToolNotFound otherwise."""
        found = self._tools.get(name) if isinstance(name, str) else None
        if found is None:
            raise ToolNotFound(str(name), self._tools)
        return found

    def exists(self, name: str) -> bool:
        return isinstance(name, str) and name in self._tools

    def names(self) -> list[str]:
        return sorted(self._tools)

    def list(self) -> list[Tool]:
        """Every tool, by name."""
        return [self._tools[name] for name in self.names()]

    def categories(self) -> builtins.list[str]:
        return sorted({t.category for t in self._tools.values()})

    def discover(self, filters: dict[str, Any] | None = None) -> builtins.list[Tool]:
        """The tools matching every given filter.

        Filters: ``category``, ``capability`` (one of the tool's capabilities),
        ``security_level`` (at most this level), ``tag`` or ``text`` (a word in the name or
        description, any case), ``available`` (True: only tools that work here).
        """
        filters = discover_filters(filters)
        level = filters.get("security_level")
        rank = LEVELS.index(check_level(level, "filter")) if level is not None else None
        word = filters.get("text") or filters.get("tag")
        if word is not None and not isinstance(word, str):
            raise ValidationError("filter", "text must be a string", path="$.text", got=word)
        found = []
        for item in self.list():
            if "category" in filters and item.category != filters["category"]:
                continue
            if "capability" in filters and filters["capability"] not in item.capabilities:
                continue
            if rank is not None and LEVELS.index(item.security_level) > rank:
                continue
            if word is not None and word.lower() not in (
                    item.name + " " + item.description).lower():
                continue
            if "available" in filters and (item.available() is None) != bool(
                    filters["available"]):
                continue
            found.append(item)
        return found

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools


def discover_filters(filters: object) -> dict[str, Any]:
    """``filters`` of a discovery (None: none) as a dict of known filter keys."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise ValidationError("filter", "must be a table of filters such as {category = "
                              "'web'}", got=filters)
    found = dict(filters)
    check_known_keys(found, DISCOVER_KEYS, "filter", noun="filter")
    return found
