"""The keys file: 0600, outside the project, names only when listed, env wins."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from llmspell.errors import ConfigError, ValidationError
from llmspell.keys import KeyStore, default_keys_path, lookup

KEY = "sk-keys-PLANTED-0123456789abcdef"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_file_and_its_directory_are_private(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "conf" / "llmspell" / "keys.json")
    store.set("openai", KEY)
    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    store.set("anthropic", "sk-other-000000000000000000")
    assert mode(store.path) == 0o600
    assert store.names() == ["anthropic", "openai"]
    assert store.get("openai") == KEY
    assert KEY not in repr(store)
    assert store.remove("openai") and not store.remove("openai")
    assert store.names() == ["anthropic"]


def test_the_default_path_is_in_the_users_config_dir(tmp_path: Path) -> None:
    assert default_keys_path({"LLMSPELL_KEYS_PATH": str(tmp_path / "k.json")}) == \
        tmp_path / "k.json"
    assert default_keys_path({"XDG_CONFIG_HOME": str(tmp_path)}) == \
        tmp_path / "llmspell" / "keys.json"


def test_env_wins_over_the_file(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    store.set("openai", "sk-file-000000000000000000")
    assert lookup("openai", "OPENAI_API_KEY", store=store, env={"OPENAI_API_KEY": KEY}) == \
        (KEY, "env OPENAI_API_KEY")
    assert lookup("openai", "OPENAI_API_KEY", store=store, env={"OPENAI_API_KEY": ""}) == \
        ("sk-file-000000000000000000", "keys file")
    assert lookup("groq", "GROQ_API_KEY", store=store, env={}) == (None, "missing")


def test_a_bad_file_is_a_config_error_that_does_not_quote_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('{"openai": "' + KEY + '",')
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        KeyStore(path).names()
    assert KEY not in str(info.value)
    path.write_text("[1]")
    with pytest.raises(ConfigError, match="JSON object"):
        KeyStore(path).get("openai")


def test_a_file_others_can_read_is_warned_about(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    store = KeyStore(tmp_path / "keys.json")
    store.set("openai", KEY)
    store.path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="llmspell.keys"):
        assert store.get("openai") == KEY
    assert "chmod 600" in caplog.text and KEY not in caplog.text


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 65, 3])
def test_bad_names_are_refused(tmp_path: Path, name: object) -> None:
    with pytest.raises(ValidationError, match="argument 'name'"):
        KeyStore(tmp_path / "k.json").set(name, KEY)  # type: ignore[arg-type]


def test_an_empty_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="non-empty") as info:
        KeyStore(tmp_path / "k.json").set("openai", "   ")
    assert "hidden" in str(info.value)
