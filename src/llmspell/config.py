"""Configuration: find ``llmspell.toml``, apply ``LLMSPELL_*`` overrides, validate, type.

Precedence, lowest first: built-in defaults, the file, ``LLMSPELL_*`` environment variables,
explicit overrides (the CLI's ``--config PATH``, else
``$LLMSPELL_CONFIG``, else the project's ``llmspell.toml``: the nearest directory from the
working directory upward holding ``llmspell.toml`` or ``.llmspell/``, see
:mod:`llmspell.project`); with none, every default applies and data lives under the
project's ``.llmspell/``. Unknown tables and keys, wrong types and bad choices raise
:class:`ConfigError` naming the file, the table and the key. Keys accepted for rs-llmspell
compatibility but without effect are listed in ``Config.ignored`` and ``Config.notices``
(never dropped silently). The keys and their defaults are in :mod:`llmspell.config_schema`.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmspell.codec import MAX_DEPTH, check_nesting
from llmspell.config_schema import (
    ENV_NOT_OVERRIDES,
    ENV_PREFIXES_NOT_OVERRIDES,
    FREE_FORM,
    PROVIDER_FIELDS,
    PROVIDERS_FIELDS,
    SCHEMA,
    Field,
    default,
    env_names,
)
from llmspell.errors import ConfigError, InvalidValue, ValidationError, config_location
from llmspell.project import CONFIG_FILE, Project, find_project
from llmspell.validation import did_you_mean

logger = logging.getLogger("llmspell.config")


@dataclass(frozen=True)
class StorageConfig:
    url: str
    durability: str


@dataclass(frozen=True)
class LuaConfig:
    sandbox: str
    max_instructions: int
    max_memory_bytes: int
    timeout_seconds: float


@dataclass(frozen=True)
class RuntimeConfig:
    data_dir: Path
    allowed_paths: tuple[Path, ...]
    log_level: str


@dataclass(frozen=True)
class StateConfig:
    enabled: bool
    max_value_bytes: int
    redact_on_write: bool
    redact_patterns: tuple[str, ...]
    backup_dir: Path


@dataclass(frozen=True)
class SessionConfig:
    enabled: bool
    blob_dir: Path
    max_active_sessions: int
    artifact_compression: bool
    compression_threshold: int
    max_artifacts_per_session: int
    idle_timeout_seconds: float


@dataclass(frozen=True)
class IgnoredKey:
    """A key the configuration set that is accepted (for rs-llmspell compatibility) but has
    no effect. ``source`` is the file, the ``LLMSPELL_*`` variable or ``overrides``."""

    source: str
    table: str
    key: str
    reason: str

    @property
    def notice(self) -> str:
        """The one-line notice: where the key was set and why it has no effect."""
        where = config_location(self.source, self.table, self.key)
        return f"{where}: accepted but ignored ({self.reason})"


@dataclass(frozen=True)
class Config:
    """The effective configuration. Build with :func:`load_config` or :meth:`defaults`."""

    source: Path | None
    storage: StorageConfig
    lua: LuaConfig
    runtime: RuntimeConfig
    state: StateConfig
    session: SessionConfig
    values: Mapping[str, Mapping[str, Any]]  # table -> key -> canonical value
    extra: Mapping[str, Any] = field(default_factory=dict)  # free-form tables
    #: Keys given (in the file, the environment or overrides) that have no effect.
    ignored: tuple[IgnoredKey, ...] = ()
    #: Everything the user should be told about this configuration, one line each: the
    #: ``ignored`` keys and mapped values (``sled``). The CLI prints them on every command.
    notices: tuple[str, ...] = ()
    #: The project the configuration was found for (:func:`load_config` sets it).
    project: Project | None = None

    def setting(self, path: str) -> Any:
        """The effective value of the setting ``"table.key"`` (its schema default when the
        configuration does not set it), e.g. ``config.setting("state.migrate_on_open")``.

        Raises:
            ValidationError: ``path`` names no setting of :mod:`llmspell.config_schema`.
        """
        default(path)  # checks that ``path`` names a setting
        table, _, key = path.rpartition(".")
        return self.values[table][key]

    def get(self, path: str, default: Any = None) -> Any:
        """The value at ``"table.key"`` (e.g. ``"engines.lua.sandbox"``), or ``default``.

        A path naming a table returns that table as a dict.
        """
        if not isinstance(path, str) or not path:
            from llmspell.errors import ValidationError

            raise ValidationError("path", "must be a non-empty dotted string", got=path)
        tree = self.as_dict()
        node: Any = tree
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def as_dict(self) -> dict[str, Any]:
        """The effective configuration as nested plain values (what ``Config.get`` sees)."""
        tree: dict[str, Any] = {}
        for table, keys in self.values.items():
            node = tree
            if table:
                for part in table.split("."):
                    node = node.setdefault(part, {})
            node.update(keys)
        tree.setdefault("storage", {})["url"] = self.storage.url
        for name, value in self.extra.items():
            tree[name] = value
        return tree

    @classmethod
    def defaults(cls, *, base_dir: Path | None = None, **overrides: Any) -> Config:
        """The configuration with no file, optionally with ``{"table.key": value}`` overrides.

        Keyword names use ``__`` for dots: ``Config.defaults(storage__url="memory://")``.
        """
        flat = {name.replace("__", "."): value for name, value in overrides.items()}
        return build_config({}, source=None, base_dir=base_dir or Path.cwd(), overrides=flat)


def find_config_file(explicit: str | os.PathLike[str] | None = None, *,
                     env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """The config file to use: ``explicit``, else ``$LLMSPELL_CONFIG``, else the project's
    ``llmspell.toml`` (:func:`~llmspell.project.find_project`).

    Raises ConfigError when an explicitly named file does not exist.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    for named, origin in ((explicit, "--config"), (env.get("LLMSPELL_CONFIG"), "LLMSPELL_CONFIG")):
        if named:
            path = (cwd / Path(named)).resolve()
            if not path.is_file():
                state = "is not a file" if path.exists() else "does not exist"
                raise ConfigError(f"config file {path} {state}", source=origin)
            return path
    default = cwd / CONFIG_FILE
    if default.exists() and not default.is_file():  # a directory: never silently ignored
        raise ConfigError(f"{default.resolve()} is not a file (a directory?); remove it or "
                          "make it the configuration file", source=CONFIG_FILE)
    project = find_project(cwd, env)
    return project.root / CONFIG_FILE if project.marker == CONFIG_FILE else None


