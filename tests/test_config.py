"""Configuration: discovery, the seeds' and rs-llmspell's tables, overrides, and every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.config import Config, find_config_file, load_config
from llmspell.errors import ConfigError, ValidationError


def write(tmp_path: Path, text: str, name: str = "llmspell.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_gives_embedded_sqlite_under_dot_llmspell(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path, env={})
    assert config.source is None
    assert config.storage.url == f"sqlite:///{tmp_path.resolve()}/.llmspell/llmspell.db"
    assert config.runtime.data_dir == tmp_path.resolve() / ".llmspell"
    assert config.lua.sandbox == "safe"
    assert config.runtime.allowed_paths == (tmp_path.resolve(),)


def test_file_in_cwd_is_found(tmp_path: Path) -> None:
    write(tmp_path, '[state]\nbackend = "memory"\n')
    config = load_config(cwd=tmp_path, env={})
    assert config.source == (tmp_path / "llmspell.toml").resolve()
    assert config.storage.url == "memory://"


def test_explicit_path_beats_env_beats_cwd(tmp_path: Path) -> None:
    write(tmp_path, '[state]\nbackend = "memory"\n')
    env_file = write(tmp_path, '[state]\nbackend = "lmdb"\n', "env.toml")
    cli_file = write(tmp_path, '[state]\nbackend = "rocksdb"\n', "cli.toml")
    env = {"LLMSPELL_CONFIG": str(env_file)}
    assert load_config(cwd=tmp_path, env=env).storage.url.startswith("lmdb://")
    assert load_config(cli_file, cwd=tmp_path, env=env).storage.url.startswith("rocksdb://")


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        find_config_file("nope.toml", cwd=tmp_path, env={})
    with pytest.raises(ConfigError, match="LLMSPELL_CONFIG"):
        find_config_file(None, cwd=tmp_path, env={"LLMSPELL_CONFIG": "missing.toml"})


def test_seed_state_and_session_tables(tmp_path: Path) -> None:
    write(tmp_path, """
[state]
enabled = true
backend = "sqlite"
path = "./data/state"

[session]
enabled = true
storage_path = "./sessions"
max_active_sessions = 100
artifact_compression = true
""")
    config = load_config(cwd=tmp_path, env={})
    assert config.storage.url == f"sqlite:///{tmp_path.resolve()}/data/state/llmspell.db"
    assert config.session.blob_dir == tmp_path.resolve() / "sessions"
    assert config.session.max_active_sessions == 100
    assert config.session.artifact_compression is True


def test_sled_maps_to_sqlite_with_a_notice(tmp_path: Path) -> None:
    write(tmp_path, '[state]\nbackend = "sled"\npath = "./data/state"\n')
    config = load_config(cwd=tmp_path, env={})
    assert config.storage.url.startswith("sqlite://")
    assert any("sled" in notice for notice in config.notices)


def test_rs_llmspell_runtime_tables(tmp_path: Path) -> None:
    write(tmp_path, """
default_engine = "lua"

[engines.lua]
stdlib_level = "full"
sandbox_mode = false
memory_limit = 52428800
max_instructions = 1000000

[runtime]
max_concurrent_scripts = 10
script_timeout_seconds = 300
enable_streaming = true

[runtime.security]
allow_file_access = true
max_memory_bytes = 52428800
max_execution_time_ms = 300000

[runtime.state_persistence]
enabled = true
backend_type = "memory"
migration_enabled = false
backup_enabled = false
max_state_size_bytes = 10000000

[runtime.sessions]
enabled = true
max_sessions = 100
max_artifacts_per_session = 1000
artifact_compression_threshold = 10240
session_timeout_seconds = 3600
storage_backend = "memory"

[runtime.hooks]
enabled = true

