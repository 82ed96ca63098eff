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
    unused: bool = False  # accepted for compatibility; has no effect (a notice says so)
    doc: str = ""  # for an unused field: why it has no effect (the notice quotes it)
    check: Callable[[Any], Any] | None = None  # the owner's rule; raises ValidationError


def _redactor(patterns: list[str]) -> Any:
    """The redaction rule for ``[state] redact_patterns`` (valid regular expressions)."""
    from llmspell.redact import Redactor

    return Redactor(patterns)


#: Wire formats web_search speaks (``kind`` of a ``[tools.web_search.engines.NAME]`` table).
SEARCH_KINDS = ("searxng", "brave", "serperdev")
SEARCH_ENGINE_KEYS = ("kind", "url", "api_key_env")


def _search_engines(engines: Any) -> None:
    """``[tools.web_search] engines``: NAME = {kind, url, api_key_env}."""
    from llmspell.errors import ValidationError

    if not isinstance(engines, dict):
        raise ValidationError("engines", "must be a table of NAME = {kind, url, api_key_env}",
                              got=engines)
    for name, engine in engines.items():
        if not isinstance(engine, dict):
            raise ValidationError("engines", "must be a table {kind, url, api_key_env}",
                                  path=f"$.{name}", got=engine)
        for key, value in engine.items():
            if key not in SEARCH_ENGINE_KEYS:
                raise ValidationError("engines", "is not a key of an engine (kind, url, "
                                      "api_key_env)", path=f"$.{name}.{key}", got=key)
            if not isinstance(value, str):
                raise ValidationError("engines", "must be a string", path=f"$.{name}.{key}",
                                      got=value)
        if engine.get("kind") not in SEARCH_KINDS:
            raise ValidationError("engines", f"kind must be one of {', '.join(SEARCH_KINDS)}",
                                  path=f"$.{name}.kind", got=engine.get("kind"))
        if engine["kind"] == "searxng" and not engine.get("url"):
            raise ValidationError("engines", "a searxng engine needs the url of its "
                                  "/search endpoint", path=f"$.{name}.url")
        url = engine.get("url", "")
        if url and not url.startswith(("http://", "https://")):
            raise ValidationError("engines", "must be an http(s) URL", path=f"$.{name}.url",
                                  got=url)


def queue_limits(items: list[str]) -> dict[str, int]:
    """``[workers] queue_limits`` (``["default=4", "llm=2"]``) as ``{"default": 4, ...}``."""
    from llmspell.errors import ValidationError
    from llmspell.validation import check_queue_name

    limits: dict[str, int] = {}
    for i, item in enumerate(items):
        name, _, count = str(item).partition("=")
        if not count.strip().isdigit() or int(count) < 1:
            raise ValidationError("queue_limits", "each must be 'QUEUE=N' with N >= 1",
                                  path=f"[{i}]", got=item)
        limits[check_queue_name(name.strip(), f"queue_limits[{i}]")] = int(count)
    return limits


