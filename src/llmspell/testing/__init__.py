"""Shipped test helpers: a fresh store for each test, on every backend, and its clean-up.

A suite that runs one contract over every backend asks :func:`backend_unavailable` whether a
backend can run here (None, or the reason to print when skipping it), gets a place of its own
from :func:`fresh_store_url` (a unique postgres table, a unique named memory store, a sqlite
file or an lmdb/rocksdb directory under the test's directory) and removes what would outlive
the test with :func:`discard_store`. :class:`StoreLocation` bundles the three for one test::

    if reason := backend_unavailable("lmdb"):
        pytest.skip(reason)
    with StoreLocation("lmdb", fresh_store_url("lmdb", tmp_path)) as place:
        store = place.open()

Two commands live here too, each a module of its own: ``python -m llmspell.testing.crash``
kills a mixed workload again and again and checks that no acknowledged write was lost
(:mod:`llmspell.testing.crash`, docs/reliability.md), and ``python -m llmspell.testing.fuzz``
feeds random input to the Lua converter, the config loader and the backup reader
(:mod:`llmspell.testing.fuzz`). They are not imported by ``import llmspell.testing``.

PostgreSQL tests use the server at ``LLMSPELL_TEST_POSTGRES`` (default
``postgresql://127.0.0.1:5432/test``). Nothing here imports pytest: the helpers return reasons
and the tests decide to skip.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import parse_qsl

from llmspell.config_schema import default
from llmspell.errors import StorageError, ValidationError
from llmspell.providers.scripted import ScriptedProvider
from llmspell.providers.testing_server import FakeOpenAIServer, RecordedRequest
from llmspell.storage import Store, backend_status, open_store
from llmspell.storage.base import Op

__all__ = [
    "BACKENDS",
    "EMBEDDED_BACKENDS",
    "POSTGRES_URL",
    "CountingStore",
    "FakeOpenAIServer",
    "RecordedRequest",
    "ScriptedProvider",
    "StoreLocation",
    "backend_unavailable",
    "discard_store",
    "fresh_store_url",
    "postgres_unreachable",
    "postgres_url",
]

#: The PostgreSQL server the tests use (a database they may create and drop tables in).
POSTGRES_URL = os.environ.get("LLMSPELL_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
#: Schemas :func:`fresh_store_url` makes for postgres tests (dropped whole by discard_store).
TEST_SCHEMA_PREFIX = "llmspell_t_"
#: Every storage backend, by the name :func:`llmspell.storage.backend_status` uses.
BACKENDS = ("memory", "sqlite", "lmdb", "rocksdb", "postgres")
#: The backends that run inside the process, without a server.
EMBEDDED_BACKENDS = ("memory", "sqlite", "lmdb", "rocksdb")

_LABEL_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the test server at :data:`POSTGRES_URL` cannot be used, or None when it can.

    The reason is the backend's status when the driver is missing, else the connection error
    on one line. Asked once per process; the answer is kept.
    """
    status = backend_status()["postgres"]
    if status != "available":
        return status
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        why = " ".join(str(exc).split())
        return f"no PostgreSQL at {POSTGRES_URL} (set LLMSPELL_TEST_POSTGRES): {why}"
    return None


def backend_unavailable(name: str) -> str | None:
    """Why backend ``name`` cannot run here (a missing package, no postgres server), or None.

    Raises ValidationError when ``name`` is not one of :data:`BACKENDS`.
    """
    _check_backend(name)
    if name == "postgres":
        return postgres_unreachable()
    status = backend_status()[name]
    return None if status == "available" else status


def postgres_url(table: str) -> str:
    """:data:`POSTGRES_URL` naming the store in ``table`` (``...?table=NAME``)."""
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}table={table}"


def fresh_store_url(name: str, directory: str | os.PathLike[str], *, label: str = "test") -> str:
    """The URL of a store on backend ``name`` that no other test uses.

    postgres: table ``llmspell_kv`` in a new schema ``llmspell_t_<label>_<random>`` on
    :data:`POSTGRES_URL` (so each test's tables, the store's own and its job queue, are
    apart from every other test's); memory: a new
    name ``<label>-<random>`` (a named store keeps its contents across close and reopen, as a
    file would); sqlite: ``<directory>/store.db``; lmdb and rocksdb: ``<directory>/<name>``.
    Every call for postgres or memory gives a new place; for the others, give each store its
    own ``directory``. The URL is only built: check :func:`backend_unavailable` first, and
    :func:`discard_store` it at the end.

    Raises ValidationError for an unknown ``name`` or a ``label`` that is not 1 to 32 of
    ``[A-Za-z0-9_]``.
    """
    _check_backend(name)
    if not isinstance(label, str) or not _LABEL_RE.match(label):
        raise ValidationError("label", "must be 1 to 32 of [A-Za-z0-9_] (it becomes part of "
                              "a table name)", got=label)
    if name == "postgres":
        return postgres_url(f"{TEST_SCHEMA_PREFIX}{label}_{uuid.uuid4().hex[:16]}.llmspell_kv")
    if name == "memory":
        return f"memory://{label}-{uuid.uuid4().hex}"
    if name == "sqlite":
        return f"sqlite:///{os.fspath(directory)}/store.db"
    return f"{name}:///{os.fspath(directory)}/{name}"