[providers]
default = "openai"
""")
    config = load_config(cwd=tmp_path, env={})
    assert config.storage.url == "memory://"
    assert config.lua.sandbox == "full"
    assert config.lua.max_instructions == 1_000_000
    assert config.lua.max_memory_bytes == 52428800
    assert config.lua.timeout_seconds == 300
    assert config.state.max_value_bytes == 10_000_000
    assert config.session.max_active_sessions == 100
    assert config.session.idle_timeout_seconds == 3600
    assert config.get("providers.default") == "openai"


def test_the_same_setting_twice_with_different_values_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, '[state]\nbackend = "sqlite"\n[runtime.state_persistence]\n'
                    'backend_type = "memory"\n')
    with pytest.raises(ConfigError, match="keep one") as info:
        load_config(cwd=tmp_path, env={})
    assert "state.backend" in str(info.value)


@pytest.mark.parametrize(
    ("text", "table", "key", "words"),
    [
        ('[state]\nbakend = "sqlite"\n', "state", "bakend", "did you mean 'backend'"),
        ('[state]\nenabled = "yes"\n', "state", "enabled", "must be a boolean"),
        ('[session]\nmax_active_sessions = 0\n', "session", "max_active_sessions", "at least 1"),
        ('[storage]\ndurability = "fast"\n', "storage", "durability", "'normal', 'full'"),
        ('[engines.lua]\nmax_instructions = 1.5\n', "engines.lua", "max_instructions",
         "must be an integer"),
        ('[runtime]\nallowed_paths = "."\n', "runtime", "allowed_paths", "array of strings"),
        ("[stat]\nbackend = 1\n", "stat", "", "did you mean 'state'"),
        ("[engines.lau]\nsandbox = 'safe'\n", "engines.lau", "", "unknown table"),
        ("colour = 1\n", "", "colour", "unknown key"),
    ],
)
def test_bad_files_name_file_table_and_key(tmp_path: Path, text: str, table: str, key: str,
                                           words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(cwd=tmp_path, env={})
    message = str(info.value)
    assert str(path.resolve()) in message
    assert words in message
    assert info.value.table == table
    assert info.value.key == key
    if table:
        assert f"[{table}]" in message


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "x = [\n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(cwd=tmp_path, env={})
    assert str(path.resolve()) in str(info.value)


def test_env_overrides_by_type(tmp_path: Path) -> None:
    env = {
        "LLMSPELL_STORAGE_URL": "memory://",
        "LLMSPELL_ENGINES_LUA_MAX_INSTRUCTIONS": "5000",
        "LLMSPELL_ENGINES_LUA_SANDBOX": "full",
        "LLMSPELL_STATE_REDACT_ON_WRITE": "yes",
        "LLMSPELL_RUNTIME_SCRIPT_TIMEOUT_SECONDS": "2.5",
        "LLMSPELL_TEST_POSTGRES": "ignored: not an override",
    }
    config = load_config(cwd=tmp_path, env=env)
    assert config.storage.url == "memory://"
    assert config.lua.max_instructions == 5000
    assert config.lua.sandbox == "full"
    assert config.state.redact_on_write is True
    assert config.lua.timeout_seconds == 2.5


def test_env_beats_file_and_overrides_beat_env(tmp_path: Path) -> None:
    write(tmp_path, "[engines.lua]\nmax_instructions = 10\n")
    env = {"LLMSPELL_ENGINES_LUA_MAX_INSTRUCTIONS": "20"}
    assert load_config(cwd=tmp_path, env=env).lua.max_instructions == 20
    config = load_config(cwd=tmp_path, env=env, overrides={"engines.lua.max_instructions": 30})
    assert config.lua.max_instructions == 30


def test_env_override_of_an_aliased_setting_wins_without_conflict(tmp_path: Path) -> None:
    write(tmp_path, '[runtime.state_persistence]\nbackend_type = "memory"\n')
    config = load_config(cwd=tmp_path, env={"LLMSPELL_STATE_BACKEND": "lmdb"})
    assert config.storage.url.startswith("lmdb://")


def test_unknown_or_bad_env_variables_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LLMSPELL_STATE_BAKEND") as info:
        load_config(cwd=tmp_path, env={"LLMSPELL_STATE_BAKEND": "sqlite"})
    assert "did you mean 'LLMSPELL_STATE_BACKEND'" in str(info.value)
    with pytest.raises(ConfigError, match="must be an integer, got 'lots'"):
        load_config(cwd=tmp_path, env={"LLMSPELL_ENGINES_LUA_MAX_INSTRUCTIONS": "lots"})
    with pytest.raises(ConfigError, match="must be a boolean"):
        load_config(cwd=tmp_path, env={"LLMSPELL_STATE_ENABLED": "maybe"})


def test_unknown_override_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"state\.nope"):
        load_config(cwd=tmp_path, env={}, overrides={"state.nope": 1})
    with pytest.raises(ConfigError, match="must be a string"):
        load_config(cwd=tmp_path, env={}, overrides={"storage.url": 3})


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    path = write(project, '[runtime]\ndata_dir = "store"\nallowed_paths = [".", "../shared"]\n')
    config = load_config(path, cwd=tmp_path, env={})
    assert config.runtime.data_dir == project.resolve() / "store"
    assert config.runtime.allowed_paths == (project.resolve(), (tmp_path / "shared").resolve())


def test_postgres_backend_needs_a_url(tmp_path: Path) -> None:
    write(tmp_path, '[state]\nbackend = "postgres"\n')
    with pytest.raises(ConfigError, match="postgresql://"):
        load_config(cwd=tmp_path, env={})
    write(tmp_path, '[storage]\nurl = "postgresql://127.0.0.1/test"\n[state]\n'
                    'backend = "postgres"\n')
    assert load_config(cwd=tmp_path, env={}).storage.url == "postgresql://127.0.0.1/test"


def test_get_reads_dotted_paths() -> None:
    config = Config.defaults(storage__url="memory://")
    assert config.get("engines.lua.sandbox") == "safe"
    assert config.get("storage.url") == "memory://"
    assert config.get("state")["backend"] == "sqlite"
    assert config.get("state.nothing", 42) == 42
    assert config.get("engines.lua.sandbox.deeper") is None
    with pytest.raises(ValidationError, match="argument 'path'"):
        config.get("")


def test_relative_store_url_is_anchored_at_the_config_file(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    path = write(project, '[storage]\nurl = "sqlite:///data/x.db"\n')
    config = load_config(path, cwd=tmp_path, env={})
    assert config.storage.url == f"sqlite:///{project.resolve()}/data/x.db"
    absolute = write(project, f'[storage]\nurl = "lmdb:///{tmp_path}/l"\n')
    assert load_config(absolute, cwd=tmp_path, env={}).storage.url == f"lmdb:///{tmp_path}/l"


def test_hook_and_event_settings_reach_the_runtime(tmp_path: Path) -> None:
    from llmspell import Runtime

    write(tmp_path, '[runtime.hooks]\nbuiltin = ["metrics"]\nfailure_threshold = 2\n'
                    '[runtime.events]\noverflow = "drop_newest"\nevent_buffer_size = 7\n'
                    '[storage]\nurl = "memory://"\n')
    with Runtime.from_config(cwd=tmp_path) as rt:
        assert rt.hooks.builtin("metrics") is not None
        assert rt.events.overflow == "drop_newest"
        assert rt.events.max_queue == 7
    write(tmp_path, '[runtime.hooks]\nbuiltin = ["metrix"]\n')
    with pytest.raises(ConfigError, match="'metrix'") as info:
        load_config(cwd=tmp_path, env={})
    assert info.value.key == "builtin"
