"""Model strings, [providers] tables, keys (env wins) and cost, through the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspell.config import load_config
from llmspell.errors import ConfigError, ProviderAuthError, ValidationError
from llmspell.keys import KeyStore
from llmspell.providers import ChatRequest, Message, Price, Usage, cost
from llmspell.providers.anthropic import AnthropicProvider
from llmspell.providers.openai import OpenAIProvider
from llmspell.providers.registry import ProviderRegistry
from llmspell.providers.scripted import ScriptedProvider
from llmspell.testing import FakeOpenAIServer

KEY = "sk-registry-PLANTED-abcdef0123456789"


def registry(tmp_path: Path, providers: dict[str, Any] | None = None,
             env: dict[str, str] | None = None) -> ProviderRegistry:
    return ProviderRegistry(providers, env=env or {}, keys=KeyStore(tmp_path / "keys.json"),
                            base_dir=tmp_path)


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-4", ("openai", "gpt-4")),
    ("gpt-4o-mini", ("openai", "gpt-4o-mini")),
    ("o1-preview", ("openai", "o1-preview")),
    ("claude-3-5-haiku-latest", ("anthropic", "claude-3-5-haiku-latest")),
    ("openai/gpt-4o", ("openai", "gpt-4o")),
    ("anthropic/claude-3-opus", ("anthropic", "claude-3-opus")),
    ("ollama/llama3", ("ollama", "llama3")),
    ("local/meta-llama/Llama-3-8B", ("local", "meta-llama/Llama-3-8B")),
    ("local", ("local", "qwen")),
    ("mistral-7b", ("local", "mistral-7b")),
])
def test_model_strings_name_a_provider_and_a_model(tmp_path: Path, model: str,
                                                   expected: tuple[str, str]) -> None:
    reg = registry(tmp_path, {"default": "local", "local": {
        "base_url": "http://127.0.0.1:1/v1", "default_model": "qwen"}})
    assert reg.split(model) == expected


@pytest.mark.parametrize(("model", "message"), [
    ("mystery-model", "cannot tell which provider"),
    ("nowhere/gpt-4", "unknown provider 'nowhere'"),
    ("openai/", "no model after"),
    ("openai", "has no default_model"),
    ("", "no model given"),
    (42, "must be a string"),
])
def test_unresolvable_model_strings_say_why(tmp_path: Path, model: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        registry(tmp_path).split(model)
    assert info.value.argument == "model"


def test_env_vars_of_the_official_clients_work_without_a_table(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
           "ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": "http://127.0.0.1:8"}
    reg = registry(tmp_path, env=env)
    provider, model = reg.resolve("gpt-4")
    assert isinstance(provider, OpenAIProvider) and model == "gpt-4"
    assert provider.base_url == "http://127.0.0.1:9/v1"
    claude, _ = reg.resolve("claude-3-haiku")
    assert isinstance(claude, AnthropicProvider) and claude.base_url == "http://127.0.0.1:8"
    assert reg.resolve("openai/gpt-4o")[0] is provider  # built once
    assert KEY not in repr(provider) and KEY not in repr(reg.settings("openai"))


def test_a_missing_key_is_an_auth_error_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ProviderAuthError, match="set OPENAI_API_KEY or run `llmspell keys "
                       "set openai`") as info:
        registry(tmp_path).resolve("gpt-4")
    assert info.value.env_var == "OPENAI_API_KEY"


def test_env_wins_over_the_keys_file_which_serves_when_env_is_unset(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        server.reply("a")
        server.reply("b")
        store = KeyStore(tmp_path / "keys.json")
        store.set("openai", "sk-from-the-keys-file-000000000")
        env = {"OPENAI_BASE_URL": server.base_url}
        request = ChatRequest("gpt-4", [Message("user", "hi")])
        from_file = ProviderRegistry(env=env, keys=store).resolve("gpt-4")[0]
        from_file.complete(request)
        from_env = ProviderRegistry(env={**env, "OPENAI_API_KEY": KEY},
                                    keys=store).resolve("gpt-4")[0]
        from_env.complete(request)
        from_file.close()
        from_env.close()
        sent = [r.headers["authorization"] for r in server.requests]
    assert sent == ["Bearer sk-from-the-keys-file-000000000", f"Bearer {KEY}"]


def test_a_table_with_its_own_base_url_needs_no_key_unless_it_names_one(tmp_path: Path) -> None:
    reg = registry(tmp_path, {"local": {"base_url": "http://127.0.0.1:1/v1"},
                              "groq": {"base_url": "http://127.0.0.1:2/v1",
                                       "api_key_env": "GROQ_API_KEY"}})
    assert isinstance(reg.resolve("local/x")[0], OpenAIProvider)
    with pytest.raises(ProviderAuthError, match="GROQ_API_KEY"):
        reg.resolve("groq/llama3-70b")
    assert reg.key_source(reg.settings("local")) == "not needed"
    assert reg.key_source(reg.settings("groq")) == "missing"


def test_a_table_named_like_a_builtin_keeps_its_defaults(tmp_path: Path) -> None:
    reg = registry(tmp_path, {"openai": {"default_model": "gpt-4o-mini", "max_retries": 5,
                                         "prices": {"gpt-4o-mini": {"input": 0.15,
                                                                    "output": 0.6}}}},
                   env={"OPENAI_API_KEY": KEY})
    settings = reg.settings("openai")
    assert settings.api_key_env == "OPENAI_API_KEY"
    assert settings.base_url == "https://api.openai.com/v1"
    assert settings.max_retries == 5 and settings.timeout == 60.0
    provider, model = reg.resolve("openai")
    assert model == "gpt-4o-mini"
    assert provider.retry.max_retries == 5  # type: ignore[attr-defined]
    assert settings.all_models() == ["gpt-4o-mini"]
    assert reg.price("openai", "gpt-4o-mini") == settings.price("gpt-4o-mini")
    assert reg.price("openai", "gpt-4o") is None  # not in the table
    assert reg.price("anthropic", "claude") is None  # a builtin without a table
    assert reg.price("in-code-only", "m") is None  # not configured: no price, no error


def test_scripted_providers_from_a_table_or_from_code(tmp_path: Path) -> None:
    (tmp_path / "replies.json").write_text('["canned"]')
    reg = registry(tmp_path, {"demo": {"kind": "scripted", "replies": "replies.json"}})
    provider, _ = reg.resolve("demo/anything")
    assert provider.complete(ChatRequest("x", [Message("user", "?")])).text == "canned"
    reg.add("fake", ScriptedProvider(replies=["from code"]))
    provider, model = reg.resolve("fake")
    assert model == "fake" and provider.name == "fake"
    assert reg.resolve("scripted")[0].name == "scripted"


def test_a_disabled_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="disabled"):
        registry(tmp_path, {"local": {"base_url": "http://x/v1", "enabled": False}}
                 ).resolve("local/m")


def test_cost_from_the_price_table() -> None:
    price = Price(input=2.5, output=10.0)
    assert cost(Usage(1_000_000, 0), price) == 2.5
    assert cost(Usage(200, 100), price) == pytest.approx(0.0015)
    assert cost(Usage(200, 100), None) == 0.0


def write(tmp_path: Path, text: str) -> None:
    (tmp_path / "llmspell.toml").write_text(text)


def test_provider_tables_load_from_llmspell_toml(tmp_path: Path) -> None:
    write(tmp_path, """
[providers]
default_provider = "local"

[providers.local]
provider_type = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3"
timeout_seconds = 5
max_retries = 0
models = ["llama3", "qwen2"]
prices = { llama3 = { input = 0, output = 0 } }

[providers.anthropic]
api_key = "${MY_ANTHROPIC_KEY}"
""")
    config = load_config(cwd=tmp_path, env={})
    reg = ProviderRegistry.from_config(config, env={}, keys=KeyStore(tmp_path / "k.json"))
    local = reg.settings("local")
    assert (local.kind, local.default_model, local.timeout, local.max_retries) == \
        ("openai", "llama3", 5.0, 0)
    assert local.all_models() == ["llama3", "qwen2"]
    assert reg.split(None) == ("local", "llama3")
    assert reg.settings("anthropic").api_key_env == "MY_ANTHROPIC_KEY"
    assert config.get("providers.local.base_url") == "http://127.0.0.1:11434/v1"
