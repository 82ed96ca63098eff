"""The ``[session]`` artifact keys: defaults, a file, the environment, and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.artifacts import ArtifactSettings
from llmspell.config import Config, load_config
from llmspell.errors import ConfigError
from llmspell.runtime import Runtime


def test_defaults() -> None:
    settings = ArtifactSettings.from_config(Config.defaults())
    assert settings == ArtifactSettings()
    assert (settings.max_artifact_size, settings.max_name_length, settings.max_tag_length,
            settings.max_tags, settings.auto_collect, settings.compression,
            settings.compression_threshold, settings.gc_grace_seconds) == (
        1024**3, 255, 128, 64, True, "zstd", 10240, 900.0)


def test_from_a_file_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text(
        "[session]\nartifact_compression_algorithm = 'lz4'\nmax_artifact_size = 1000\n"
        "artifact_max_name_length = 40\nartifact_max_tags = 3\n"
        "artifact_gc_grace_seconds = 60\n[runtime.sessions]\n"
        "artifact_compression_threshold = 100\n")
    config = load_config(cwd=tmp_path, env={"LLMSPELL_SESSION_ARTIFACT_AUTO_COLLECT": "false"})
    settings = ArtifactSettings.from_config(config)
    assert (settings.compression, settings.max_artifact_size, settings.max_name_length,
            settings.max_tags, settings.gc_grace_seconds, settings.auto_collect,
            settings.compression_threshold) == ("lz4", 1000, 40, 3, 60.0, False, 100)


def test_compression_off_and_lz4_reach_the_blobs(tmp_path: Path) -> None:
    with Runtime(Config.defaults(base_dir=tmp_path, storage__url="memory://",
                                 session__artifact_compression_algorithm="lz4")) as rt:
        s = rt.sessions.create()
        assert rt.artifacts.store(s, "log", "line\n" * 5000).compression == "lz4"
    with Runtime(Config.defaults(base_dir=tmp_path, storage__url="memory://",
                                 session__artifact_compression=False)) as rt:
        s = rt.sessions.create()
        assert rt.artifacts.store(s, "log", "line\n" * 5000).compression == "none"


@pytest.mark.parametrize(("text", "key", "rule"), [
    ("artifact_compression_algorithm = 'brotli'", "artifact_compression_algorithm",
     "must be one of 'zstd', 'lz4'"),
    ("max_artifact_size = -1", "max_artifact_size", "must be at least 0"),
    ("artifact_max_name_length = 0", "artifact_max_name_length", "must be at least 1"),
    ("artifact_auto_collect = 'yes'", "artifact_auto_collect", "must be a boolean"),
])
def test_bad_values_are_refused(tmp_path: Path, text: str, key: str, rule: str) -> None:
    (tmp_path / "llmspell.toml").write_text(f"[session]\n{text}\n")
    with pytest.raises(ConfigError, match=rf"table \[session\], key '{key}': {rule}"):
        load_config(cwd=tmp_path, env={})