def load_config(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None,
                cwd: Path | None = None, overrides: Mapping[str, Any] | None = None,
                notify: Callable[[str], Any] | None = None) -> Config:
    """Find, read and validate the configuration. See the module docstring for precedence.

    Each of the config's ``notices`` (keys that are accepted but ignored, mapped values) is
    passed to ``notify`` once; by default it is logged as a warning on ``llmspell.config``.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    source = find_config_file(path, env=env, cwd=cwd)
    project = find_project(cwd, env)
    raw = read_toml(source) if source is not None else {}
    flat = env_overrides(env)
    flat.update(overrides or {})
    base_dir = source.parent if source else project.root
    config = replace(build_config(raw, source=source, base_dir=base_dir, overrides=flat),
                     project=project)
    for notice in config.notices:
        (notify or logger.warning)(notice)
    return config


def read_toml(source: Path) -> dict[str, Any]:
    """The TOML document in ``source``: UTF-8, a leading byte-order mark allowed (editors on
    Windows write one).

    Raises:
        ConfigError: the file cannot be read or is not TOML (a value nested far deeper than
            :data:`llmspell.codec.MAX_DEPTH` names its line and key).
    """
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", source=str(source)) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(source)) from None
    except RecursionError:  # the parser recurses once per level: far past MAX_DEPTH
        line, key = _deepest_line(text)
        raise ConfigError(f"line {line}: arrays or inline tables nested deeper than "
                          f"{MAX_DEPTH} levels (the depth limit)", source=str(source),
                          key=key) from None
    return raw


def _deepest_line(text: str) -> tuple[int, str]:
    """The line (1-based) holding the most opening brackets, and the key set on it."""
    lines = text.splitlines() or [""]
    number = max(range(len(lines)), key=lambda i: lines[i].count("[") + lines[i].count("{"))
    found = re.match(r"\s*([^=\[{]+?)\s*=", lines[number])
    return number + 1, found.group(1).strip("\"' ") if found else ""


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``{"table.key": text}`` from ``LLMSPELL_*`` variables; an unknown one is an error."""
    names = env_names()
    found: dict[str, Any] = {}
    for name, text in env.items():
        if not name.startswith("LLMSPELL_") or name in ENV_NOT_OVERRIDES:
            continue
        if name.startswith(ENV_PREFIXES_NOT_OVERRIDES):
            continue
        if name not in names:
            hint = did_you_mean(name, names)
            raise ConfigError(f"unknown configuration variable{hint}", source="environment",
                              key=name)
        table, key = names[name]
        found[f"{table}.{key}" if table else key] = EnvText(text, name)
    return found