def _above_zero(seconds: float) -> None:
    """A wait that must be > 0 (0 would not wait at all)."""
    from llmspell.errors import ValidationError

    if seconds <= 0:
        raise ValidationError("timeout_seconds", "must be > 0 seconds", got=seconds)


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
        "redact_patterns": Field("list[str]", [], doc="extra regexes treated as secrets",
                                 check=_redactor),
        "migration_enabled": Field("bool", True),
        "backup_enabled": Field("bool", True),
        "backup_dir": Field("str", "", doc="default: <data_dir>/backups"),
        "backup_format": Field("str", "json", choices=("json", "binary"),
                               doc="entries of new backups: json (readable) or binary"),
        "backup_compression": Field("str", "zstd", choices=("zstd", "lz4", "none"),
                                    doc="compression of new backups"),
        "backup_compression_level": Field("int", 3, minimum=1,
                                          doc="zstd 1-22 (lz4 uses at most 16)"),
        "backup_safety": Field("bool", True,
                               doc="take a safety backup of the current data before a restore"),
        "backup_keep_last": Field("int", 0, minimum=0,
                                  doc="retention, applied after every backup and by "
                                  "`backup prune`: keep the N newest"),
        "backup_keep_daily": Field("int", 0, minimum=0, doc="retention: newest of N days"),
        "backup_keep_weekly": Field("int", 0, minimum=0, doc="retention: newest of N weeks"),
        "backup_keep_monthly": Field("int", 0, minimum=0, doc="retention: newest of N months"),
        "backup_max_age": Field("str", "", doc="retention: drop backups older than this "
                                "('30d', '12h', seconds); '' for no limit"),
        "backup_max_total_bytes": Field("int", 0, minimum=0,
                                        doc="retention: total size limit; 0 for none"),
        "migrations": Field("list[str]", [], doc="migration plans registered in code: "
                            "'module' (its MIGRATIONS) or 'module:attribute'"),
        "migrate_on_open": Field("bool", False,
                                 doc="apply pending registered migrations when a runtime opens"),
        "migration_undo_keep": Field("int", 1, minimum=0,
                                     doc="how many applied migrations keep what rollback needs"),
    },
    "session": {
        "enabled": Field("bool", True),
        "storage_path": Field("str", "", doc="blob files of stores written before blobs "
                              "moved into the store (read, migrated); default <data_dir>/blobs"),
        "max_active_sessions": Field("int", 1000, minimum=1),
        "artifact_compression": Field("bool", True),
        "compression_threshold": Field("int", 10240, minimum=0),
        "max_artifacts_per_session": Field("int", 10000, minimum=1),
        "idle_timeout_seconds": Field("number", 0, minimum=0, doc="0: no idle timeout"),
        "max_duration_seconds": Field("number", 0, minimum=0,
                                      doc="default max_duration (active time) of a new "
                                      "session; 0: none"),
        "max_operations": Field("int", 0, minimum=0, doc="per-session default; 0: no limit"),
        "max_tokens": Field("int", 0, minimum=0, doc="per-session default; 0: no limit"),
        "max_cost": Field("number", 0, minimum=0, doc="per-session default; 0: no limit"),
        "max_artifact_bytes": Field("int", 0, minimum=0, doc="per-session default; 0: none"),
        "rate_limits": Field("list[str]", [],
                             doc="token buckets such as 'global=100/s', 'session=20/min', "
                             "'agent.execute=5/s burst 10'"),
        "rate_limit_mode": Field("str", "wait", choices=("wait", "fail"),
                                 doc="wait for a token, or fail with RateLimitExceeded"),
        "rate_limit_max_wait_seconds": Field("number", 30, minimum=0,
                                             doc="longest wait in 'wait' mode, then fail"),
        "policy_composition": Field("str", "sequential",
                                    choices=("sequential", "parallel", "voting"),
                                    doc="how session policies combine (docs/sessions.md)"),
        "lease_seconds": Field("number", 30, minimum=0.001,
                               doc="how long a session lease lasts before it expires "
                               "unless renewed (docs/postgres.md)"),
        "journal_state_values": Field("bool", True,
                                      doc="keep written state values for replay/fork; "
                                      "false: hashes only"),
        "journal_hooks": Field("bool", True, doc="journal hook executions of a session"),
        "journal_events": Field("bool", True, doc="journal events of a session"),
        "artifact_compression_algorithm": Field("str", "zstd", choices=("zstd", "lz4"),
                                                doc="how artifact content is compressed "
                                                "when artifact_compression is on"),
        "max_artifact_size": Field("int", 1024 * MB, minimum=0,
                                   doc="largest artifact, in bytes; 0: no limit"),
        "artifact_max_name_length": Field("int", 255, minimum=1,
                                          doc="longest artifact name, in characters"),
        "artifact_max_tag_length": Field("int", 128, minimum=1,
                                         doc="longest artifact tag, in characters"),
        "artifact_max_tags": Field("int", 64, minimum=0, doc="most tags on one artifact"),
        "artifact_auto_collect": Field("bool", True,
                                       doc="store tool results and agent outputs as "
                                       "artifacts of the current session"),
        "artifact_gc_grace_seconds": Field("number", 900, minimum=0,
                                           doc="unreferenced artifact content is kept this "
                                           "long before gc may remove it"),
    },
    "runtime": {
        "data_dir": Field("str", ".llmspell", doc="where embedded data lives"),
        "allowed_paths": Field("list[str]", ["."], doc="roots scripts may read and write"),
        "log_level": Field("str", "warning",
                           choices=("debug", "info", "warning", "error", "critical")),
        "script_timeout_seconds": Field("number", 0, minimum=0,
                                        doc="wall-time limit per script; 0: none"),
        "max_concurrent_scripts": Field("int", 10, minimum=1, unused=True,
                                        doc="each command runs one script"),
        "enable_streaming": Field("bool", True, unused=True,
                                  doc="scripts have no streaming switch"),
    },
    "runtime.security": {
        "allow_file_access": Field("bool", True, doc="false: scripts may not read or write files"),
        "allow_network_access": Field("bool", False,
                                      doc="false: tools may not open network connections "
                                      "(http_request...); the Lua sandbox decides the rest"),
        "allowed_hosts": Field("list[str]", [],
                               doc="hosts network tools may reach (names, IPs, *.example.com); "
                               "empty: any host once allow_network_access is true"),
        "allow_process_spawn": Field("bool", False,
                                     doc="false: tools may not start processes "
                                     "(process_executor); the Lua sandbox decides os.execute"),
        "allow_database_writes": Field("bool", False,
                                       doc="false: database-connector opens databases "
                                       "read-only"),
        "allowed_executables": Field("list[str]", [],
                                     doc="programs process_executor may start, by name"),
        "max_security_level": Field("str", "privileged",
                                    choices=("safe", "restricted", "privileged"),
                                    doc="highest security level of a tool that may run"),
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
        "schema_directory": Field("str", unused=True,
                                  doc="migrations are registered in code ([state] migrations)"),
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
        "enabled": Field("bool", True, unused=True, doc="hooks are always available"),
        "max_hooks": Field("int", 1000, minimum=1),
        "circuit_breaker_threshold": Field(
            "number", unused=True, doc="rs-llmspell's overhead ratio; see failure_threshold"),
        "failure_threshold": Field("int", 5, minimum=1,
                                   doc="consecutive failures or overruns that open a circuit"),
        "cooldown_seconds": Field("number", 60, minimum=0,
                                  doc="an open circuit is probed again after this long"),
        "default_time_budget_seconds": Field("number", 0, minimum=0,
                                             doc="per-call budget of a hook; 0: not timed"),
        "builtin": Field("list[str]", [], choices=("logging", "metrics", "cost"),
                         doc="built-in hooks to turn on"),
    },
    "runtime.events": {
        "enabled": Field("bool", True, unused=True, doc="the event bus is always available"),
        "max_subscribers": Field("int", 1000, minimum=1),
        "event_buffer_size": Field("int", 10000, minimum=1),
        "overflow": Field("str", "drop_oldest", choices=("drop_oldest", "drop_newest", "block"),
                          doc="what a full subscription queue does with a new event"),
        "cross_process": Field("bool", True,
                               doc="on postgres, events reach subscribers in every process "
                               "on the store (LISTEN/NOTIFY); the embedded backends keep "
                               "events in the process that published them"),
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
    "tools.web_search": {
        "engines": Field("any", {}, check=_search_engines,
                         doc="NAME = {kind = 'searxng'|'brave'|'serperdev', url, api_key_env}"),
        "default_engine": Field("str", "", doc="engine of a call naming none; default: the "
                                "first engine listed"),
        "fallback": Field("list[str]", [], doc="engines tried next, in order, when one fails "
                          "or finds nothing"),
        "max_results": Field("int", 10, minimum=1, doc="results of a call giving none"),
        "safe_search": Field("bool", True, doc="safe search of a call not saying"),
        "language": Field("str", "en", doc="language of a call giving none"),
    },
    "tools.email": {
        "smtp_host": Field("str", "", doc="SMTP server; empty: email-sender is unavailable"),
        "smtp_port": Field("int", 0, minimum=0, doc="0: 465 with ssl, else 587 (25 with none)"),
        "security": Field("str", "starttls", choices=("starttls", "ssl", "none"),
                          doc="how the connection is protected"),
        "username_env": Field("str", "", doc="variable holding the SMTP user name; empty: no "
                              "login"),
        "password_env": Field("str", "", doc="variable holding the SMTP password"),
        "default_sender": Field("str", "", doc="From address of a call giving none"),
        "timeout_seconds": Field("number", 30, minimum=0, check=_above_zero,
                                 doc="seconds per SMTP connection (> 0)"),
    },
    "workflows": {
        "max_concurrency": Field("int", 4, minimum=1,
                                 doc="parallel branches run at once when a workflow sets none"),
        "max_iterations": Field("int", 1000, minimum=1,
                                doc="iterations a loop may run when it sets no max_iterations"),
        "parallel_on_workers": Field("bool", False,
                                     doc="parallel branches run as worker jobs when a workflow "
                                     "sets no distributed (PostgreSQL only)"),
    },
    "workers": {
        "queue": Field("str", "default",
                       doc="queue of `run --queue` and Workflow.enqueue when none is named"),
        "concurrency": Field("int", 1, minimum=1, doc="jobs one `llmspell worker` runs at once"),
        "lease_seconds": Field("number", 30, minimum=0.1,
                               doc="a claimed job's lease; a worker renews it every third"),
        "poll_seconds": Field("number", 0.5, minimum=0.01,
                              doc="how long an idle worker waits before looking again"),
        "max_attempts": Field("int", 3, minimum=1, doc="runs of a job before it is failed"),
        "queue_limits": Field("list[str]", [], check=queue_limits,
                              doc="fleet-wide running jobs per queue: 'llm=2'"),
    },
    "engines.javascript": {
        key: Field("any", unused=True, doc="llmspell runs Lua scripts only")
        for key in ("module_resolution", "allow_eval", "allow_timers", "allow_console",
                    "memory_limit", "max_event_loop_ticks", "typescript", "jsx")
    },
}

