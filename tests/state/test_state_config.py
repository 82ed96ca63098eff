"""The seed's ``[state]`` configuration, end to end: config file -> Runtime -> stored file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmspell.errors import StateError, ValueTooLarge
from llmspell.runtime import Runtime

SEED = """
[state]
enabled = true
backend = "{backend}"
path = "./data/state"
"""


@pytest.mark.parametrize("name", ["sqlite", "sled"])
def test_the_seed_config_keeps_state_in_a_sqlite_file_under_path(tmp_path: Path,
                                                                 name: str) -> None:
    config = tmp_path / "llmspell.toml"
    config.write_text(SEED.format(backend=name))
    with Runtime.from_config(config) as rt:
        if name == "sled":
            assert any("sled" in notice and "sqlite" in notice for notice in rt.config.notices)
        rt.state.save("global", "app_config", {"theme": "dark"})
    db = tmp_path / "data" / "state" / "llmspell.db"
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT json_extract(CAST(value AS TEXT), '$.v.theme') FROM kv "
                           "WHERE key = 'state/global/app_config'").fetchone()
    assert row == ("dark",)
    with Runtime.from_config(config) as rt:
        assert rt.state.load("global", "app_config") == {"theme": "dark"}


def test_state_settings_come_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "llmspell.toml"
    config.write_text('[storage]\nurl = "memory://"\n[state]\nmax_value_bytes = 64\n'
                      'redact_on_write = true\nredact_patterns = ["\\\\bACME-[0-9]+"]\n')
    with Runtime.from_config(config) as rt:
        rt.state.save("global", "c", {"password": "hunter2", "id": "ACME-42"})
        assert rt.state.load("global", "c") == {"password": "[REDACTED]", "id": "[REDACTED]"}
        with pytest.raises(ValueTooLarge, match="64 bytes"):
            rt.state.save("global", "big", "x" * 100)


def test_disabled_state_says_so(tmp_path: Path) -> None:
    with Runtime.memory(state__enabled=False) as rt, \
            pytest.raises(StateError, match=r"enabled = false"):
        rt.state.save("global", "k", 1)


def test_the_runtime_builds_one_manager(tmp_path: Path) -> None:
    with Runtime.memory() as rt:
        assert rt.state is rt.state
        assert rt.state.store is rt.store