@dataclass(frozen=True)
class EnvText:
    """A value from the environment: text to be parsed by the type of its key."""

    text: str
    variable: str


def build_config(raw: Mapping[str, Any], *, source: Path | None, base_dir: Path,
                 overrides: Mapping[str, Any]) -> Config:
    """Validate ``raw`` (a parsed TOML document) plus overrides and build the typed Config."""
    where = str(source) if source else "defaults"
    values: dict[str, dict[str, Any]] = {
        table: {key: list(f.default) if isinstance(f.default, list) else f.default
                for key, f in fields.items() if not f.alias_of and not f.unused}
        for table, fields in SCHEMA.items()
    }
    given: dict[str, tuple[Any, str]] = {}  # canonical "table.key" -> (value, where it came from)
    extra: dict[str, Any] = {}
    ignored: list[IgnoredKey] = []

    def assign(table: str, key: str, f: Field, value: Any, origin: str) -> None:
        if f.unused:
            ignored.append(IgnoredKey(where if origin.startswith("[") else origin, table, key,
                                      f.doc or "kept for rs-llmspell compatibility; "
                                      "llmspell does not use it"))
            return
        target = f.alias_of or (f"{table}.{key}" if table else key)
        if f.convert is not None:
            value = f.convert(value)
        spelled = f"[{table}] {key}" if table else key
        previous = given.get(target)
        if previous is not None and previous[0] != value:
            raise ConfigError(f"sets {target} to {value!r}, but {previous[1]} sets it to "
                              f"{previous[0]!r}; keep one", source=where, table=table, key=key)
        given[target] = (value, spelled if origin.startswith("[") else origin)
        t, _, k = target.rpartition(".")
        values[t][k] = value

    _walk(raw, "", where, assign, extra)
    for dotted, value in overrides.items():
        table, _, key = dotted.rpartition(".")
        fields = SCHEMA.get(table)
        if fields is None or key not in fields:
            known = [f"{t}.{k}" if t else k for t, f in SCHEMA.items() for k in f]
            raise ConfigError(f"unknown configuration key{did_you_mean(dotted, known)}",
                              source="overrides", key=dotted)
        origin = value.variable if isinstance(value, EnvText) else "overrides"
        if isinstance(value, EnvText):
            value = parse_text(value.text, fields[key], origin, table, key)
        else:
            check_type(value, fields[key], origin, table, key)
        given.pop(fields[key].alias_of or dotted, None)  # overrides win without a conflict
        assign(table, key, fields[key], value, origin)
    return _typed(values, source, base_dir, extra, tuple(ignored))


