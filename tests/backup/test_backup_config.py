"""The [state] keys of migrations and backups: defaults, overrides, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell import Runtime
from llmspell.config import Config, load_config
from llmspell.errors import ConfigError


def test_defaults() -> None:
    config = Config.defaults()
    get = config.get
    assert (get("state.backup_format"), get("state.backup_compression")) == ("json", "zstd")
    assert get("state.backup_compression_level") == 3 and get("state.backup_safety") is True
    assert get("state.migration_undo_keep") == 1 and get("state.migrate_on_open") is False
    assert get("state.migrations") == [] and get("state.backup_keep_last") == 0
    assert config.state.backup_dir == config.runtime.data_dir / "backups"


def test_the_file_and_the_environment_set_them(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(
        '[state]\nbackup_format = "binary"\nbackup_compression = "lz4"\n'
        'backup_dir = "bk"\nbackup_keep_last = 4\nbackup_max_age = "30d"\n'
        'migrations = ["myapp.migrations"]\n')
    config = load_config(cwd=tmp_path, env={"LLMSPELL_STATE_MIGRATION_UNDO_KEEP": "3",
                                            "LLMSPELL_STATE_BACKUP_SAFETY": "false"})
    assert config.get("state.backup_format") == "binary"
    assert config.get("state.backup_compression") == "lz4"
    assert config.state.backup_dir == tmp_path / "bk"
    assert config.get("state.backup_keep_last") == 4
    assert config.get("state.migrations") == ["myapp.migrations"]
    assert config.get("state.migration_undo_keep") == 3
    assert config.get("state.backup_safety") is False


@pytest.mark.parametrize(("text", "words"), [
    ('backup_format = "xml"', "must be one of 'json', 'binary'"),
    ('backup_compression = "gzip"', "must be one of 'zstd', 'lz4', 'none'"),
    ("migration_undo_keep = -1", "must be at least 0"),
    ("backup_compresion = 'zstd'", "did you mean 'backup_compression'"),
])
def test_bad_values_are_refused(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "llmspell.toml").write_text(f"[state]\n{text}\n")
    with pytest.raises(ConfigError, match=words):
        load_config(cwd=tmp_path, env={})


def test_the_runtime_uses_them(tmp_path: Path) -> None:
    with Runtime.memory(state__backup_dir=str(tmp_path), state__backup_format="binary",
                        state__backup_compression="none") as rt:
        rt.state.save("global", "k", 1)
        info = rt.backups.backup()
        assert (info.entry_format, info.compression) == ("binary", "none")
        assert info.path.parent == tmp_path
        assert rt.migrations is rt.migrations and rt.backups is rt.backups