def discard_store(url: str) -> None:
    """Remove what a test store at ``url`` leaves behind outside its directory.

    A postgres URL with ``?table=NAME`` has that table and its siblings (migrations, jobs)
    dropped, or its whole schema when that is a test schema (:data:`TEST_SCHEMA_PREFIX`); one
    without a table parameter is left alone: its table is the shared default. A named memory
    store is forgotten. Other stores are files, removed with the test's directory. Close the
    store's handles first.
    """
    scheme, _, rest = url.partition("://")
    if scheme == "memory":
        if rest:
            from llmspell.storage.memory import forget

            forget(rest)
    elif scheme in ("postgresql", "postgres"):
        query = rest.partition("?")[2]
        if "table" not in dict(parse_qsl(query, keep_blank_values=True)):
            return
        import psycopg

        from llmspell.storage.pg_schema import table_names
        from llmspell.storage.postgres import split_url

        conninfo, table = split_url(url)
        schema = table.rpartition(".")[0]
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if schema.startswith(TEST_SCHEMA_PREFIX):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                return
            names = table_names(table)
            for quoted in (names["kv"], names["migrations"], names["jobs"]):
                conn.execute(f"DROP TABLE IF EXISTS {quoted}")


@dataclass
class StoreLocation:
    """Where one test's store lives: ``open()`` opens it (again), the same place each time.

    ``close()`` closes every store opened here and then discards the place (see
    :func:`discard_store`); used as a context manager, it does so at the end of the block.
    """

    name: str
    url: str
    opened: list[Store] = field(default_factory=list)

    def open(self, durability: str = default("storage.durability")) -> Store:
        """A new handle on the store (see :func:`llmspell.storage.open_store`)."""
        store = open_store(self.url, durability=durability)
        self.opened.append(store)
        return store

    def close(self) -> None:
        """Close every handle ``open()`` gave, then discard the store."""
        for store in self.opened:
            store.close()
        discard_store(self.url)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_backend(name: str) -> None:
    if name not in BACKENDS:
        raise ValidationError("name", f"must be a backend name: {', '.join(BACKENDS)}",
                              got=name)


class CountingStore(Store):
    """A test double around a real store: passes everything to ``inner`` and counts.

    ``scans`` lists the prefixes scanned, ``scanned`` counts the keys scans yielded and
    ``fetched`` the keys asked of ``get_many``, so a test can show that a filtered query reads
    an index instead of walking every record. Setting ``fail_batches`` makes every batch fail
    with a StorageError, as a full disk would. ``inner`` defaults to a new memory store.
    """

    def __init__(self, inner: Store | None = None) -> None:
        self.inner = inner if inner is not None else open_store("memory://")
        self.url = self.inner.url
        self.multi_process = self.inner.multi_process
        self.fail_batches = False
        self.reset()

    def reset(self) -> None:
        """Zero the counters."""
        self.scans: list[str] = []
        self.scanned = 0
        self.fetched = 0

    def _get(self, key: str) -> bytes | None:
        return self.inner.get(key)

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        self.fetched += len(keys)
        return self.inner.get_many(keys)

    def _put(self, key: str, value: bytes) -> None:
        self.inner.put(key, value)

    def _delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def _scan(self, prefix: str, start_after: str | None, limit: int | None,
              reverse: bool) -> Iterator[tuple[str, bytes]]:
        self.scans.append(prefix)
        for pair in self.inner.scan(prefix, start_after=start_after, limit=limit,
                                    reverse=reverse):
            self.scanned += 1
            yield pair

    def _count(self, prefix: str) -> int:
        return self.inner.count(prefix)

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        if self.fail_batches:
            raise StorageError("the disk is full (a test made this batch fail)")
        return self.inner.batch(ops, expect=expect)

    def _close(self) -> None:
        self.inner.close()