def _walk(node: Mapping[str, Any], table: str, where: str, assign: Any,
          extra: dict[str, Any]) -> None:
    fields = SCHEMA.get(table, {})
    for key, value in node.items():
        child = f"{table}.{key}" if table else key
        if not table and key == "providers":
            extra[key] = check_providers(value, where)
        elif not table and key in FREE_FORM:
            if not isinstance(value, dict):
                raise ConfigError("must be a table", source=where, key=key)
            _check_free_form(value, where, key)
            extra[key] = value
        elif isinstance(value, dict) and key not in fields:
            if child not in SCHEMA and not _has_subtables(child):
                hint = did_you_mean(child, [t for t in SCHEMA if t] + [*FREE_FORM, "providers"])
                raise ConfigError(f"unknown table [{child}]{hint}", source=where, table=child)
            _walk(value, child, where, assign, extra)
        elif key not in fields:
            hint = did_you_mean(key, [k for k in fields])
            raise ConfigError(f"unknown key{hint}", source=where, table=table, key=key)
        else:
            check_type(value, fields[key], where, table, key)
            assign(table, key, fields[key], value, f"[{table}]")


def _check_free_form(node: dict[str, Any], where: str, table: str) -> None:
    """A table kept as given (``[tools]``, ...) still follows the codec's depth and finite-float
    rules (:func:`llmspell.codec.check_nesting`); a refusal names the key."""
    try:
        check_nesting(node, argument=table)
    except InvalidValue as exc:
        inside = exc.path.removeprefix("$.")
        key = re.match(r"[^.\[]*", inside).group(0)  # type: ignore[union-attr]
        where_inside = f" (at {inside})" if inside != key else ""
        raise ConfigError(exc.rule + where_inside, source=where, table=table, key=key) from None


_ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_providers(node: Any, where: str) -> dict[str, Any]:
    """``[providers]`` checked: its own keys, and each ``[providers.NAME]`` against
    PROVIDER_FIELDS (aliases folded onto their canonical key; only the keys given are kept)."""
    if not isinstance(node, dict):
        raise ConfigError("must be a table", source=where, key="providers")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            if not _PROVIDER_NAME.match(key):
                raise ConfigError("a provider name is 1-64 letters, digits, '_', '-' or '.'",
                                  source=where, table=f"providers.{key}")
            out[key] = _check_provider(value, where, f"providers.{key}")
        elif key in PROVIDERS_FIELDS:
            f = PROVIDERS_FIELDS[key]
            check_type(value, f, where, "providers", key)
            _fold(out, (f.alias_of or key).rpartition(".")[2], value, where, "providers", key)
        else:
            hint = did_you_mean(key, list(PROVIDERS_FIELDS))
            raise ConfigError(f"unknown key{hint} (a provider is a table: [providers.{key}])",
                              source=where, table="providers", key=key)
    return out


def _check_provider(node: dict[str, Any], where: str, table: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        f = PROVIDER_FIELDS.get(key)
        if f is None:
            hint = did_you_mean(key, list(PROVIDER_FIELDS))
            raise ConfigError(f"unknown key{hint}", source=where, table=table, key=key)
        if f.kind == "prices":
            value = _check_prices(value, where, table)
        else:
            check_type(value, f, where, table, key)
        if key == "api_key":
            found = _ENV_REFERENCE.match(value)
            if not found:  # never echo the value: it is a secret
                raise ConfigError("a literal API key does not belong in a config file; set "
                                  "api_key_env = \"VARIABLE\" (or api_key = \"${VARIABLE}\"), "
                                  "or store it with `llmspell keys set NAME`", source=where,
                                  table=table, key=key)
            _fold(out, "api_key_env", found.group(1), where, table, key)
        else:
            _fold(out, f.alias_of or key, value, where, table, key)
    return out


def _fold(out: dict[str, Any], target: str, value: Any, where: str, table: str,
          key: str) -> None:
    if target in out and out[target] != value:
        raise ConfigError(f"sets {target} to {value!r}, but another key sets it to "
                          f"{out[target]!r}; keep one", source=where, table=table, key=key)
    out[target] = value


_PRICE = Field("number", minimum=0)


def _check_prices(value: Any, where: str, table: str) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict):
        raise ConfigError(f"must be a table of model = {{input = N, output = N}} (USD per 1M "
                          f"tokens), got {type(value).__name__}", source=where, table=table,
                          key="prices")
    prices = {}
    for model, price in value.items():
        key = f"prices.{model}"
        if not isinstance(price, dict) or set(price) != {"input", "output"}:
            raise ConfigError(f"must be {{input = N, output = N}} (USD per 1M tokens), got "
                              f"{price!r}", source=where, table=table, key=key)
        for part, number in price.items():
            if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                raise ConfigError(f"must be a number >= 0, got {number!r}", source=where,
                                  table=table, key=f"{key}.{part}")
            check_type(number, _PRICE, where, table, f"{key}.{part}")  # finite, 64-bit
        prices[model] = {"input": float(price["input"]), "output": float(price["output"])}
    return prices


