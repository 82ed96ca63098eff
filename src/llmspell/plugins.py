"""Providers and tools from other installed packages, found through entry points.

A package adds to llmspell by declaring entry points (in its ``pyproject.toml``)::

    [project.entry-points."llmspell.providers"]
    echo = "llmspell_echo:make_provider"      # called with the name: returns a Provider

    [project.entry-points."llmspell.tools"]
    word_count = "llmspell_echo:word_count"   # a Tool, or a callable returning a Tool or a
                                              # list of Tools

Providers: the entry point's name is the provider's name (``model = "echo/any"``); a
configured ``[providers.NAME]`` table or a built-in of the same name wins. Tools: every runtime
registers them beside the built-ins (a built-in of the same name wins). Nothing here is silent:
a plugin that fails to import, returns the wrong thing or clashes with a name is logged as a
warning and listed with its error by ``llmspell plugins``; asking for a broken provider raises
ConfigError naming the plugin. ``docs/plugins.md`` is the guide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from llmspell.errors import ConfigError

logger = logging.getLogger(__name__)

PROVIDERS = "llmspell.providers"
TOOLS = "llmspell.tools"
GROUPS = (PROVIDERS, TOOLS)


@dataclass(frozen=True)
class Plugin:
    """One entry point: its group, name, target (``module:attr``) and distribution."""

    group: str
    name: str
    target: str
    package: str
    version: str

    def as_dict(self) -> dict[str, str]:
        return {"group": self.group, "name": self.name, "target": self.target,
                "package": self.package, "version": self.version}


def discover(group: str) -> list[tuple[Plugin, EntryPoint]]:
    """The entry points of ``group`` installed now, by name. ConfigError for an unknown
    group."""
    if group not in GROUPS:
        raise ConfigError(f"plugin group must be one of {', '.join(GROUPS)}, got {group!r}")
    found = []
    for point in entry_points(group=group):
        dist = point.dist
        found.append((Plugin(group, point.name, point.value,
                             dist.metadata["Name"] if dist is not None else "?",
                             dist.version if dist is not None else "?"), point))
    return sorted(found, key=lambda item: item[0].name)


def load(plugin: Plugin, point: EntryPoint) -> Any:
    """Import the entry point's object; ConfigError naming the plugin when that fails."""
    try:
        return point.load()
    except Exception as exc:
        raise ConfigError(f"plugin {plugin.name!r} ({plugin.group} entry point "
                          f"{plugin.target!r} of package {plugin.package} {plugin.version}) "
                          f"cannot be loaded: {type(exc).__name__}: {exc}") from exc


def provider_factories() -> dict[str, tuple[Plugin, EntryPoint]]:
    """Installed provider plugins by provider name (loaded only when first asked for)."""
    return {plugin.name: (plugin, point) for plugin, point in discover(PROVIDERS)}


def build_provider(plugin: Plugin, point: EntryPoint, check: Callable[[Any], bool]) -> Any:
    """Call a provider plugin's factory with its name; ConfigError when the plugin cannot be
    loaded or does not return what ``check`` accepts (a Provider)."""
    factory = load(plugin, point)
    try:
        built = factory(plugin.name) if callable(factory) else factory
    except Exception as exc:
        raise ConfigError(f"provider plugin {plugin.name!r} ({plugin.target}) failed to build "
                          f"its provider: {type(exc).__name__}: {exc}") from exc
    if not check(built):
        raise ConfigError(f"provider plugin {plugin.name!r} ({plugin.target}) must give a "
                          f"llmspell Provider, gave {type(built).__name__}")
    return built


def tools_of(plugin: Plugin, point: EntryPoint, check: Callable[[Any], bool]) -> list[Any]:
    """The tools one tool plugin gives (its object: a Tool, a list of them, or a callable
    returning either); ConfigError naming the plugin otherwise."""
    given = load(plugin, point)
    try:
        if callable(given) and not check(given):
            given = given()
    except Exception as exc:
        raise ConfigError(f"tool plugin {plugin.name!r} ({plugin.target}) failed to build "
                          f"its tools: {type(exc).__name__}: {exc}") from exc
    items = list(given) if isinstance(given, list | tuple) else [given]
    bad = [type(item).__name__ for item in items if not check(item)]
    if bad:
        raise ConfigError(f"tool plugin {plugin.name!r} ({plugin.target}) must give a "
                          f"llmspell Tool or a list of them, gave {', '.join(bad)}, "
                          "not llmspell Tools")
    return items


def plugin_tools(check: Callable[[Any], bool]) -> tuple[list[Any], dict[str, str]]:
    """Every tool the installed tool plugins give, and the error of each plugin that failed
    (by plugin name; each also logged as a warning)."""
    tools: list[Any] = []
    errors: dict[str, str] = {}
    for plugin, point in discover(TOOLS):
        try:
            tools.extend(tools_of(plugin, point, check))
        except ConfigError as exc:
            errors[plugin.name] = str(exc)
            logger.warning("tool plugin %r is not loaded: %s", plugin.name, exc)
    return tools, errors
