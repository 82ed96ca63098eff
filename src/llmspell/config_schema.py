"""The keys ``llmspell.toml`` accepts: their tables, types, defaults and aliases.

One table of :class:`Field` per TOML table. A field with ``alias_of`` is another spelling of a
canonical key (the seeds' ``[state]``/``[session]`` tables and rs-llmspell's ``[runtime.*]``
tables name the same settings); ``convert`` maps the alias's value onto the canonical one.
Tables listed in ``FREE_FORM`` belong to later subsystems and are kept as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BACKENDS = ("memory", "sqlite", "lmdb", "rocksdb", "postgres")
MB = 1024 * 1024


@dataclass(frozen=True)
class Field:
    kind: str  # "bool", "int", "number", "str", "list[str]"
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    alias_of: str | None = None  # "table.key" of the canonical field
    convert: Callable[[Any], Any] | None = None
    unused: bool = False  # accepted for compatibility; has no effect (reported by `info`)
    doc: str = ""


def _sandbox_from_mode(mode: bool) -> str:
    return "safe" if mode else "full"


def _sandbox_from_stdlib(level: str) -> str:
    return "full" if level == "full" else "safe"


def _ms_to_s(ms: float) -> float:
    return ms / 1000.0


SCHEMA: dict[str, dict[str, Field]] = {
    "": {
        "default_engine": Field("str", "lua", choices=("lua",), doc="script engine"),
    },
    "storage": {
        "url": Field("str", "", doc="storage URL; overrides [state] backend/path"),
        "durability": Field("str", "normal", choices=("normal", "full"),
                            doc="normal: fast commits; full: fsync every commit"),
    },
    "state": {
        "enabled": Field("bool", True),
        "backend": Field("str", "sqlite", choices=(*BACKENDS, "sled"),
                         doc="storage backend; 'sled' maps to sqlite"),
        "path": Field("str", "", doc="where the backend keeps its files"),
        "redact_on_write": Field("bool", False, doc="redact secrets before storing"),
        "max_value_bytes": Field("int", 10 * MB, minimum=1),
        "redact_patterns": Field("list[str]", [], doc="extra regexes treated as secrets"),
        "migration_enabled": Field("bool", True),
        "backup_enabled": Field("bool", True),
        "backup_dir": Field("str", "", doc="default: <data_dir>/backups"),
    },
    "session": {
        "enabled": Field("bool", True),
        "storage_path": Field("str", "", doc="artifact blob files; default <data_dir>/blobs"),
        "max_active_sessions": Field("int", 1000, minimum=1),
        "artifact_compression": Field("bool", True),
        "compression_threshold": Field("int", 10240, minimum=0),
        "max_artifacts_per_session": Field("int", 10000, minimum=1),
        "idle_timeout_seconds": Field("number", 0, minimum=0, doc="0: no idle timeout"),
    },
    "runtime": {
        "data_dir": Field("str", ".llmspell", doc="where embedded data lives"),
        "allowed_paths": Field("list[str]", ["."], doc="roots scripts may read and write"),
        "log_level": Field("str", "warning",
                           choices=("debug", "info", "warning", "error", "critical")),
        "script_timeout_seconds": Field("number", 0, minimum=0,
                                        doc="wall-time limit per script; 0: none"),
        "max_concurrent_scripts": Field("int", 10, minimum=1, unused=True),
        "enable_streaming": Field("bool", True, unused=True),
    },
    "runtime.security": {
        "allow_file_access": Field("bool", True, unused=True),
        "allow_network_access": Field("bool", True, unused=True),
        "allow_process_spawn": Field("bool", False, unused=True),
        "max_memory_bytes": Field("int", alias_of="engines.lua.max_memory_bytes"),
        "max_execution_time_ms": Field("number", alias_of="runtime.script_timeout_seconds",
                                       convert=_ms_to_s),
    },
    "runtime.state_persistence": {
        "enabled": Field("bool", alias_of="state.enabled"),
        "backend_type": Field("str", alias_of="state.backend", choices=(*BACKENDS, "sled")),
        "migration_enabled": Field("bool", alias_of="state.migration_enabled"),
        "backup_enabled": Field("bool", alias_of="state.backup_enabled"),
        "max_state_size_bytes": Field("int", alias_of="state.max_value_bytes", minimum=1),
        "backup_dir": Field("str", alias_of="state.backup_dir"),
        "schema_directory": Field("str", unused=True),
    },
    "runtime.sessions": {
        "enabled": Field("bool", alias_of="session.enabled"),
        "max_sessions": Field("int", alias_of="session.max_active_sessions", minimum=1),
        "max_artifacts_per_session": Field("int", alias_of="session.max_artifacts_per_session",
                                           minimum=1),
        "artifact_compression_threshold": Field("int", alias_of="session.compression_threshold",
                                                minimum=0),
        "session_timeout_seconds": Field("number", alias_of="session.idle_timeout_seconds",
                                         minimum=0),
        "storage_backend": Field("str", choices=(*BACKENDS, "sled"), unused=True,
                                 doc="sessions always use the runtime's store"),
    },
    "runtime.hooks": {
        "enabled": Field("bool", True),
        "max_hooks": Field("int", 1000, minimum=1),
        "circuit_breaker_threshold": Field("number", 0.05, minimum=0),
    },
    "runtime.events": {
        "enabled": Field("bool", True),
        "max_subscribers": Field("int", 1000, minimum=1),
        "event_buffer_size": Field("int", 10000, minimum=1),
    },
    "engines.lua": {
        "sandbox": Field("str", "safe", choices=("safe", "full")),
        "sandbox_mode": Field("bool", alias_of="engines.lua.sandbox", convert=_sandbox_from_mode),
        "stdlib_level": Field("str", alias_of="engines.lua.sandbox",
                              choices=("safe", "basic", "full"), convert=_sandbox_from_stdlib),
        "max_instructions": Field("int", 1_000_000_000, minimum=0,
                                  doc="VM instructions per script; 0: no limit"),
        "max_memory_bytes": Field("int", 512 * MB, minimum=0, doc="0: no limit"),
        "memory_limit": Field("int", alias_of="engines.lua.max_memory_bytes", minimum=0),
        "timeout_seconds": Field("number", 0, minimum=0,
                                 doc="wall-time limit; 0: use [runtime] script_timeout_seconds"),
    },
    "engines.javascript": {
        key: Field("any", unused=True)
        for key in ("module_resolution", "allow_eval", "allow_timers", "allow_console",
                    "memory_limit", "max_event_loop_ticks", "typescript", "jsx")
    },
}

#: Tables owned by later subsystems, kept as given (their own code validates them).
FREE_FORM = ("providers", "tools", "agents", "workflows")

#: Environment variables with the LLMSPELL_ prefix that are not config overrides.
ENV_NOT_OVERRIDES = ("LLMSPELL_CONFIG", "LLMSPELL_LOG")
ENV_PREFIXES_NOT_OVERRIDES = ("LLMSPELL_TEST_", "LLMSPELL_BENCH_")


def env_names() -> dict[str, tuple[str, str]]:
    """``LLMSPELL_TABLE_KEY`` -> (table, key) for every non-alias field."""
    names = {}
    for table, fields in SCHEMA.items():
        for key, field in fields.items():
            if field.alias_of or field.unused:
                continue
            parts = [*table.split("."), key] if table else [key]
            names["LLMSPELL_" + "_".join(parts).upper()] = (table, key)
    return names
