"""The PostgreSQL backend (``pip install 'llmspell[postgres]'``): one table, many processes.

The store is one table (``?table=NAME`` in the URL, default ``llmspell_kv``) with ``key bytea
PRIMARY KEY, value bytea``. Keys are stored as their UTF-8 bytes: ``bytea`` compares bytewise,
which is code-point order whatever the database's collation, and it accepts the NUL character
that ``text`` refuses. Read them in psql with ``convert_from(key, 'UTF8')``.

Every write takes PostgreSQL transaction-level advisory locks on the keys it touches (and, for
a batch, on the keys in ``expect``), in a fixed order, before it reads or writes them. Writers
to the same key therefore run one after another across connections, processes and machines,
so a batch's ``expect`` is checked and applied atomically; readers never wait. A key's lock is
one of :data:`LOCK_SLOTS` per table (a 64-bit hash of the table and the key's slot), so a
batch holds at most that many locks however many keys it touches: a default server's lock
table (``max_locks_per_transaction`` 64 x ``max_connections`` 100) holds a batch of any size.
Two writers of different keys in one slot only take turns.

Durability ``normal`` sets ``synchronous_commit = off`` on llmspell's connections: a commit
survives a crash of the client, and a crash of the server loses at most the last fraction of
a second of commits, never corrupting anything (the same promise as SQLite's ``NORMAL``).
``full`` sets ``synchronous_commit = on``: a commit is flushed before the call returns.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
import psycopg_pool

from llmspell.config_schema import default
from llmspell.errors import BackendUnavailable, StorageError, ValidationError
from llmspell.storage._support import (
    Closed,
    KeyRange,
    check_durability,
    prefix_end,
    raise_closed,
    take,
)
from llmspell.storage.base import Chunk, Op, Put, Store
from llmspell.storage.pg_schema import MIGRATIONS, applied, migrate

DEFAULT_TABLE = "llmspell_kv"
#: Advisory-lock slots per table (see the module docstring). Every process writing a table
#: must use the same number: it is part of the on-server protocol.
LOCK_SLOTS = 512
_TABLE_RE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}$")


def split_url(url: str) -> tuple[str, str]:
    """The libpq connection URL without llmspell's own query parameters, and the table name."""
    base, _, query = url.partition("?")
    items = [item for item in query.split("&") if item]
    tables = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "table"]
    table = tables[-1] if tables else DEFAULT_TABLE
    if not _TABLE_RE.match(table):
        raise ValidationError("url", "query parameter 'table' must be an identifier "
                              "([A-Za-z_][A-Za-z0-9_]*, at most 63 chars, optionally "
                              "schema.table)", got=table)
    rest = "&".join(item for item in items if item.partition("=")[0] != "table")
    return (f"{base}?{rest}" if rest else base), table


def _text(exc: BaseException) -> str:
    """An exception's message on one line (libpq's run over several)."""
    return " ".join(str(exc).split())


def _quote(table: str) -> str:
    return ".".join(f'"{part}"' for part in table.split("."))


def _hide_password(url: str) -> str:
    """``url`` with the password (in the user info or the query) replaced by ``***``."""
    parts = urlsplit(url)
    netloc, query = parts.netloc, parts.query
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k == "password" for k, _ in pairs):
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*/")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


