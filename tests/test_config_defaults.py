"""The config schema is the only source of defaults.

For every setting of :mod:`llmspell.config_schema`, the runtime built with no config file,
and the object built with no config at all (``SessionManager(store)``, ``EventBus()``, ...),
use the schema's default. One regression test per drift found, then the generic checks.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import llmspell.cli.main  # noqa: F401  (before a command module: they import it)
from llmspell.artifacts import ArtifactSettings
from llmspell.artifacts.blobs import BlobStore
from llmspell.config import Config, load_config
from llmspell.config_schema import SCHEMA, default
from llmspell.errors import ConfigError, ValidationError
from llmspell.events import EventBus
from llmspell.hooks import BreakerPolicy, HookRegistry
from llmspell.runtime import Runtime
from llmspell.sessions import SessionManager, SessionSettings
from llmspell.sessions.clock import ManualClock
from llmspell.sessions.policies import PolicyChain
from llmspell.sessions.ratelimit import RateLimits
from llmspell.state import StateManager
from llmspell.state.backup import BackupManager
from llmspell.state.migration import Migrator
from llmspell.storage import open_store

SETTINGS = [f"{table}.{key}" if table else key for table, fields in SCHEMA.items()
            for key, f in fields.items() if not f.alias_of and not f.unused]


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A runtime as `llmspell` builds it in an empty directory with no LLMSPELL_* set."""
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    with Runtime.from_config() as rt:
        assert rt.config.source is None
        yield rt


# -- regression tests, one per drift --------------------------------------------------------


def test_max_artifacts_per_session_of_a_manager_without_config_is_the_schema_default() -> None:
    # Drift 1: the schema said 10000, SessionSettings() said 0 (no limit).
    manager = SessionManager(open_store("memory://"))
    assert manager.settings.max_artifacts == 10000 == default("session.max_artifacts_per_session")
    assert manager.settings.default_limits().artifacts == 10000


def test_unused_keys_can_be_given_in_the_environment_like_in_a_file(tmp_path: Path) -> None:
    # Drift 2: a file could carry [runtime] enable_streaming (ignored), the environment could
    # not (LLMSPELL_RUNTIME_ENABLE_STREAMING was an "unknown configuration variable").
    config = load_config(cwd=tmp_path, env={"LLMSPELL_RUNTIME_ENABLE_STREAMING": "false"})
    assert [(i.source, i.table, i.key) for i in config.ignored] == [
        ("LLMSPELL_RUNTIME_ENABLE_STREAMING", "runtime", "enable_streaming")]
    with pytest.raises(ConfigError, match="must be a boolean"):
        load_config(cwd=tmp_path, env={"LLMSPELL_RUNTIME_ENABLE_STREAMING": "maybe"})


