"""Which provider serves a model string, with which settings, and building it.

Model strings are ``provider/model`` (``openai/gpt-4o-mini``, ``ollama/llama3``,
``local/meta-llama/Llama-3-8B``: the part before the first ``/`` names a provider). A bare
``gpt-*``, ``chatgpt-*`` or ``o1``/``o3``... model means ``openai``, a bare ``claude-*`` means
``anthropic``, a bare provider name means its ``default_model``, and other bare models go to
``[providers] default``. Providers come from ``[providers.NAME]`` tables laid over four
built-ins that need no table: ``openai`` and ``anthropic`` (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``), ``ollama`` (local, no key)
and ``scripted`` (the test double). Implementations are chosen by kind in :data:`KINDS`.
Installed packages add providers through ``llmspell.providers`` entry points
(:mod:`llmspell.plugins`); a configured or built-in name wins over a plugin's.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmspell import plugins
from llmspell.config_schema import PROVIDER_FIELDS, PROVIDER_KINDS
from llmspell.errors import ConfigError, ProviderAuthError, ValidationError
from llmspell.keys import KeyStore, lookup
from llmspell.providers.base import Provider
from llmspell.providers.pricing import Price
from llmspell.providers.retry import RetryPolicy

#: kind -> "module:class" of its implementation (imported when first used).
KINDS = {
    "openai": "llmspell.providers.openai:OpenAIProvider",
    "anthropic": "llmspell.providers.anthropic:AnthropicProvider",
    "scripted": "llmspell.providers.scripted:ScriptedProvider",
}
#: Providers that need no table: kind, base URL variable, official base URL, key variable.
BUILTINS: dict[str, tuple[str, str | None, str, str | None]] = {
    "openai": ("openai", "OPENAI_BASE_URL", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    "anthropic": ("anthropic", "ANTHROPIC_BASE_URL", "https://api.anthropic.com",
                  "ANTHROPIC_API_KEY"),
    "ollama": ("openai", "OLLAMA_BASE_URL", "http://localhost:11434/v1", None),
    "scripted": ("scripted", None, "", None),
}
_BARE = [(re.compile(r"^(gpt-|chatgpt-|o\d)"), "openai"), (re.compile(r"^claude-"), "anthropic")]


@dataclass(frozen=True)
class ProviderSettings:
    """One provider's effective settings (never its key)."""

    name: str
    kind: str
    base_url: str
    api_key_env: str | None
    default_model: str = ""
    models: tuple[str, ...] = ()
    timeout: float = 60.0
    max_retries: int = 2
    max_tokens: int | None = None
    temperature: float | None = None
    replies: Path | None = None
    prices: Mapping[str, Price] = field(default_factory=dict)
    enabled: bool = True
    configured: bool = False  # from a [providers.NAME] table

    def price(self, model: str) -> Price | None:
        """The price of ``model`` (or None when the table has none)."""
        return self.prices.get(model)

    def all_models(self) -> list[str]:
        """The models this provider is known to serve: default, listed and priced ones."""
        seen = dict.fromkeys([m for m in (self.default_model, *self.models, *self.prices) if m])
        return list(seen)


def _field_default(key: str) -> Any:
    return PROVIDER_FIELDS[key].default


def build_settings(name: str, table: Mapping[str, Any] | None, *, env: Mapping[str, str],
                   base_dir: Path) -> ProviderSettings:
    """The settings of provider ``name`` from its config table (checked by the config loader)
    laid over the built-in defaults."""
    table = table or {}
    builtin = BUILTINS.get(name)
    kind = table.get("kind") or (builtin[0] if builtin else "openai")
    defaults = builtin if builtin and builtin[0] == kind else BUILTINS.get(kind)
    url_env, official, key_env = (defaults[1], defaults[2], defaults[3]) if defaults \
        else (None, "", None)
    base_url = table.get("base_url") or (url_env and env.get(url_env)) or official
    api_key_env = table.get("api_key_env") or (None if table.get("base_url") else key_env)
    replies = table.get("replies")
    return ProviderSettings(
        name=name, kind=kind, base_url=base_url, api_key_env=api_key_env or None,
        default_model=table.get("default_model", _field_default("default_model")),
        models=tuple(table.get("models", _field_default("models"))),
        timeout=float(table.get("timeout", _field_default("timeout"))),
        max_retries=int(table.get("max_retries", _field_default("max_retries"))),
        max_tokens=table.get("max_tokens") or None,
        temperature=table.get("temperature"),
        replies=(base_dir / Path(replies).expanduser()) if replies else None,
        prices={m: Price(p["input"], p["output"]) for m, p in table.get("prices", {}).items()},
        enabled=table.get("enabled", _field_default("enabled")),
        configured=bool(table),
    )


