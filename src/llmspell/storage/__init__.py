"""Storage: the key-value contract (:mod:`llmspell.storage.base`) and its backends, by URL.

:func:`open_store` picks the backend from the URL's scheme::

    memory://             a private in-process store (memory://NAME: shared by name)
    sqlite:///PATH        one SQLite file (the default backend); PATH relative to the working
                          directory, sqlite:////abs/path.db for an absolute one; ?timeout=S
                          seconds to wait for another process's write lock (default 30)
    lmdb:///DIR           an LMDB environment directory   (pip install 'llmspell[lmdb]')
    rocksdb:///DIR        a RocksDB directory, one process (pip install 'llmspell[rocksdb]')
    postgresql://...      a PostgreSQL table              (pip install 'llmspell[postgres]')

Optional backends are imported only when opened, so ``import llmspell`` never loads lmdb,
rocksdict or psycopg. See docs/storage.md for durability and multi-process rules.
:func:`retry_batch` (:mod:`llmspell.storage.retry`) is the loop of every optimistic write.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from urllib.parse import parse_qsl

from llmspell.config_schema import default
from llmspell.errors import BackendUnavailable, ValidationError
from llmspell.storage._support import DURABILITIES, check_durability
from llmspell.storage.base import MAX_KEY_BYTES, Chunk, Delete, Op, Put, Store
from llmspell.storage.retry import retry_batch, retry_stream
from llmspell.validation import unknown_option

__all__ = [
    "DURABILITIES",
    "MAX_KEY_BYTES",
    "Chunk",
    "Delete",
    "Op",
    "Put",
    "Store",
    "backend_status",
    "open_store",
    "retry_batch",
    "retry_stream",
]

#: backend name -> (module, the packages it needs, the extra that installs them)
_OPTIONAL = {
    "lmdb": ("llmspell.storage.lmdb_store", ("lmdb",), "lmdb"),
    "rocksdb": ("llmspell.storage.rocksdb", ("rocksdict",), "rocksdb"),
    "postgres": ("llmspell.storage.postgres", ("psycopg", "psycopg_pool"), "postgres"),
}
_SCHEMES = ("memory://", "sqlite:///", "lmdb:///", "rocksdb:///", "postgresql://",
            "postgres://")


def open_store(url: str, *, durability: str = default("storage.durability")) -> Store:
    """Open the store that ``url`` names.

    ``durability`` is ``"normal"`` (a commit survives a crash of the process; a power cut may
    lose the last commits, never corrupting the store) or ``"full"`` (every commit is on disk
    when the call returns). Directories for file-based stores are created as needed.

    Raises ValidationError for a bad argument, BackendUnavailable for an unknown scheme, a
    missing optional package or an unreachable server, StoreLocked when another process holds
    an exclusive store (rocksdb), StorageError when the store cannot be opened.
    """
    if not isinstance(url, str) or not url:
        raise ValidationError("url", "must be a non-empty str such as "
                              "'sqlite:///.llmspell/llmspell.db'", got=url)
    check_durability(durability)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("memory", "sqlite", "lmdb", "rocksdb", "postgresql",
                                 "postgres"):
        raise BackendUnavailable(f"unknown store URL {url!r}: expected one of "
                                 f"{', '.join(_SCHEMES)}")
    if scheme == "memory":
        from llmspell.storage.memory import MemoryStore

        return MemoryStore(rest, durability=durability)
    if scheme in ("postgresql", "postgres"):
        postgres = _load("postgres")
        store: Store = postgres.PostgresStore(url, durability=durability)
        return store
    path, params = _path_and_params(url, scheme, rest)
    if scheme == "sqlite":
        from llmspell.storage.sqlite import SqliteStore

        _no_params(url, params, {"timeout"})
        timeout = _number_param(params, "timeout", 30.0)
        return SqliteStore(path, durability=durability, timeout=timeout, url=url)
    if scheme == "lmdb":
        _no_params(url, params, {"map_size"})
        lmdb_store = _load("lmdb")
        map_size = _int_param(params, "map_size", lmdb_store.DEFAULT_MAP_SIZE)
        store = lmdb_store.LmdbStore(path, durability=durability, map_size=map_size, url=url)
        return store
    _no_params(url, params, set())
    rocksdb = _load("rocksdb")
    store = rocksdb.RocksStore(path, durability=durability, url=url)
    return store


def backend_status() -> dict[str, str]:
    """Each backend's name -> ``"available"``, or why it is not (for ``llmspell doctor``).

    For postgres this says whether the driver is installed; whether a server answers is a
    matter of the URL, and is found out by opening it.
    """
    status = {"memory": "available", "sqlite": "available"}
    for name in _OPTIONAL:
        try:
            _load(name)
        except BackendUnavailable as exc:
            status[name] = str(exc)
        else:
            status[name] = "available"
    return status


def _load(name: str) -> ModuleType:
    """The backend's module, imported now; BackendUnavailable naming the extra if missing."""
    module, packages, extra = _OPTIONAL[name]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name if exc.name in packages else None
        what = f"package {missing!r} is not installed" if missing else f"cannot import: {exc}"
        raise BackendUnavailable(f"the {name} backend is unavailable ({what}); install it "
                                 f"with: pip install 'llmspell[{extra}]'") from exc


def store_location(url: str) -> str | None:
    """The file or directory a local store URL names (``sqlite``, ``lmdb``, ``rocksdb``), as
    :func:`open_store` would open it; None for ``memory://`` and PostgreSQL."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("sqlite", "lmdb", "rocksdb"):
        return None
    return _path_and_params(url, scheme.lower(), rest)[0]


def _path_and_params(url: str, scheme: str, rest: str) -> tuple[str, dict[str, str]]:
    """The filesystem path after ``scheme:///`` and the URL's query parameters."""
    if not rest.startswith("/") or len(rest) < 2:
        raise BackendUnavailable(
            f"store URL {url!r} has no path: write {scheme}:///relative/path or "
            f"{scheme}:////absolute/path")
    path, _, query = rest[1:].partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True))
    return os.path.expanduser(path), params


def _no_params(url: str, params: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise unknown_option("url", unknown[0], sorted(allowed), noun="query parameter",
                             got=url)


def _number_param(params: dict[str, str], name: str, default: float) -> float:
    text = params.get(name)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValidationError("url", f"query parameter '{name}' must be a number",
                              got=text) from None


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValidationError("url", f"query parameter '{name}' must be an integer",
                              got=text) from None