def test_ignored_keys_of_a_file_are_listed_not_dropped(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    # Drift 3: the schema said `info` reports unused keys; they were dropped without a word.
    (tmp_path / "llmspell.toml").write_text(
        "[runtime]\nmax_concurrent_scripts = 4\n[engines.javascript]\nallow_eval = true\n")
    config = load_config(cwd=tmp_path, env={})
    source = str(tmp_path.resolve() / "llmspell.toml")
    assert [(i.source, i.table, i.key) for i in config.ignored] == [
        (source, "runtime", "max_concurrent_scripts"), (source, "engines.javascript", "allow_eval")]
    assert config.notices == (
        f"{source}, table [runtime], key 'max_concurrent_scripts': accepted but ignored "
        "(each command runs one script)",
        f"{source}, table [engines.javascript], key 'allow_eval': accepted but ignored "
        "(llmspell runs Lua scripts only)")
    assert [r.getMessage() for r in caplog.records if r.name == "llmspell.config"] == list(
        config.notices)  # the Python API hears it too, through logging


def test_ignored_keys_given_as_overrides_are_listed(tmp_path: Path) -> None:
    told: list[str] = []
    config = load_config(cwd=tmp_path, env={}, overrides={"runtime.hooks.enabled": False},
                         notify=told.append)
    assert told == list(config.notices) == [
        "overrides, table [runtime.hooks], key 'enabled': accepted but ignored "
        "(hooks are always available)"]
    assert Config.defaults(runtime__events__enabled=False).ignored[0].key == "enabled"


# -- the generic checks ---------------------------------------------------------------------


def _none_if_zero(value: Any) -> Any:
    return value or None


#: schema setting -> (the runtime's effective setting, how the runtime spells the default).
RUNTIME: dict[str, tuple[Callable[[Runtime], Any], Callable[[Any], Any]]] = {
    "default_engine": (lambda rt: rt.config.setting("default_engine"), str),
    "storage.durability": (lambda rt: rt.store.durability, str),  # type: ignore[attr-defined]
    "state.enabled": (lambda rt: rt.config.state.enabled, bool),
    "state.backend": (lambda rt: rt.config.storage.url.split(":")[0], str),
    "state.redact_on_write": (lambda rt: rt.state.redact_on_write, bool),
    "state.max_value_bytes": (lambda rt: rt.state.max_value_bytes, int),
    "state.redact_patterns": (lambda rt: rt.sessions.settings.redact_patterns, tuple),
    "state.migration_enabled": (lambda rt: rt.migrations.enabled, bool),
    "state.backup_enabled": (lambda rt: rt.backups.enabled, bool),
    "state.backup_format": (lambda rt: rt.backups.entry_format, str),
    "state.backup_compression": (lambda rt: rt.backups.compression, str),
    "state.backup_compression_level": (lambda rt: rt.backups.level, int),
    "state.backup_safety": (lambda rt: rt.backups.safety, bool),
    "state.migrations": (lambda rt: tuple(p.id for p in rt.migrations.registered), tuple),
    "state.migrate_on_open": (lambda rt: rt.config.setting("state.migrate_on_open"), bool),
    "state.migration_undo_keep": (lambda rt: rt.migrations.undo_keep, int),
    "session.enabled": (lambda rt: rt.sessions.settings.enabled, bool),
    "session.max_active_sessions": (lambda rt: rt.sessions.active.limit, int),
    "session.artifact_compression": (lambda rt: rt.artifacts.settings.compression != "none",
                                     bool),
    "session.compression_threshold": (lambda rt: rt.artifacts.blobs.compress_threshold, int),
    "session.artifact_compression_algorithm": (lambda rt: rt.artifacts.blobs.compression, str),
    "session.artifact_gc_grace_seconds": (lambda rt: rt.artifacts.blobs.grace, float),
    "session.artifact_auto_collect": (lambda rt: rt.collector is not None, bool),
    "session.max_artifacts_per_session": (
        lambda rt: rt.sessions.settings.default_limits().artifacts, _none_if_zero),
    "runtime.log_level": (lambda rt: rt.config.runtime.log_level, str),
    "runtime.script_timeout_seconds": (lambda rt: rt.config.lua.timeout_seconds, float),
    "runtime.security.allow_file_access": (
        lambda rt: rt.artifacts.files.confinement.allow_access, bool),
    "runtime.security.max_security_level": (lambda rt: rt.tools.security.max_level, str),
    "runtime.security.allow_process_spawn": (lambda rt: rt.tools.security.allow_process_spawn,
                                             bool),
    "runtime.security.allowed_executables": (
        lambda rt: rt.tools.security.allowed_executables, tuple),
    "runtime.security.allow_network_access": (
        lambda rt: rt.tools.security.allow_network_access, bool),
    "runtime.security.allowed_hosts": (lambda rt: rt.tools.security.allowed_hosts, tuple),
    "runtime.security.allow_database_writes": (
        lambda rt: rt.tools.security.allow_database_writes, bool),
    "runtime.hooks.max_hooks": (lambda rt: rt.hooks.max_hooks, int),
    "runtime.hooks.default_time_budget_seconds": (lambda rt: rt.hooks.default_time_budget,
                                                  _none_if_zero),
    "runtime.hooks.failure_threshold": (
        lambda rt: rt.config.setting("runtime.hooks.failure_threshold"), int),
    "runtime.hooks.cooldown_seconds": (
        lambda rt: rt.config.setting("runtime.hooks.cooldown_seconds"), float),
    "runtime.hooks.builtin": (lambda rt: tuple(rt.config.setting("runtime.hooks.builtin")),
                              tuple),
    "runtime.events.max_subscribers": (lambda rt: rt.events.max_subscriptions, int),
    "runtime.events.event_buffer_size": (lambda rt: rt.events.max_queue, int),
    "runtime.events.overflow": (lambda rt: rt.events.overflow, str),
    **{f"workers.{_key}": (lambda rt, k=_key: rt.config.setting(f"workers.{k}"), _conv)  # type: ignore[misc]
       for _key, _conv in (("queue", str), ("concurrency", int), ("lease_seconds", float),
                           ("poll_seconds", float), ("max_attempts", int),
                           ("queue_limits", list))},
    "runtime.events.cross_process": (
        lambda rt: rt.config.setting("runtime.events.cross_process"), bool),
    "workflows.max_concurrency": (lambda rt: rt.workflows.settings["max_concurrency"], int),
    "workflows.max_iterations": (lambda rt: rt.workflows.settings["max_iterations"], int),
    "workflows.parallel_on_workers": (
        lambda rt: rt.workflows.settings["parallel_on_workers"], bool),
    "engines.lua.sandbox": (lambda rt: rt.config.lua.sandbox, str),
    "engines.lua.max_instructions": (lambda rt: rt.config.lua.max_instructions, int),
    "engines.lua.max_memory_bytes": (lambda rt: rt.config.lua.max_memory_bytes, int),
    "engines.lua.timeout_seconds": (lambda rt: rt.config.lua.timeout_seconds, float),
}
for _name in ("max_duration_seconds", "max_operations", "max_tokens", "max_cost",
              "max_artifact_bytes", "rate_limits", "rate_limit_mode",
              "rate_limit_max_wait_seconds", "policy_composition", "journal_state_values",
              "journal_hooks", "journal_events", "idle_timeout_seconds", "lease_seconds"):
    RUNTIME[f"session.{_name}"] = (lambda rt, n=_name: getattr(rt.sessions.settings, n),  # type: ignore[misc]
                                   lambda v: v)
for _name, _attr in (("max_artifact_size", "max_artifact_size"),
                     ("artifact_max_name_length", "max_name_length"),
                     ("artifact_max_tag_length", "max_tag_length"),
                     ("artifact_max_tags", "max_tags")):
    RUNTIME[f"session.{_name}"] = (lambda rt, a=_attr: getattr(rt.artifacts.settings, a),  # type: ignore[misc]
                                   lambda v: v)
for _name in ("engines", "default_engine", "fallback", "max_results", "safe_search", "language"):
    RUNTIME[f"tools.web_search.{_name}"] = (
        lambda rt, n=_name: getattr(rt.tools.get("web_search").settings, n),  # type: ignore[misc]
        lambda v: v)
for _name in ("smtp_host", "smtp_port", "security", "username_env", "password_env",
              "default_sender", "timeout_seconds"):
    RUNTIME[f"tools.email.{_name}"] = (
        lambda rt, n=_name: getattr(rt.tools.get("email-sender").settings, n),  # type: ignore[misc]
        lambda v: v)


def _retention(rt: Runtime) -> dict[str, Any]:
    """What runs after every backup, and what `llmspell backup prune` applies with no options
    (the CLI reads the same configured_retention)."""
    return dataclasses.asdict(rt.backups.retention)


for _name in ("keep_last", "keep_daily", "keep_weekly", "keep_monthly", "max_age",
              "max_total_bytes"):
    RUNTIME[f"state.backup_{_name}"] = (
        lambda rt, n=_name: _retention(rt)[n],  # type: ignore[misc]
        _none_if_zero if _name in ("max_age", "max_total_bytes") else int)

#: Settings whose default ("" or a relative path) is resolved against where the runtime runs.
DERIVED: dict[str, Callable[[Runtime, Path], bool]] = {
    "storage.url": lambda rt, d: rt.config.storage.url == f"sqlite:///{d}/.llmspell/llmspell.db",
    "state.path": lambda rt, d: rt.store.path == str(d / ".llmspell" / "llmspell.db"),  # type: ignore
    "state.backup_dir": lambda rt, d: rt.backups.directory == d / ".llmspell" / "backups",
    "session.storage_path": lambda rt, d: rt.config.session.blob_dir == d / ".llmspell" / "blobs",
    "runtime.data_dir": lambda rt, d: rt.config.runtime.data_dir == d / ".llmspell",
    "runtime.allowed_paths": lambda rt, d: rt.artifacts.files.confinement.roots == (
        os.fsencode(d),),
}


def test_every_setting_is_checked() -> None:
    assert set(RUNTIME) | set(DERIVED) == set(SETTINGS)
    assert not set(RUNTIME) & set(DERIVED)


@pytest.mark.parametrize("path", sorted(RUNTIME))
def test_the_runtime_without_config_uses_the_schema_default(bare: Runtime, path: str) -> None:
    read, spelled = RUNTIME[path]
    assert read(bare) == spelled(default(path))


@pytest.mark.parametrize("path", sorted(DERIVED))
def test_derived_defaults_resolve_under_the_directory(bare: Runtime, path: str,
                                                     tmp_path: Path) -> None:
    assert DERIVED[path](bare, tmp_path.resolve())


def test_objects_built_without_config_use_the_schema_defaults(tmp_path: Path) -> None:
    config = Config.defaults(base_dir=tmp_path)
    store = open_store("memory://")
    assert SessionManager(store).settings == SessionSettings.from_config(config)
    assert ArtifactSettings() == ArtifactSettings.from_config(config)
    state = StateManager(store)
    assert (state.max_value_bytes, state.redact_on_write) == (
        default("state.max_value_bytes"), default("state.redact_on_write"))
    backups = BackupManager(state, tmp_path)
    assert (backups.enabled, backups.entry_format, backups.compression, backups.level,
            backups.safety) == tuple(default(f"state.backup_{k}") for k in (
                "enabled", "format", "compression", "compression_level", "safety"))
    migrator = Migrator(state)
    assert (migrator.enabled, migrator.undo_keep) == (default("state.migration_enabled"),
                                                      default("state.migration_undo_keep"))
    bus = EventBus()
    assert (bus.max_queue, bus.max_subscriptions, bus.overflow) == (
        default("runtime.events.event_buffer_size"), default("runtime.events.max_subscribers"),
        default("runtime.events.overflow"))
    assert HookRegistry().max_hooks == default("runtime.hooks.max_hooks")
    assert (BreakerPolicy().failure_threshold, BreakerPolicy().cooldown) == (
        default("runtime.hooks.failure_threshold"), default("runtime.hooks.cooldown_seconds"))
    limits = RateLimits([], ManualClock())
    assert (limits.mode, limits.max_wait) == (default("session.rate_limit_mode"),
                                              default("session.rate_limit_max_wait_seconds"))
    assert PolicyChain().mode == default("session.policy_composition")
    blobs = BlobStore(store, tmp_path / "blobs")
    assert (blobs.compression, blobs.compress_threshold, blobs.grace) == (
        default("session.artifact_compression_algorithm"),
        default("session.compression_threshold"), default("session.artifact_gc_grace_seconds"))
    from llmspell.storage.sqlite import SqliteStore

    with SqliteStore(tmp_path / "s.db") as sqlite:
        assert sqlite.durability == default("storage.durability")  # type: ignore[attr-defined]


def test_the_init_template_shows_the_schema_defaults() -> None:
    from llmspell.cli.setup import TEMPLATE

    shown = tomllib.loads(TEMPLATE)
    checked = 0
    for table, keys in shown.items():
        for name, node in ({table: keys} if table != "engines" else
                           {f"engines.{k}": v for k, v in keys.items()}).items():
            for key, value in node.items():
                assert (name, key, value) == (name, key, list(default(f"{name}.{key}"))
                                              if isinstance(value, list)
                                              else default(f"{name}.{key}"))
                checked += 1
    assert checked >= 15


def test_default_and_setting_name_the_bad_path() -> None:
    for bad in ("session.nope", "runtime.enable_streaming", "runtime.sessions.max_sessions", 3):
        with pytest.raises(ValidationError, match=r"argument 'path'.*config schema"):
            default(bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=r"argument 'path'.*config schema"):
            Config.defaults().setting(bad)  # type: ignore[arg-type]
    assert Config.defaults().setting("default_engine") == "lua"


def test_the_session_docs_show_the_schema_defaults() -> None:
    text = (Path(__file__).parents[1] / "docs" / "sessions.md").read_text(encoding="utf-8")
    block = text.split("## Configuration", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    shown = tomllib.loads(block)["session"]
    assert len(shown) >= 15
    for key, value in shown.items():
        expected = default(f"session.{key}")
        assert (key, value) == (key, list(expected) if isinstance(expected, tuple) else expected)
