"""The SQLite backend (the default): one file, WAL, safe for several processes.

The store is one table, ``kv(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID``. Keys compare
with SQLite's BINARY collation, which is ``memcmp`` on UTF-8, i.e. code-point order. Values
are stored exactly as given, so JSON values stay readable with the ``sqlite3`` shell and JSON1
(``SELECT key, json_extract(CAST(value AS TEXT), '$.name') FROM kv``).

Values over :data:`LARGE_VALUE` bytes live in ``kv_large`` (an ordinary rowid table), with
the integer 0 in their ``kv`` row as a stub; a trigger removes the ``kv_large`` row when its
stub goes. The view ``kv_values`` shows every key with its value resolved. A WITHOUT ROWID
table keeps whole rows in its B-tree pages; a row over about 1,000 bytes (a quarter of a 4 KB
page, less SQLite's overheads) spills into overflow pages, which SQLite reads whole while
searching: with 400 MB of 512 KB values in ``kv`` one get of a 100-byte value took 3.3 ms (7
us with the values in a rowid table; docs/artifacts.md). Measured for our value sizes
(docs/storage.md, "Table layout"): WITHOUT ROWID wins below ~900 bytes (prefix scans ~10x
faster: no separate index to look rows up through), a rowid table wins above (1.5-8 KB state
values: writes ~30% and reads ~40% less CPU, the file up to 2.2x smaller). Hence the split at
900 bytes.

Durability ``normal`` is ``synchronous=NORMAL`` in WAL mode: a commit survives a crash of the
process; a power cut may lose the last commits but never corrupts the file. ``full`` is
``synchronous=FULL``: every commit is on disk when the call returns.

Checkpoints of the WAL run in a background thread, not in writes (:mod:`._checkpoint`).

Single statements run in autocommit mode. A batch runs in ``BEGIN IMMEDIATE``, which takes the
database's write lock first, so reading ``expect`` and applying the ops is atomic across
threads and processes; a ``batch_stream`` is one such transaction around all its chunks.
Other processes wait up to ``timeout`` seconds for the lock (``busy_timeout``) instead of
failing. One connection, guarded by a lock, serves all threads.

:meth:`SqliteStore.one_commit` groups the commits of several batches: ``BEGIN IMMEDIATE`` at
its entry (holding the lock), each batch inside as ``SAVEPOINT`` ... ``RELEASE`` (``ROLLBACK
TO`` when its condition fails or it raises), single statements as they are (a statement is
atomic inside a transaction too; a small batch's conditions on keys it does not write are
one check, then its insert), and one ``COMMIT`` at its exit, whatever the block raised.
Reads go through the same connection under the same lock, so they see the group's writes.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from operator import itemgetter

from llmspell.config_schema import default
from llmspell.errors import StorageError, StoreReadOnly, ValidationError
from llmspell.storage._checkpoint import NOTIFY_EVERY, SAFETY_PAGES, Checkpointer
from llmspell.storage._support import (
    Closed,
    KeyRange,
    check_durability,
    make_dir,
    prefix_end,
    raise_closed,
    take_rows,
)
from llmspell.storage.base import Chunk, Op, Put, Store

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
_GET = "SELECT value FROM kv WHERE key = ?"
#: Values larger than this live in ``kv_large`` (see the module docstring: measured).
LARGE_VALUE = 900
_SCHEMA_LARGE = ("CREATE TABLE IF NOT EXISTS kv_large (key TEXT PRIMARY KEY, "
                 "value BLOB NOT NULL)")
#: Fires on DELETE and, with recursive_triggers on, on the delete an INSERT OR REPLACE does.
_TRIGGER_LARGE = ("CREATE TRIGGER IF NOT EXISTS kv_large_gone AFTER DELETE ON kv "
                  "WHEN typeof(old.value) = 'integer' "
                  "BEGIN DELETE FROM kv_large WHERE key = old.key; END")
#: Every key with its value, stubs resolved: for reading a store with the sqlite3 shell.
_VIEW = ("CREATE VIEW IF NOT EXISTS kv_values (key, value) AS SELECT key, CASE WHEN "
         "typeof(value) = 'integer' THEN (SELECT l.value FROM kv_large AS l WHERE l.key = "
         "kv.key) ELSE value END FROM kv")
_GET_LARGE = "SELECT value FROM kv_large WHERE key = ?"


@functools.cache
def _insert_sql(table: str, rows: int) -> str:
    """``INSERT OR REPLACE`` of ``rows`` rows into ``table``. REPLACE, not an upsert (ON
    CONFLICT DO UPDATE): measured ~15% faster for new keys and changed values; the upsert
    only wins when the bytes are unchanged (SQLite skips the row). A run of the general
    path's puts upserts first (:func:`_update_sql`): there REPLACE's delete of an existing
    row runs the stub trigger."""
    return f"INSERT OR REPLACE INTO {table} (key, value) VALUES " + ",".join(["(?, ?)"] * rows)


@functools.cache
def _delete_sql(keys: int) -> str:
    """``DELETE`` of ``keys`` keys."""
    if keys == 1:
        return "DELETE FROM kv WHERE key = ?"
    return f"DELETE FROM kv WHERE key IN ({','.join('?' * keys)})"


@functools.cache
def _update_sql(rows: int) -> str:
    """An upsert of ``rows`` rows into ``kv`` that leaves a row holding a large value's stub
    (the integer 0) as it is, so fewer than ``rows`` rows change then (:func:`_apply_run`
    writes them with REPLACE instead). Replacing an existing row with REPLACE deletes it,
    which runs the stub trigger (recursive triggers are on); an update does not: measured
    under callgrind on an artifact store's batch (one existing row of eight: the session
    record), ~8k instructions less per store."""
    return ("INSERT INTO kv (key, value) VALUES " + ",".join(["(?, ?)"] * rows)
            + " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            " WHERE typeof(value) <> 'integer'")


_PUT = _insert_sql("kv", 1)
_DELETE = _delete_sql(1)
_COUNT_ALL = "SELECT count(*) FROM kv"
_COUNT_RANGE = "SELECT count(*) FROM kv WHERE key >= ? AND key < ?"
_COUNT_FROM = "SELECT count(*) FROM kv WHERE key >= ?"
_second = itemgetter(1)
#: SQLite's default limit on bound parameters is 32766; stay well under it.
_MANY_CHUNK = 500
#: The most rows (keys, conditions) one statement of a general-path batch writes or checks
#: (:func:`_apply`, :func:`_holds`): its text depends on the count and sqlite3 keeps 64
#: statements prepared, so a bulk write's full runs share one; and SQLite limits an
#: expression's depth (a chain of ANDs) to 1,000.
_RUN = 64


#: A ``kv`` row's value with its stub resolved (see the module docstring); NULL when the
#: ``kv_large`` row is missing.
_RESOLVED = ("CASE WHEN typeof(value) = 'integer' THEN (SELECT l.value FROM kv_large AS l "
             "WHERE l.key = kv.key) ELSE value END")


def _scan_sql(low: str | None, high: bool, reverse: bool) -> str:
    where = [w for w in (low and f"key {low} ?", high and "key < ?") if w]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (f"SELECT key, {_RESOLVED} FROM kv{clause} ORDER BY key{' DESC' if reverse else ''} "
            "LIMIT ?")


#: (low operator or None, has high bound, reverse) -> SQL; a few fixed strings, so sqlite3's
#: statement cache keeps every one of them prepared.
_SCANS = {(low, high, rev): _scan_sql(low, high, rev)
          for low in (None, ">=", ">") for high in (False, True) for rev in (False, True)}


class SqliteStore(Store):
    """A store in one SQLite file. ``timeout``: seconds to wait for another writer."""

    multi_process = True

    def __init__(self, path: str | os.PathLike[str], *,
                 durability: str = default("storage.durability"),
                 timeout: float = 30.0, url: str = "") -> None:
        check_durability(durability)
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ValidationError("path", "must be a non-empty file path", got=path)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise ValidationError("timeout", "must be a non-negative number of seconds",
                                  got=timeout)
        self.path = os.fspath(path)
        self.url = url or f"sqlite:///{self.path}"
        self.durability = durability
        # Re-entrant: the iterator of a batch_stream (which holds it) reads through this
        # same connection, inside the stream's transaction.
        self._lock = threading.RLock()
        make_dir(os.path.dirname(os.path.abspath(self.path)), f"sqlite store {self.path}")
        if os.path.isdir(self.path):
            raise StorageError(f"sqlite store {self.path}: cannot open: it is a directory; "
                               f"name a file in it, e.g. sqlite:///{self.path}/llmspell.db")
        #: Why the store was opened read-only (None: it is writable): its file or directory
        #: cannot be written (permissions, an immutable attribute, a read-only mount).
        self.read_only: str | None = None
        try:
            db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                 check_same_thread=False, cached_statements=64)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite store {self.path}: cannot open: {exc}") from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            _set_up(db, durability, timeout, self.path)
        except BaseException as exc:
            db.close()
            if not isinstance(exc, sqlite3.Error):
                raise
            db = _open_read_only(self.path, timeout, exc)
            self.read_only = f"it could not be opened for writing: {exc}"
            logging.getLogger("llmspell.storage").warning(
                "sqlite store %s is read-only (%s): reading works, writing will fail",
                self.path, self.read_only)
        self._db: sqlite3.Connection = db
        self._checkpointer = Checkpointer(
            self.path, timeout, self._lock if durability == "full" else None)
        weakref.finalize(self, self._checkpointer.stop)  # a store dropped unclosed
        self._commits = 0  # since the checkpointer was last woken
        # The open commit group (one_commit): how deep, and whether it began a transaction.
        # Only the thread holding the lock reads or changes them.
        self._depth = 0
        self._grouped = False
        self._group = _Group(self)
        # One cursor for the single-statement calls (saves creating one per call); it is only
        # used under the lock, and always read to the end before the lock is released.
        self._cursor: sqlite3.Cursor = db.cursor()

    def _failed(self, doing: str, exc: sqlite3.Error) -> StorageError:
        if self.read_only or "readonly" in str(exc):
            return self._refused(doing, self.read_only or str(exc))
        return StorageError(f"sqlite store {self.path}: could not {doing}: {exc}")

    def _refused(self, doing: str, why: str) -> StoreReadOnly:
        folder = os.path.dirname(os.path.abspath(self.path))
        return StoreReadOnly(
            f"sqlite store {self.path} is read-only ({why}): could not {doing}. Reading "
            f"works; to write, make the file and {folder} writable (permissions, "
            "'chattr -i', a read-write mount), or copy the store to a writable place "
            "(docs/your-data.md)")

    def _get(self, key: str) -> bytes | None:
        # acquire/release, not ``with``: ~1k instructions less per read (callgrind), a fifth
        # of what a read adds to the raw SELECT
        lock = self._lock
        lock.acquire()
        try:
            for (value,) in self._cursor.execute(_GET, (key,)):
                # bytes, unless a large value's stub (the integer 0): then its kv_large row
                return value if value.__class__ is bytes else _value(self._db, key, value)
            return None
        except sqlite3.Error as exc:
            raise self._failed(f"get {key!r}", exc) from exc
        finally:
            lock.release()

    #: The read itself: no key check (see Store.get_unchecked), and no extra call.
    get_unchecked = _get

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            try:
                for i in range(0, len(unique), _MANY_CHUNK):
                    chunk = unique[i:i + _MANY_CHUNK]
                    sql = f"SELECT key, value FROM kv WHERE key IN ({','.join('?' * len(chunk))})"
                    found.update((key, _value(self._db, key, value))
                                 for key, value in self._db.execute(sql, chunk).fetchall())
            except sqlite3.Error as exc:
                raise self._failed(f"get {len(unique)} keys", exc) from exc
        return found

    def _put(self, key: str, value: bytes) -> None:
        if self.read_only:
            raise self._refused(f"put {key!r}", self.read_only)
        if len(value) > LARGE_VALUE:  # two rows: keep them together
            self._batch([Put(key, value)], {})
            return
        with self._lock:
            try:
                self._cursor.execute(_PUT, (key, bytearray(value)))  # see _blob
            except sqlite3.Error as exc:
                raise self._failed(f"put {key!r}", exc) from exc
            self._committed()

    def _delete(self, key: str) -> bool:
        if self.read_only:
            raise self._refused(f"delete {key!r}", self.read_only)
        with self._lock:
            try:
                found = self._cursor.execute(_DELETE, (key,)).rowcount > 0
            except sqlite3.Error as exc:
                raise self._failed(f"delete {key!r}", exc) from exc
            if found:
                self._committed()
            return found

    def _committed(self) -> None:
        """Count a commit; wake the checkpointer every NOTIFY_EVERY (under the lock). In a
        commit group the group's exit is the commit."""
        if self._grouped:
            return
        self._commits += 1
        if self._commits >= NOTIFY_EVERY:
            self._commits = 0
            self._checkpointer.notify()

    def check_integrity(self) -> list[str]:
        """``PRAGMA integrity_check``: every problem SQLite reports (page, index or record
        damage), or an empty list when it says ``ok``."""
        self._check_open()
        with self._lock:
            try:
                rows = self._db.execute("PRAGMA integrity_check").fetchall()
            except sqlite3.DatabaseError as exc:  # damage bad enough to stop the check
                return [f"PRAGMA integrity_check failed: {exc}"]
        problems = [line for (text,) in rows for line in str(text).splitlines()
                    if not line.startswith("*** in database")]
        return [] if problems == ["ok"] else problems

    def _check_open(self) -> None:
        if isinstance(self._db, Closed):
            raise_closed()

    def _fetch(self, rng: KeyRange, want: int,
               reverse: bool) -> tuple[list[tuple[str, bytes]], bool]:
        low = None if rng.low is None else (">=" if rng.low_inclusive else ">")
        params: list[object] = [b for b in (rng.low, rng.high) if b is not None]
        params.append(want)
        with self._lock:
            try:
                cursor = self._db.execute(_SCANS[(low, rng.high is not None, reverse)], params)
                try:
                    rows, more = take_rows(cursor, want)
                except TypeError:  # len(None) while paging: a stub without its kv_large row
                    raise sqlite3.DatabaseError("a value is missing from kv_large") from None
                finally:
                    cursor.close()
                if None in map(_second, rows):
                    raise sqlite3.DatabaseError("a value is missing from kv_large")
                return rows, more
            except sqlite3.Error as exc:
                raise self._failed("scan", exc) from exc

    def _count(self, prefix: str) -> int:
        end = prefix_end(prefix) if prefix else None
        with self._lock:
            try:
                if not prefix:
                    row = self._db.execute(_COUNT_ALL).fetchone()
                elif end is None:
                    row = self._db.execute(_COUNT_FROM, (prefix,)).fetchone()
                else:
                    row = self._db.execute(_COUNT_RANGE, (prefix, end)).fetchone()
            except sqlite3.Error as exc:
                raise self._failed(f"count {prefix!r}", exc) from exc
        return int(row[0])

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        one = None if self.read_only else _one_statement(ops, expect)
        if one is not None:
            applied = self._batch_in_one(len(ops), *one)
            if applied is not None:
                return applied
        return self._write(((ops, expect),), len(ops))

    def _batch_stream(self, chunks: Iterator[Chunk]) -> bool:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT`` around every chunk, each applied as it is
        pulled (SQLite spills a large transaction's pages to the WAL, so memory stays that of
        one chunk). The lock is held throughout: this process's other threads wait for it,
        other processes' writers for the database's write lock (``busy_timeout``). The
        iterator's reads run on this connection, inside the transaction: they see the
        earlier chunks."""
        return self._write(chunks, None)

    def _write(self, chunks: Iterable[Chunk], size: int | None) -> bool:
        """Apply ``chunks`` in one ``BEGIN IMMEDIATE`` transaction, each chunk's ``expect``
        checked before its ops; False (nothing written) when one does not hold. ``size``:
        the ops of a single batch (None: a stream), for the messages."""
        if self.read_only:
            raise self._refused(_what(size, 0), self.read_only)
        with self._lock:
            db = self._db
            cursor = self._cursor
            grouped = self._grouped
            try:
                cursor.execute("SAVEPOINT batch" if grouped else "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failed("start a batch" if size is not None
                                   else "start a stream of batches", exc) from exc
            applied = 0
            try:
                for ops, expect in chunks:
                    if not _apply(cursor, ops, expect):
                        _undo(db, grouped)
                        return False
                    applied += len(ops)
                cursor.execute("RELEASE batch" if grouped else "COMMIT")
                self._committed()
            except BaseException as exc:
                if db.in_transaction:
                    _undo(db, grouped)
                elif grouped:  # SQLite rolled the whole transaction back (a full disk, I/O)
                    raise StorageError(
                        f"sqlite store {self.path}: could not {_what(size, applied)}: {exc}; "
                        "SQLite rolled back the whole commit group, with the batches "
                        "applied in it before this one") from exc
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(_what(size, applied), exc) from exc
                raise
        return True

    def one_commit(self) -> AbstractContextManager[None]:
        """See :meth:`Store.one_commit`: here ``BEGIN IMMEDIATE`` at the entry, a savepoint
        per batch, ``COMMIT`` at the exit (the module docstring). The entry takes the store's
        lock and the exit releases it: use it on one thread, as a ``with`` block."""
        return self._group

    def _enter_group(self) -> None:
        self._lock.acquire()
        try:
            if self._depth == 0 and not self.read_only:  # read-only: writes refuse anyway
                try:
                    self._cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise self._failed("start a commit group", exc) from exc
                self._grouped = True
            self._depth += 1
        except BaseException:
            self._lock.release()
            raise

    def _exit_group(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._grouped:
                self._grouped = False
                db = self._db
                if db.in_transaction:
                    try:
                        self._cursor.execute("COMMIT")
                    except sqlite3.Error as exc:
                        if db.in_transaction:
                            db.execute("ROLLBACK")
                        raise self._failed("commit a group of batches (none of them is "
                                           "kept)", exc) from exc
                    self._committed()
        finally:
            self._lock.release()

    def _batch_in_one(self, size: int, sql: str, params: list[object],
                      guarded: tuple[int, int] | None) -> bool | None:
        """A small batch as ONE autocommit statement (see :func:`_one_statement`): SQLite runs
        a statement as its own transaction, taking the write lock before it reads anything,
        so the check and the writes are as atomic as in ``BEGIN IMMEDIATE`` and a failure
        leaves nothing. Whether the batch was applied (every row inserted), or None when
        an upsert refused a row and the general path must decide (nothing was written).

        In a commit group, whose transaction holds the write lock already, a guarded insert
        runs as its check (:func:`_check_sql`) and then a plain insert: as atomic there, and
        the insert, reading no table, copies no rows to a temporary one (measured under
        callgrind, a one-row insert on three conditions in a group: 102k -> 87k). A check
        that says no returns None too: the general path decides. ``guarded``: a guarded
        insert's conditions on present and on absent keys (None: an upsert)."""
        with self._lock:
            cursor = self._cursor
            try:
                if guarded is not None and self._grouped:
                    rows = 2 * size
                    present, absent = guarded
                    for (held,) in cursor.execute(_check_sql(present, 0, absent),
                                                  params[rows:]):
                        if not held:
                            return None
                    sql, params = _insert_sql("kv", size), params[:rows]
                applied = cursor.execute(sql, params).rowcount >= size
            except sqlite3.IntegrityError:  # see _upsert_sql
                return None
            except sqlite3.Error as exc:
                raise self._failed(f"apply a batch of {size} ops", exc) from exc
            if applied:
                self._committed()
        return applied

    def _close(self) -> None:
        self._checkpointer.stop()  # first: the last connection to close checkpoints the rest
        with self._lock:
            db, self._db = self._db, Closed()  # type: ignore[assignment]
            self._cursor = Closed()  # type: ignore[assignment]
            if not isinstance(db, Closed):
                if self._grouped and db.in_transaction:  # closed inside its commit group
                    self._grouped = False
                    db.execute("COMMIT")
                db.close()