#: Tables owned by later subsystems, kept as given (their own code validates them).
FREE_FORM = ("agents",)

#: ``[providers]``: its own keys; every sub-table ``[providers.NAME]`` is one provider whose
#: keys are :data:`PROVIDER_FIELDS` (docs/providers.md). Keys that depend on the kind
#: (base_url, api_key_env) default in the provider's module.
PROVIDERS_FIELDS: dict[str, Field] = {
    "default": Field("str", "", doc="model used when none is given: 'NAME' or 'NAME/model'"),
    "default_provider": Field("str", alias_of="providers.default"),  # rs-llmspell's spelling
}
PROVIDER_KINDS = ("openai", "anthropic", "scripted")
PROVIDER_FIELDS: dict[str, Field] = {
    "kind": Field("str", "", choices=PROVIDER_KINDS,
                  doc="API spoken; default: the table's name when it is a kind, else openai"),
    "provider_type": Field("str", alias_of="kind", choices=PROVIDER_KINDS),
    "enabled": Field("bool", True),
    "base_url": Field("str", "", doc="default: the kind's *_BASE_URL variable or official URL"),
    "api_key_env": Field("str", "", doc="variable holding the key; default: the kind's "
                         "variable when base_url is not set, else no key is needed"),
    "api_key": Field("str", doc="only '${VARIABLE}' (read as api_key_env); a literal key is "
                     "refused: use `llmspell keys set NAME`"),
    "default_model": Field("str", "", doc="model used for 'NAME' without '/model'"),
    "model": Field("str", alias_of="default_model"),
    "models": Field("list[str]", [], doc="models listed by `llmspell models`"),
    "timeout": Field("number", 60, minimum=0, doc="seconds per HTTP request; 0: no limit"),
    "timeout_seconds": Field("number", alias_of="timeout", minimum=0),
    "max_retries": Field("int", 2, minimum=0, doc="retries on 429/5xx/connection errors"),
    "max_tokens": Field("int", 0, minimum=0, doc="default max_tokens of a request; 0: unset"),
    "temperature": Field("number", minimum=0, doc="default temperature of a request"),
    "replies": Field("str", "", doc="scripted kind: JSON file of canned replies"),
    "prices": Field("prices", {}, doc="model = {input = USD, output = USD} per 1M tokens"),
}