class PostgresStore(Store):
    """A store in one PostgreSQL table, shared by any number of processes.

    ``url`` keeps the URL it was opened with, with any password replaced by ``***``.
    """

    multi_process = True

    def __init__(self, url: str, *,
                 durability: str = default("storage.durability"), pool_size: int = 4,
                 connect_timeout: float = 10.0) -> None:
        check_durability(durability)
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            raise ValidationError("url", "must start with postgresql:// or postgres://", got=url)
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValidationError("pool_size", "must be an int of at least 1", got=pool_size)
        if (isinstance(connect_timeout, bool) or not isinstance(connect_timeout, int | float)
                or connect_timeout <= 0):
            raise ValidationError("connect_timeout", "must be a positive number of seconds",
                                  got=connect_timeout)
        conninfo, self.table = split_url(url)
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        self.url = _hide_password(url)  # it ends up in reprs, logs and `llmspell info`
        self.durability = durability
        self._where = f"postgres store {_hide_password(conninfo)} table {self.table}"
        self._lock_salt = self.table.encode() + b"\0"
        self._slot_locks = [self._hashed_lock(b"slot %d" % n) for n in range(LOCK_SLOTS)]
        self._quoted = _quote(self.table)
        self._sql = _statements(self._quoted)
        self._create_table(conninfo, connect_timeout)
        sync = "on" if durability == "full" else "off"

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"SET synchronous_commit = {sync}")

        pool = psycopg_pool.ConnectionPool(
            conninfo, min_size=1, max_size=pool_size, open=False, configure=configure,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            name=f"llmspell-{self.table}")
        try:
            pool.open(wait=True, timeout=connect_timeout)
        except psycopg_pool.PoolTimeout as exc:
            pool.close()
            raise BackendUnavailable(f"{self._where}: no connection within "
                                     f"{connect_timeout} s") from exc
        self._pool: Any = pool

    def _create_table(self, conninfo: str, timeout: float) -> None:
        try:
            conn = psycopg.connect(conninfo, autocommit=True,
                                   connect_timeout=max(1, int(timeout)))
        except psycopg.Error as exc:
            raise BackendUnavailable(f"{self._where}: cannot connect: {_text(exc)}") from exc
        try:
            with conn.transaction():
                # Two processes creating the table at once would collide in the catalog.
                conn.execute("SELECT pg_advisory_xact_lock(%s::bigint)",
                             [self._hashed_lock(b"\0create-table")])
                types = conn.execute(self._sql["column_types"], [self._quoted]).fetchall()
                if types and sorted(types) != [("key", "bytea"), ("value", "bytea")]:
                    raise psycopg.Rollback()  # not ours: change nothing, say so below
                migrate(conn, self.table)
                types = conn.execute(self._sql["column_types"], [self._quoted]).fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"{self._where}: cannot create the table: {_text(exc)}") from exc
        finally:
            conn.close()
        if sorted(types) != [("key", "bytea"), ("value", "bytea")]:
            found = ", ".join(f"{name} {kind}" for name, kind in sorted(types))
            raise StorageError(f"{self._where}: the table exists but is not an llmspell store "
                               f"(columns: {found}; expected key bytea, value bytea); choose "
                               "another with ?table=NAME")

    def connect(self) -> psycopg.Connection[Any]:
        """A new connection of its own (autocommit) to the store's database, for work that
        holds one (LISTEN, a worker's claim); the caller closes it.

        Raises:
            BackendUnavailable: the server cannot be reached.
        """
        try:
            return psycopg.connect(self._conninfo, autocommit=True,
                                   connect_timeout=max(1, int(self._connect_timeout)))
        except psycopg.Error as exc:
            raise BackendUnavailable(f"{self._where}: cannot connect: {_text(exc)}") from exc

    def server_report(self) -> dict[str, Any]:
        """What ``llmspell doctor`` shows of the server: ``server_version``, ``latency_ms``
        (median of 5 round trips), ``pool`` (size, idle, waiting, max), ``schema_version``
        (migrations applied), ``migrations`` (their names) and ``pending`` (known here, not
        applied: a newer llmspell opened it, or this one never did).

        Raises:
            StorageError: the server could not be asked.
        """
        times = []
        try:
            with self._pool.connection() as conn:
                version = conn.execute("SHOW server_version").fetchone()[0]
                for _ in range(5):
                    started = time.perf_counter()
                    conn.execute("SELECT 1").fetchone()
                    times.append((time.perf_counter() - started) * 1000)
                done = [name for name, _ in applied(conn, self.table)]
        except psycopg.Error as exc:
            raise self._failed("read the server's state", exc) from exc
        stats = self._pool.get_stats()
        return {"server_version": version, "latency_ms": round(sorted(times)[2], 3),
                "pool": {"size": stats.get("pool_size", 0),
                         "idle": stats.get("pool_available", 0),
                         "waiting": stats.get("requests_waiting", 0),
                         "max": self._pool.max_size},
                "schema_version": len(done), "migrations": done,
                "pending": [name for name, _ in MIGRATIONS if name not in done]}

    def _hashed_lock(self, name: bytes) -> int:
        digest = hashlib.blake2b(self._lock_salt + name, digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def _lock_id(self, key: bytes) -> int:
        """The advisory lock of ``key``: its slot's (see the module docstring)."""
        return self._slot_locks[_slot(key)]

    def _failed(self, doing: str, exc: psycopg.Error) -> StorageError:
        return StorageError(f"{self._where}: could not {doing}: {_text(exc)}")

    def _one(self, sql: str, params: list[Any], doing: str, fetch: bool = True) -> Any:
        try:
            with self._pool.connection() as conn:
                cursor = conn.execute(sql, params)
                return cursor.fetchone() if fetch else None
        except psycopg.Error as exc:
            raise self._failed(doing, exc) from exc

    def _get(self, key: str) -> bytes | None:
        row = self._one(self._sql["get"], [key.encode()], f"get {key!r}")
        return None if row is None else bytes(row[0])

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(self._sql["get_many"],
                                    [[k.encode() for k in keys]]).fetchall()
        except psycopg.Error as exc:
            raise self._failed(f"get {len(keys)} keys", exc) from exc
        return {bytes(k).decode(): bytes(v) for k, v in rows}

    def _put(self, key: str, value: bytes) -> None:
        raw = key.encode()
        self._one(self._sql["put"], [self._lock_id(raw), raw, value], f"put {key!r}",
                  fetch=False)

    def _delete(self, key: str) -> bool:
        raw = key.encode()
        row = self._one(self._sql["delete"], [self._lock_id(raw), raw], f"delete {key!r}")
        return bool(row[0])

    def _check_open(self) -> None:
        if isinstance(self._pool, Closed):
            raise_closed()

    def _fetch(self, rng: KeyRange, want: int,
               reverse: bool) -> tuple[list[tuple[str, bytes]], bool]:
        low = None if rng.low is None else (">=" if rng.low_inclusive else ">")
        sql = self._sql[f"scan {low} {rng.high is not None} {reverse}"]
        params: list[Any] = [b.encode() for b in (rng.low, rng.high) if b is not None]
        params.append(want)
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise self._failed("scan", exc) from exc
        return take(((bytes(k).decode(), bytes(v)) for k, v in rows), want)

    def _count(self, prefix: str) -> int:
        if not prefix:
            row = self._one(self._sql["count"], [], "count")
        else:
            end = prefix_end(prefix)
            if end is None:
                row = self._one(self._sql["count_from"], [prefix.encode()], "count")
            else:
                row = self._one(self._sql["count_range"], [prefix.encode(), end.encode()],
                                f"count {prefix!r}")
        return int(row[0])

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        final = _net(ops)
        wanted = {k.encode(): v for k, v in expect.items()}
        locks = sorted({self._lock_id(k) for k in (*final, *wanted)})
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(self._sql["lock"], [locks])
                if wanted and not self._holds(conn, wanted):
                    raise psycopg.Rollback()
                self._apply(conn, final)
                return True
        except psycopg.Error as exc:
            raise self._failed(f"apply a batch of {len(ops)} ops", exc) from exc
        return False  # the Rollback above: an expectation did not hold

    def _batch_stream(self, chunks: Iterator[Chunk]) -> bool:
        """One transaction around every chunk, each applied as it is pulled. It takes every
        write lock of the table first (all :data:`LOCK_SLOTS`, in order, as every writer
        takes its own), so other writers of the table wait for it; readers do not, and see
        the table as it was until the commit, the iterator's reads (on other connections of
        the pool) included. With a pool of one connection (nothing left for those reads) the
        stream is staged instead, as on the memory backend."""
        if self._pool.max_size < 2:
            return super()._batch_stream(chunks)
        applied = 0
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(self._sql["lock"], [sorted(set(self._slot_locks))])
                for ops, expect in chunks:
                    wanted = {k.encode(): v for k, v in expect.items()}
                    if wanted and not self._holds(conn, wanted):
                        raise psycopg.Rollback()
                    self._apply(conn, _net(ops))
                    applied += len(ops)
                return True
        except psycopg.Error as exc:
            raise self._failed(f"apply a stream of batches (after {applied} ops)",
                               exc) from exc
        return False  # the Rollback above: an expectation did not hold

    def _holds(self, conn: psycopg.Connection[Any], wanted: dict[bytes, bytes | None]) -> bool:
        """Whether every key of ``wanted`` holds exactly that value (None: absent)."""
        rows = conn.execute(self._sql["get_many"], [list(wanted)]).fetchall()
        have = {bytes(k): bytes(v) for k, v in rows}
        return all(have.get(k) == v for k, v in wanted.items())

    def _apply(self, conn: psycopg.Connection[Any], final: dict[bytes, bytes | None]) -> None:
        """Write the net effect ``final`` of a batch's ops (see :func:`_net`)."""
        deletes = [k for k, v in final.items() if v is None]
        puts = [(k, v) for k, v in final.items() if v is not None]
        if deletes:
            conn.execute(self._sql["delete_many"], [deletes])
        if puts:
            conn.execute(self._sql["put_many"], [[k for k, _ in puts], [v for _, v in puts]])

    def _close(self) -> None:
        pool, self._pool = self._pool, Closed()
        if not isinstance(pool, Closed):
            pool.close()


def _net(ops: list[Op]) -> dict[bytes, bytes | None]:
    """The net effect of ``ops``, key by key (None: deleted): one statement may not touch a
    key twice."""
    final: dict[bytes, bytes | None] = {}
    for op in ops:
        final[op.key.encode()] = op.value if isinstance(op, Put) else None
    return final


def _slot(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % LOCK_SLOTS


def _statements(t: str) -> dict[str, str]:
    """Every SQL statement the store runs, for table ``t`` (already quoted)."""
    upsert = "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
    sql = {
        "get": f"SELECT value FROM {t} WHERE key = %s",
        "get_many": f"SELECT key, value FROM {t} WHERE key = ANY(%s)",
        "put": (f"WITH l AS (SELECT pg_advisory_xact_lock(%s::bigint)) "
                f"INSERT INTO {t} (key, value) SELECT %s::bytea, %s::bytea FROM l {upsert}"),
        "delete": (f"WITH l AS (SELECT pg_advisory_xact_lock(%s::bigint)), "
                   f"d AS (DELETE FROM {t} WHERE key = %s AND EXISTS (SELECT 1 FROM l) "
                   f"RETURNING 1) SELECT count(*) FROM d"),
        "lock": "SELECT pg_advisory_xact_lock(x) FROM unnest(%s::bigint[]) AS x",
        "delete_many": f"DELETE FROM {t} WHERE key = ANY(%s)",
        "put_many": (f"INSERT INTO {t} (key, value) "
                     f"SELECT * FROM unnest(%s::bytea[], %s::bytea[]) {upsert}"),
        "column_types": ("SELECT attname::text, format_type(atttypid, atttypmod) "
                         "FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                         "AND attnum > 0 AND NOT attisdropped"),
        "count": f"SELECT count(*) FROM {t}",
        "count_from": f"SELECT count(*) FROM {t} WHERE key >= %s",
        "count_range": f"SELECT count(*) FROM {t} WHERE key >= %s AND key < %s",
    }
    for low in (None, ">=", ">"):
        for high in (False, True):
            for reverse in (False, True):
                where = [w for w in (low and f"key {low} %s", high and "key < %s") if w]
                clause = f" WHERE {' AND '.join(where)}" if where else ""
                order = " DESC" if reverse else ""
                sql[f"scan {low} {high} {reverse}"] = (
                    f"SELECT key, value FROM {t}{clause} ORDER BY key{order} LIMIT %s")
    return sql