class _Group:
    """The context manager :meth:`SqliteStore.one_commit` returns (one per store: its state
    is the store's, so entering it again nests)."""

    __slots__ = ("_store",)

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __enter__(self) -> None:
        self._store._enter_group()

    def __exit__(self, *exc: object) -> None:
        self._store._exit_group()


def _undo(db: sqlite3.Connection, grouped: bool) -> None:
    """Undo the batch :meth:`SqliteStore._write` began: its savepoint in a commit group
    (the group's earlier batches stay), else its transaction."""
    if grouped:
        db.execute("ROLLBACK TO batch")
        db.execute("RELEASE batch")
    else:
        db.execute("ROLLBACK")


def _what(size: int | None, applied: int) -> str:
    """What :meth:`SqliteStore._write` was doing, for its errors."""
    if size is not None:
        return f"apply a batch of {size} ops"
    return f"apply a stream of batches (after {applied} ops)"


def _open_read_only(path: str, timeout: float, cause: sqlite3.Error) -> sqlite3.Connection:
    """A read-only connection to the existing store ``path`` that could not be set up for
    writing (``cause``): ``mode=ro`` first; then, when SQLite cannot even make the WAL index
    beside it (an unwritable directory), ``immutable=1``, which reads the file as it is and
    does not see another process's later writes. StorageError (naming ``cause``) when the
    file is missing or unreadable too."""
    if not os.path.isfile(path):
        raise StorageError(f"sqlite store {path}: cannot set up: {cause}") from cause
    base = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    for uri in (base, base + "&immutable=1"):
        db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                             check_same_thread=False, cached_statements=64)
        try:
            db.execute("SELECT 1 FROM kv LIMIT 1").fetchall()
        except sqlite3.Error:
            db.close()
            continue
        return db
    raise StorageError(f"sqlite store {path}: cannot set up: {cause}") from cause