class ProviderRegistry:
    """Resolves model strings to providers and builds each provider once.

    ``providers`` is the checked ``[providers]`` table (``Config.extra["providers"]``), ``env``
    the environment (default ``os.environ``), ``keys`` the keys file.
    """

    def __init__(self, providers: Mapping[str, Any] | None = None, *,
                 env: Mapping[str, str] | None = None, keys: KeyStore | None = None,
                 base_dir: Path | None = None) -> None:
        providers = dict(providers or {})
        self.default = providers.pop("default", "") or ""
        self._tables = {name: table for name, table in providers.items()
                        if isinstance(table, Mapping)}
        self.env = os.environ if env is None else env
        self.keys = keys or KeyStore()
        self.base_dir = base_dir or Path.cwd()
        self._built: dict[str, Provider] = {}
        self._prices: dict[str, Mapping[str, Price]] = {}
        self._lock = threading.Lock()
        self._plugins: dict[str, Any] | None = None  # found on first use (llmspell.plugins)

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> ProviderRegistry:
        """A registry for a :class:`llmspell.config.Config`."""
        base = config.source.parent if config.source else None
        return cls(config.extra.get("providers"), base_dir=base, **kwargs)

    def names(self) -> list[str]:
        """Every provider that can be named: configured ones, then the built-ins."""
        return list(dict.fromkeys([*self._tables, *BUILTINS, *self._built,
                                   *self.plugins()]))

    def plugins(self) -> dict[str, Any]:
        """Installed provider plugins (``llmspell.providers`` entry points) by name."""
        if self._plugins is None:
            self._plugins = plugins.provider_factories()
        return self._plugins

    def settings(self, name: str) -> ProviderSettings:
        """The effective settings of provider ``name``; ValidationError when unknown."""
        _check_name(name)
        if name not in self._tables and name not in BUILTINS:
            raise ValidationError("provider", f"no provider of that name; known: "
                                  f"{', '.join(self.names())}", got=name)
        return build_settings(name, self._tables.get(name), env=self.env,
                              base_dir=self.base_dir)

    def price(self, name: str, model: str) -> Price | None:
        """The price of ``model`` at provider ``name``: None when its table has none, or when
        ``name`` was only registered in code. The price tables never change after the
        registry is made, so each provider's is read once (agents ask on every call)."""
        if name.__class__ is not str or model.__class__ is not str:
            _check_name(name)
            if not isinstance(model, str):
                raise ValidationError("model", "must be a model name (a string)", got=model)
        prices = self._prices.get(name)
        if prices is None:
            try:
                prices = self.settings(name).prices
            except ValidationError:
                prices = {}  # a provider registered in code has no price table
            self._prices[name] = prices
        return prices.get(model)

    def split(self, model: str | None) -> tuple[str, str]:
        """``(provider name, model)`` for a model string (see the module docstring)."""
        if model is None or model == "":
            if not self.default:
                raise ValidationError("model", "no model given and no [providers] default set",
                                      got=model)
            model = self.default
        if not isinstance(model, str):
            raise ValidationError("model", "must be a string such as 'openai/gpt-4o-mini'",
                                  got=model)
        known = self.names()
        prefix, slash, rest = model.partition("/")
        if slash:
            if prefix not in known:
                raise ValidationError("model", f"unknown provider {prefix!r}; known: "
                                      f"{', '.join(known)} (prefix a model name that holds a "
                                      f"'/' with its provider: 'NAME/{model}')", got=model)
            if not rest:
                raise ValidationError("model", "names a provider but no model after '/'",
                                      got=model)
            return prefix, rest
        if model in known:
            return model, self._default_model(model)
        for pattern, provider in _BARE:
            if pattern.match(model):
                return provider, model
        if self.default:
            provider = self.default.partition("/")[0]
            if provider in known:
                return provider, model
        raise ValidationError("model", f"cannot tell which provider serves it; write "
                              f"'PROVIDER/{model}' (known providers: {', '.join(known)})",
                              got=model)

    def _default_model(self, name: str) -> str:
        if name in self._tables or name in BUILTINS:
            settings = self.settings(name)
            if settings.default_model:
                return settings.default_model
            if settings.kind != "scripted":
                raise ValidationError("model", f"provider {name!r} has no default_model; "
                                      f"write '{name}/MODEL'", got=name)
        return name  # a scripted or code-registered provider: the model name is not used

    def resolve(self, model: str | None) -> tuple[Provider, str]:
        """The provider (built once) and the model name to send for a model string."""
        name, model_name = self.split(model)
        return self.provider(name), model_name

    def provider(self, name: str) -> Provider:
        """Provider ``name``, built on first use; ProviderAuthError when it needs a key that
        neither its environment variable nor the keys file holds."""
        _check_name(name)
        with self._lock:
            if name in self._built:
                return self._built[name]
            if name not in self._tables and name not in BUILTINS and name in self.plugins():
                plugin, point = self.plugins()[name]
                made: Provider = plugins.build_provider(
                    plugin, point, lambda p: isinstance(p, Provider))
                made.name = name
                self._built[name] = made
                return made
            settings = self.settings(name)
            built = self._build(settings)
            self._built[name] = built
            return built

    def add(self, name: str, provider: Provider) -> None:
        """Register a provider built in code (a ScriptedProvider in a test, say) as ``name``."""
        _check_name(name, "name")
        if not isinstance(provider, Provider):
            raise ValidationError("provider", "must be a Provider (llmspell.providers.base)",
                                  got=provider)
        with self._lock:
            provider.name = name
            self._built[name] = provider

    def key_source(self, settings: ProviderSettings) -> str:
        """Where the key would come from (``env VAR``, ``keys file``, ``missing``, or
        ``not needed``); never the key."""
        if settings.kind == "scripted" or (not settings.api_key_env
                                           and not self.keys.get(settings.name)):
            return "not needed"
        return lookup(settings.name, settings.api_key_env, store=self.keys, env=self.env)[1]

    def build(self, name: str, *, base_url: str | None = None,
              api_key: str | None = None) -> Provider:
        """A new provider ``name`` of its own (not shared, the caller closes it) with
        ``base_url`` and/or ``api_key`` in place of the configured ones (an agent created
        with its own ``base_url``/``api_key``). A given key is used as is, never stored."""
        settings = self.settings(name)
        if base_url:
            settings = replace(settings, base_url=base_url)
        built = self._build(settings, api_key=api_key)
        return built

    def _build(self, settings: ProviderSettings, *, api_key: str | None = None) -> Provider:
        if not settings.enabled:
            raise ConfigError("the provider is disabled (enabled = false)",
                              table=f"providers.{settings.name}", key="enabled")
        module, _, cls_name = KINDS[settings.kind].partition(":")
        cls: Any = getattr(importlib.import_module(module), cls_name)
        if settings.kind == "scripted":
            return cls(settings.name, settings.replies)
        key = api_key
        if key is None:
            key, _source = lookup(settings.name, settings.api_key_env, store=self.keys,
                                  env=self.env)
        if key is None and settings.api_key_env:
            raise ProviderAuthError(f"no API key: set {settings.api_key_env} or run "
                                    f"`llmspell keys set {settings.name}`",
                                    provider=settings.name, env_var=settings.api_key_env)
        return cls(settings.name, base_url=settings.base_url, api_key=key,
                   api_key_env=settings.api_key_env, timeout=settings.timeout,
                   retry=RetryPolicy(max_retries=settings.max_retries),
                   max_tokens=settings.max_tokens, temperature=settings.temperature)

    def close(self) -> None:
        """Close every provider built here."""
        with self._lock:
            for provider in self._built.values():
                provider.close()


__all__ = ["BUILTINS", "KINDS", "PROVIDER_KINDS", "ProviderRegistry", "ProviderSettings"]


def _check_name(name: object, argument: str = "provider") -> None:
    """A provider's name, as ``[providers.NAME]`` and model strings spell it."""
    if not isinstance(name, str) or not name:
        raise ValidationError(argument, "must be a provider's name (a non-empty string such "
                              "as 'openai')", got=name)