def _has_subtables(prefix: str) -> bool:
    return any(t.startswith(prefix + ".") for t in SCHEMA)


#: Integers in the configuration are 64-bit: they end up in C (Lua limits, SQLite, sizes).
_INT_LIMIT = 2**63

_KIND_NAMES = {"bool": "a boolean", "int": "an integer", "number": "a number", "str": "a string",
               "list[str]": "an array of strings", "any": "any value"}


def check_type(value: Any, f: Field, where: str, table: str, key: str) -> None:
    """Raise ConfigError unless ``value`` fits the field's kind, choices and minimum."""
    ok = {
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "any": lambda v: True,
    }[f.kind](value)
    if not ok:
        raise ConfigError(f"must be {_KIND_NAMES[f.kind]}, got {type(value).__name__} "
                          f"{value!r}", source=where, table=table, key=key)
    if f.kind in ("int", "number"):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"must be a finite number, got {value!r}", source=where,
                              table=table, key=key)
        if isinstance(value, int) and not -_INT_LIMIT <= value < _INT_LIMIT:
            raise ConfigError(f"must be at most {_INT_LIMIT - 1:,} in size (a 64-bit "
                              f"integer), got {value}", source=where, table=table, key=key)
    if f.choices and f.kind == "list[str]":
        for item in value:
            if item not in f.choices:
                raise ConfigError(f"items must be among {', '.join(map(repr, f.choices))}, "
                                  f"got {item!r}", source=where, table=table, key=key)
    elif f.choices and value not in f.choices:
        raise ConfigError(f"must be one of {', '.join(map(repr, f.choices))}, got {value!r}",
                          source=where, table=table, key=key)
    if f.minimum is not None and value < f.minimum:
        raise ConfigError(f"must be at least {f.minimum:g}, got {value!r}", source=where,
                          table=table, key=key)
    if f.check is not None:
        try:
            f.check(value)
        except ValidationError as exc:
            raise ConfigError(exc.rule if not exc.path else f"at {exc.path}: {exc.rule}",
                              source=where, table=table, key=key) from None


def parse_text(text: str, f: Field, where: str, table: str, key: str) -> Any:
    """Parse an environment variable's text by the field's kind, then check it."""
    value: Any = text
    try:
        if f.kind == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(text)
            value = lowered in ("true", "1", "yes", "on")
        elif f.kind == "int":
            value = int(text)
        elif f.kind == "number":
            value = float(text)
        elif f.kind == "list[str]":
            value = [part.strip() for part in text.split(os.pathsep if "paths" in key else ",")
                     if part.strip()]
    except ValueError:
        raise ConfigError(f"must be {_KIND_NAMES[f.kind]}, got {text!r}", source=where,
                          table=table, key=key) from None
    check_type(value, f, where, table, key)
    return value