def _set_up(db: sqlite3.Connection, durability: str, timeout: float, path: str) -> None:
    """WAL, the sync level and the table. Switching a new file to WAL takes an exclusive lock
    and SQLite does not wait for it (busy_timeout does not apply), so processes opening a new
    store at the same moment retry here, for up to ``timeout`` seconds, instead of failing."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    if mode.lower() != "wal":
        raise StorageError(f"sqlite store {path}: cannot use WAL journal mode (got {mode!r}); "
                           "is the file on a network filesystem?")
    db.execute(f"PRAGMA synchronous = {'FULL' if durability == 'full' else 'NORMAL'}")
    db.execute("PRAGMA recursive_triggers = ON")
    db.execute(f"PRAGMA wal_autocheckpoint = {SAFETY_PAGES}")  # storage/_checkpoint.py
    db.execute(_SCHEMA)
    db.execute(_SCHEMA_LARGE)
    db.execute(_TRIGGER_LARGE)
    db.execute(_VIEW)


def _value(db: sqlite3.Connection, key: str, value: bytes | int) -> bytes:
    """The value of a ``kv`` row: itself, or for a stub its ``kv_large`` row."""
    if type(value) is not int:
        return value  # type: ignore[return-value]
    row = db.execute(_GET_LARGE, (key,)).fetchone()
    if row is None:
        raise sqlite3.DatabaseError(f"key {key!r}: its value is missing from kv_large")
    return bytes(row[0])


def _holds(cursor: sqlite3.Cursor, expect: dict[str, bytes | None]) -> bool:
    """Whether every key of ``expect`` holds exactly that value (None: absent), compared by
    SQLite itself in one statement per :data:`_RUN` conditions (:func:`_check_sql`), so no
    value is copied out. SQLite's answer, when yes, is :func:`_compare`'s (each term equal
    implies the bytes equal); when no, :func:`_compare` gives the answer, or the error for a
    large value's stub without its ``kv_large`` row (which SQL sees as a mismatch).
    Measured under callgrind on an artifact store (six conditions): 21k instructions less
    per store (803k -> 782k) than reading the rows with ``SELECT ... IN`` and comparing
    them here."""
    items = list(expect.items())
    for i in range(0, len(items), _RUN):
        counts, params = _conditions(items[i:i + _RUN])
        for (held,) in cursor.execute(_check_sql(*counts), params):
            if not held:
                return _compare(cursor, expect)
    return True


def _conditions(items: Iterable[tuple[str, bytes | None]],
                ) -> tuple[tuple[int, int, int], list[object]]:
    """The counts of :func:`_check_sql` (small, large, absent) and its parameters for at
    most :data:`_RUN` conditions."""
    absent: list[object] = []
    small: list[object] = []
    large: list[object] = []
    for key, wanted in items:
        if wanted is None:
            absent.append(key)  # no None bound: see _blob (4 per artifact store)
        elif len(wanted) > LARGE_VALUE:
            large += (key, _large_param(wanted))
        else:
            small += (key, bytearray(wanted))
    return (len(small) // 2, len(large) // 2, len(absent)), small + large + absent


#: A condition on a key holding the bytes bound (NULL: absent), and on a key having no row
#: (``value`` is NOT NULL: NULL is no row); :func:`_check_sql` and :func:`_guarded_sql`.
_HOLDS = "(SELECT value FROM kv WHERE key = ?) IS ?"
_ABSENT = "(SELECT value FROM kv WHERE key = ?) IS NULL"


@functools.cache
def _check_sql(small: int, large: int, absent: int = 0) -> str:
    """One row of one column, 1 when each of ``small`` keys holds its value as bound (NULL:
    absent; a large value's stub, the integer 0, never equals bytes), each of ``large``
    keys the bytes of its large value (its stub resolved) and each of ``absent`` keys has no
    row (``value`` is NOT NULL: NULL is no row), in that order of parameters."""
    return "SELECT " + _terms(small, large, absent)


def _terms(small: int, large: int, absent: int) -> str:
    """The conditions of :func:`_check_sql`, joined by ``AND``."""
    return " AND ".join(
        [_HOLDS] * small + [f"(SELECT {_RESOLVED} FROM kv WHERE key = ?) IS ?"] * large
        + [_ABSENT] * absent)


@functools.cache
def _guarded_delete_sql(small: int, large: int, absent: int) -> str:
    """``DELETE`` of one key only if the conditions of :func:`_check_sql` hold (its
    parameters: the key, then theirs); :func:`_apply`."""
    return f"DELETE FROM kv WHERE key = ? AND {_terms(small, large, absent)}"


def _compare(cursor: sqlite3.Cursor, expect: dict[str, bytes | None]) -> bool:
    """:func:`_holds`, read and compared here: the rows of ``expect`` read with ``SELECT ...
    IN``, a stub's value from ``kv_large`` (a missing one raises)."""
    db = cursor.connection
    found: dict[str, bytes] = {}
    names = list(expect)
    for i in range(0, len(names), _MANY_CHUNK):
        chunk = names[i:i + _MANY_CHUNK]
        sql = f"SELECT key, value FROM kv WHERE key IN ({','.join('?' * len(chunk))})"
        found.update(db.execute(sql, chunk).fetchall())
    for key, wanted in expect.items():
        have = found.get(key)
        if have is not None:
            have = _value(db, key, have)
        if have != wanted:
            return False
    return True


# _blob: small values are bound as ``bytearray``, not ``bytes``. sqlite3 (CPython 3.11) binds
# str, int, float and bytearray as they are, but looks up an adapter for anything else,
# bytes and None included: a registry miss and an AttributeError raised and cleared inside
# ``_PyObject_LookupAttr`` (~0.25 us per parameter; a state write binds four, ~5% of its
# instructions under callgrind; ~3.3k instructions each, its message formatted). Copying
# 100-900 bytes costs ~0.07 us; SQLite stores the same BLOB and reads give bytes back. A
# condition on an absent key binds no None (:func:`_check_sql`), and a large value up to
# :data:`_COPY_MAX` bytes is copied too (:func:`_large_param`).

#: Large values up to this size are bound as a copy (a bytearray): the copy costs fewer
#: instructions than the adapter lookup a bytes parameter takes (~3.3k: a 1 KB blob's data
#: record, one per artifact store of new content); larger ones are bound as they are.
_COPY_MAX = 16 * 1024


def _large_param(value: bytes) -> object:
    """``value`` as a parameter: a bytearray copy up to :data:`_COPY_MAX` bytes (see _blob)."""
    return bytearray(value) if len(value) <= _COPY_MAX else value


#: The largest batch :func:`_one_statement` takes: rows, and keys with conditions.
_ONE_ROWS = 8
_ONE_CONDITIONS = 4


def _one_statement(
        ops: list[Op], expect: dict[str, bytes | None],
) -> tuple[str, list[object], tuple[int, int] | None] | None:
    """The statement and parameters running a batch as ONE statement, and for a guarded
    insert (its parameters the rows, then the conditions on present keys, then the absent
    keys) how many conditions of each kind (None: an upsert), for a batch of 1 to
    _ONE_ROWS puts of distinct keys, every value (and every expected value) small enough for
    ``kv`` itself (:data:`LARGE_VALUE`), at most _ONE_CONDITIONS conditions; else None (the
    general ``BEGIN IMMEDIATE`` path). A state write is one (its record, its change-log entry
    and the sequence, on the sequence's condition): measured, the statement saves the BEGIN,
    SELECT and COMMIT round trips (docs/storage.md, "What a small batch costs").

    When every condition is on a key the batch puts (a state write's), the statement is an
    upsert that checks them as it writes (:func:`_upsert_sql`), else a conditional insert
    (:func:`_guarded_sql`). A condition on an absent key binds no None (see _blob): the SQL
    says absent."""
    if not 0 < len(ops) <= _ONE_ROWS or len(expect) > _ONE_CONDITIONS:
        return None
    rows: list[object] = []
    for op in ops:
        if op.__class__ is not Put or len(op[1]) > LARGE_VALUE:
            return None
        rows.append(op[0])
        rows.append(bytearray(op[1]))  # see _blob
    keys = rows[::2]
    if len(set(keys)) != len(ops):
        return None  # the same key twice: the general path applies them in order
    markers: list[object] = []
    checks: list[object] = []
    absent: list[object] = []
    for key, wanted in expect.items():
        if wanted is None:
            absent.append(key)
        elif len(wanted) > LARGE_VALUE:
            return None  # a large value is a stub in kv: compare it the general way
        else:
            markers.append(key)
            checks.append(key)
            checks.append(bytearray(wanted))
    if all(key in keys for key in expect):
        return (_upsert_sql(len(markers), len(ops), len(absent)),
                markers + rows + checks + absent, None)
    return (_guarded_sql(len(ops), len(markers), len(absent)), rows + checks + absent,
            (len(markers), len(absent)))


@functools.cache
def _upsert_sql(markers: int, rows: int, absent: int) -> str:
    """An upsert of ``rows`` rows whose conditions are on keys it puts (``markers`` keys
    expected to hold bytes, ``absent`` keys expected absent), checked as each row is
    written: a row whose key holds other bytes than expected, or is there at all when
    expected absent, is updated to NULL, which the ``NOT NULL`` column refuses, so SQLite
    aborts the statement and undoes its rows (IntegrityError:
    :meth:`SqliteStore._batch_in_one` then asks the general path, which says which
    condition failed, if any). A key expected to hold bytes gets a marker row first,
    the integer 0, kept when the key is there and inserted when it is absent, where the real
    row then finds an integer; an integer in ``kv`` (a large value's stub too, whose
    ``kv_large`` row only the general path's REPLACE removes) aborts the same way.

    Unlike a condition read by a subquery (:func:`_guarded_sql`), nothing here reads ``kv``
    before the insert, so SQLite need not first copy the rows into a temporary table:
    measured under callgrind, a state write's statement takes ~52k instructions instead of
    ~81k (docs/storage.md). A few fixed strings: sqlite3's statement cache keeps them
    prepared."""
    whens = ["WHEN typeof(value) = 'integer' THEN NULL"]
    whens += ["WHEN excluded.key = ? AND value IS NOT ? THEN NULL"] * markers
    whens += ["WHEN excluded.key = ? THEN NULL"] * absent  # a conflict: the key is there
    if markers:
        whens.append("WHEN typeof(excluded.value) = 'integer' THEN value")
    return ("INSERT INTO kv (key, value) VALUES "
            + ",".join(["(?, 0)"] * markers + ["(?, ?)"] * rows)
            + " ON CONFLICT (key) DO UPDATE SET value = CASE " + " ".join(whens)
            + " ELSE excluded.value END")


@functools.cache
def _guarded_sql(rows: int, present: int, absent: int) -> str:
    """``INSERT OR REPLACE`` of ``rows`` rows, only if each of ``present`` keys holds its
    value (``IS``; a large value's stub, the integer 0, never matches bytes) and each of
    ``absent`` keys has no row (``value`` is NOT NULL: NULL is no row). There is at least
    one condition: a batch with none is an upsert (:func:`_one_statement`). A few fixed
    strings: sqlite3's statement cache keeps them prepared."""
    return ("INSERT OR REPLACE INTO kv (key, value) SELECT column1, column2 FROM (VALUES "
            + ",".join(["(?, ?)"] * rows) + ") WHERE " + " AND ".join(
                [_HOLDS] * present + [_ABSENT] * absent))


def _apply(cursor: sqlite3.Cursor, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
    """Check ``expect`` (False when it does not hold: nothing applied), then run ``ops`` as
    if one by one, in order, in few statements. They are cut into runs in which no key comes
    twice (a key the run already has, or :data:`_RUN` keys, starts the next), so the ops of
    a run may be applied in any order: each run is one ``DELETE`` of its deletes, one upsert
    of its puts into ``kv`` (a large value as its stub; when a key held a stub, an ``INSERT
    OR REPLACE`` of them, which removes the old ``kv_large`` row through the trigger:
    :func:`_update_sql`) and one ``INSERT OR REPLACE`` of its large values into
    ``kv_large``, in that order. ``executemany`` binds and steps its statement once per
    row: measured under callgrind on an artifact store (nine ops, three runs of
    ``executemany`` before, through ``Connection.execute``), 879k -> 803k instructions per
    store.

    When the first run deletes one key, its ``DELETE`` carries the conditions (up to
    :data:`_RUN`): a row deleted proves they held, in one statement fewer than the check
    and the delete (a session record's rewrite moves its updated-index key so: an
    artifact store's batch); no row deleted leaves it to :func:`_holds` (the key was
    absent, or a condition failed). Measured under callgrind: an artifact store 706k ->
    698k instructions, an agent call in a SQLite session 1,212k -> 1,204k."""
    deletes: list[str] = []
    rows: list[object] = []
    large: list[object] = []
    seen: set[str] = set()
    first = True
    for op in ops:
        key = op[0]
        if key in seen or len(seen) == _RUN:
            if first and not _first_run(cursor, deletes, expect):
                return False
            _apply_run(cursor, deletes if not first else [], rows, large)
            deletes, rows, large, seen, first = [], [], [], set(), False
        seen.add(key)
        if isinstance(op, Put):
            value = op[1]
            if len(value) > LARGE_VALUE:
                rows += (key, 0)
                large += (key, _large_param(value))
            else:
                rows += (key, bytearray(value))  # see _blob
        else:
            deletes.append(key)
    if first and not _first_run(cursor, deletes, expect):
        return False
    _apply_run(cursor, deletes if not first else [], rows, large)
    return True


def _first_run(cursor: sqlite3.Cursor, deletes: list[str],
               expect: dict[str, bytes | None]) -> bool:
    """Check ``expect`` and apply the first run's ``deletes`` (see :func:`_apply`);
    whether the conditions held."""
    if expect:
        if len(deletes) == 1 and len(expect) <= _RUN:
            counts, params = _conditions(expect.items())
            params.insert(0, deletes[0])
            return (cursor.execute(_guarded_delete_sql(*counts), params).rowcount > 0
                    or _holds(cursor, expect))
        if not _holds(cursor, expect):
            return False
    if deletes:
        cursor.execute(_delete_sql(len(deletes)), deletes)
    return True


def _apply_run(cursor: sqlite3.Cursor, deletes: list[str], rows: list[object],
               large: list[object]) -> None:
    """One run of :func:`_apply`: its deletes, its ``kv`` rows, its ``kv_large`` rows."""
    if deletes:
        cursor.execute(_delete_sql(len(deletes)), deletes)
    if rows:
        count = len(rows) // 2
        if cursor.execute(_update_sql(count), rows).rowcount < count:
            # a key held a large value's stub: REPLACE, whose delete trigger drops its
            # kv_large row (the run's other rows are written again, to the same bytes)
            cursor.execute(_insert_sql("kv", count), rows)
    if large:
        cursor.execute(_insert_sql("kv_large", len(large) // 2), large)
