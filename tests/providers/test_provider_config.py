"""``[providers]`` in llmspell.toml is checked when the configuration loads (it used to be kept
as written, typos and all), and the keys file's variable is not a config override."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.config import load_config
from llmspell.errors import ConfigError

KEY = "sk-config-PLANTED-abcdef0123456789"


def write(tmp_path: Path, text: str) -> None:
    (tmp_path / "llmspell.toml").write_text(text)


@pytest.mark.parametrize(("table", "key", "message"), [
    ('[providers.x]\nbase_urll = "http://h"', "base_urll", "did you mean 'base_url'"),
    ('[providers.x]\nkind = "gemini"', "kind", "must be one of"),
    ('[providers.x]\ntimeout = "fast"', "timeout", "must be a number"),
    ('[providers.x]\nmax_retries = -1', "max_retries", "at least 0"),
    ('[providers.x]\nprices = { m = { input = 1 } }', "prices.m", "input = N, output = N"),
    ('[providers.x]\nprices = { m = { input = 1, output = "a" } }', "prices.m.output",
     "number >= 0"),
    ('[providers.x]\nmodel = "a"\ndefault_model = "b"', "", "keep one"),
    ('[providers]\ndefualt = "x"', "defualt", "did you mean 'default'"),
])
def test_bad_provider_tables_are_config_errors(tmp_path: Path, table: str, key: str,
                                               message: str) -> None:
    write(tmp_path, table + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(cwd=tmp_path, env={})
    assert key in info.value.key


def test_a_literal_key_in_the_config_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    write(tmp_path, f'[providers.openai]\napi_key = "{KEY}"\n')
    with pytest.raises(ConfigError, match="llmspell keys set") as info:
        load_config(cwd=tmp_path, env={})
    assert KEY not in str(info.value)


def test_the_keys_file_variable_is_not_an_unknown_config_variable(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path, env={"LLMSPELL_KEYS_PATH": str(tmp_path / "k.json")})
    assert config.source is None