def _typed(values: dict[str, dict[str, Any]], source: Path | None, base_dir: Path,
           extra: dict[str, Any], ignored: tuple[IgnoredKey, ...]) -> Config:
    notices = [item.notice for item in ignored]

    def path(text: str) -> Path:
        return (base_dir / Path(text).expanduser()).resolve()

    run = values["runtime"]
    data_dir = path(run["data_dir"])
    state, session, lua, storage = (values["state"], values["session"], values["engines.lua"],
                                    values["storage"])
    backend = state["backend"]
    if backend == "sled":
        notices.append("backend 'sled' is a Rust-only engine; using the embedded default "
                       "'sqlite' instead")
        backend = "sqlite"
    url = (anchor_url(storage["url"], base_dir) if storage["url"]
           else store_url(backend, state["path"], data_dir, path))
    timeout = lua["timeout_seconds"] or run["script_timeout_seconds"]
    return Config(
        source=source,
        storage=StorageConfig(url=url, durability=storage["durability"]),
        lua=LuaConfig(sandbox=lua["sandbox"], max_instructions=lua["max_instructions"],
                      max_memory_bytes=lua["max_memory_bytes"], timeout_seconds=float(timeout)),
        runtime=RuntimeConfig(data_dir=data_dir,
                              allowed_paths=tuple(path(p) for p in run["allowed_paths"]),
                              log_level=run["log_level"]),
        state=StateConfig(enabled=state["enabled"], max_value_bytes=state["max_value_bytes"],
                          redact_on_write=state["redact_on_write"],
                          redact_patterns=tuple(state["redact_patterns"]),
                          backup_dir=path(state["backup_dir"]) if state["backup_dir"]
                          else data_dir / "backups"),
        session=SessionConfig(enabled=session["enabled"],
                              blob_dir=path(session["storage_path"]) if session["storage_path"]
                              else data_dir / "blobs",
                              max_active_sessions=session["max_active_sessions"],
                              artifact_compression=session["artifact_compression"],
                              compression_threshold=session["compression_threshold"],
                              max_artifacts_per_session=session["max_artifacts_per_session"],
                              idle_timeout_seconds=float(session["idle_timeout_seconds"])),
        values=values,
        extra=extra,
        ignored=ignored,
        notices=tuple(notices),
    )


def store_url(backend: str, path_text: str, data_dir: Path, path: Any) -> str:
    """The storage URL for a backend name and a path (the seeds' ``[state]`` form)."""
    if backend == "memory":
        return "memory://"
    if backend == "postgres":
        if not path_text.startswith(("postgresql://", "postgres://")):
            raise ConfigError("backend 'postgres' needs [storage] url = 'postgresql://...' "
                              "(or [state] path set to one)", table="state", key="path")
        return path_text
    if backend == "sqlite":
        target = path(path_text) if path_text else data_dir / "llmspell.db"
        if target.suffix not in (".db", ".sqlite", ".sqlite3"):
            target = target / "llmspell.db"
        return f"sqlite:///{target}"
    target = path(path_text) if path_text else data_dir / backend
    return f"{backend}:///{target}"


def file_store_path(url: str) -> str | None:
    """The file (sqlite) or directory (lmdb, rocksdb) a file-backend URL names, as written
    (``sqlite:///rel.db`` -> ``rel.db``, ``sqlite:////abs.db`` -> ``/abs.db``); None for
    other URLs."""
    scheme, sep, rest = url.partition(":///")
    if sep and scheme in ("sqlite", "lmdb", "rocksdb") and rest:
        return rest.partition("?")[0]
    return None


def anchor_url(url: str, base_dir: Path) -> str:
    """A file-backend URL with a relative path (``sqlite:///rel.db``) made absolute against
    ``base_dir`` (the config file's directory), so a project's store does not depend on the
    directory a command is started from. Other URLs are returned as given."""
    path = file_store_path(url)
    if path is not None and not path.startswith("/"):
        scheme, _, rest = url.partition(":///")
        q, query = rest.partition("?")[1:]
        return f"{scheme}:///{(base_dir / Path(path).expanduser()).resolve()}{q}{query}"
    return url