#: Environment variables with the LLMSPELL_ prefix that are not config overrides.
ENV_NOT_OVERRIDES = ("LLMSPELL_CONFIG", "LLMSPELL_LOG", "LLMSPELL_KEYS_PATH",
                     "LLMSPELL_CEILING_DIRECTORIES")
ENV_PREFIXES_NOT_OVERRIDES = ("LLMSPELL_TEST_", "LLMSPELL_BENCH_")


def env_names() -> dict[str, tuple[str, str]]:
    """``LLMSPELL_TABLE_KEY`` -> (table, key) for every non-alias field (unused ones too: they
    are accepted, with a notice, as in a file)."""
    names = {}
    for table, fields in SCHEMA.items():
        for key, field in fields.items():
            if field.alias_of:
                continue
            parts = [*table.split("."), key] if table else [key]
            names["LLMSPELL_" + "_".join(parts).upper()] = (table, key)
    return names


def default(path: str) -> Any:
    """The default of the setting ``"table.key"`` (e.g. ``"session.max_active_sessions"``).

    The one source of defaults: settings objects and constructors take theirs from here. A
    list default comes back as a tuple (defaults are shared, so they must not be mutable).

    Raises:
        ValidationError: ``path`` names no field, or an alias or unused field (they have no
            default of their own).
    """
    table, _, key = path.rpartition(".") if isinstance(path, str) else ("", "", "")
    field = SCHEMA.get(table, {}).get(key)
    if field is None or field.alias_of or field.unused:
        from llmspell.errors import ValidationError

        raise ValidationError("path", "must name a setting of the config schema "
                              "('table.key', not an alias or unused key)", got=path)
    return tuple(field.default) if isinstance(field.default, list) else field.default
