"""The storage contract: an ordered, byte-valued key-value store with atomic batches.

Everything llmspell keeps goes through a :class:`Store`. Keys are ``str`` compared by their
UTF-8 bytes (which is code-point order); values are ``bytes``. A backend implements the
abstract methods; the checks on arguments live here so every backend refuses bad input with
the same message.
"""

from __future__ import annotations

import abc
import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from llmspell.errors import InvalidKey, InvalidValue, ValidationError
from llmspell.storage._support import KeyRange, paged_scan
from llmspell.validation import listlike, utf8_size

#: The longest key, in UTF-8 bytes, that every backend accepts (LMDB's limit is 511).
MAX_KEY_BYTES = 500


class Put(NamedTuple):
    """Write ``value`` under ``key`` as part of a batch. (A NamedTuple: hot paths build
    several per write, and a tuple is the cheapest immutable record to build.)"""

    key: str
    value: bytes


class Delete(NamedTuple):
    """Remove ``key`` (if present) as part of a batch."""

    key: str


Op = Put | Delete

#: ``new_put((key, value))`` is ``Put(key, value)`` at the cost of a C call: the NamedTuple's
#: own ``__new__`` is a Python function, and a session create builds seven Puts.
new_put = functools.partial(tuple.__new__, Put)

#: One chunk of :meth:`Store.batch_stream`: its ops, and the conditions checked just before
#: they are applied (key -> exact bytes, ``None`` for absent).
Chunk = tuple[list[Op], dict[str, bytes | None]]


class Store(abc.ABC):
    """An ordered key-value store. Thread-safe; ``close()`` is idempotent.

    ``batch(ops, expect=...)`` is the one read-modify-write primitive: the ops are applied
    atomically, and only if every key in ``expect`` currently holds the given bytes (``None``
    meaning absent). That is what compare-and-set, counters and journals are built on, across
    threads and, for multi-process backends, across processes.
    """

    #: The URL the store was opened with.
    url: str = ""
    #: Whether several processes may open the same store at once.
    multi_process: bool = False
    #: What :meth:`batch_unchecked` takes for a Put of ``(key, value)``: ``make_put((key,
    #: value))``. A Put (:data:`new_put`) on every backend but the memory store, which takes
    #: the tuple itself (``tuple`` gives it back: ~0.3k instructions, a Put ~2k; a session
    #: create writes seven). For batch_unchecked only: every other entry point takes Puts.
    make_put: Callable[[tuple[str, bytes]], Any] = new_put

    # -- the contract -----------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or ``None``."""
        check_key(key)
        return self._get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values of those ``keys`` that exist, in one round trip where the backend can."""
        if not listlike(keys):
            raise ValidationError("keys", "must be an iterable of keys", got=keys)
        wanted = list(keys)
        for i, key in enumerate(wanted):
            check_key(key, argument=f"keys[{i}]")
        return self._get_many(wanted) if wanted else {}

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        check_key(key)
        check_value(value)
        self._put(key, value)

    def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""
        check_key(key)
        return self._delete(key)

    def scan(
        self,
        prefix: str = "",
        *,
        start_after: str | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[str, bytes]]:
        """Pairs whose key starts with ``prefix``, in key order (descending if ``reverse``).

        ``start_after`` resumes after that key (before it, when ``reverse``); ``limit`` caps
        the number of pairs. The pairs come from a consistent view only as far as the backend
        offers one; callers that need a snapshot should page with ``start_after``.
        """
        check_prefix(prefix)
        if start_after is not None:
            check_key(start_after, argument="start_after")
        if limit is not None:
            check_limit(limit)
            if limit == 0:
                return iter(())
        return self._scan(prefix, start_after, limit, reverse)

    def keys(self, prefix: str = "", *, start_after: str | None = None,
             limit: int | None = None, reverse: bool = False) -> Iterator[str]:
        """The keys of :meth:`scan`, without the values."""
        return (k for k, _ in self.scan(prefix, start_after=start_after, limit=limit,
                                        reverse=reverse))

    def count(self, prefix: str = "") -> int:
        """How many keys start with ``prefix``."""
        check_prefix(prefix)
        return self._count(prefix)

    def batch(self, ops: Iterable[Op], *, expect: Mapping[str, bytes | None] | None = None) -> bool:
        """Apply ``ops`` atomically, in order; all or none.

        With ``expect``, the batch is applied only when each named key currently holds exactly
        that value (``None``: absent); returns False, changing nothing, when one does not.
        Returns True when applied.
        """
        checked = check_ops(ops)
        conditions = check_expect(expect)
        if not checked and not conditions:
            return True
        return self._batch(checked, conditions)

    def batch_stream(self, chunks: Iterable[Chunk]) -> bool:
        """Apply a stream of ``(ops, expect)`` chunks as ONE atomic batch; all or none.

        Each chunk's ``expect`` is checked just before its ops are applied, against the store
        as the earlier chunks of the stream left it. A condition that does not hold ends the
        stream: nothing is written and False is returned (as :meth:`batch`). An exception
        from the iterator (or a wrong chunk) ends it too: nothing is written, and it
        propagates. Returns True when everything was applied.

        The chunks are pulled one at a time, so a producer that reads the store by pages
        keeps its memory bounded where the backend streams: SQLite (one ``BEGIN IMMEDIATE``
        transaction; other writers wait for it) and PostgreSQL (one transaction holding every
        write lock of the table) apply each chunk as it comes. LMDB writes each chunk into one
        write transaction too, but keeps its dirty pages in memory until the commit (up to
        about 512 MB, then it spills them). The memory and RocksDB backends stage the stream
        and apply it at the end. On those three, memory is the stream's size.

        The iterator may read this store (only read: a write from it fails or waits), but
        whether it sees the stream's earlier chunks depends on the backend (SQLite: yes; the
        others: no), so it should read only keys the stream has not written yet.
        """
        if isinstance(chunks, str | bytes | Mapping) or not isinstance(chunks, Iterable):
            raise ValidationError("chunks", "must be an iterable of (ops, expect) pairs",
                                  got=chunks)
        return self._batch_stream(_checked_chunks(chunks))

    def one_commit(self) -> AbstractContextManager[None]:
        """A context under which this thread's batches are made durable by ONE commit.

        Durability grouping, not atomicity: every batch (and put or delete) inside still
        applies on its own, in order, with its conditions (a failed condition or an error
        leaves nothing of that batch), and this thread's later reads see it; only the commit
        that makes them durable is shared, at the exit. When the block raises, what was
        applied is still committed at the exit, exactly as if each batch had committed on
        its own, so a cache updated after a successful batch stays right. A group inside a
        group joins the outer one.

        Only SQLite groups (``BEGIN IMMEDIATE`` at the entry, a savepoint per batch,
        ``COMMIT`` at the exit; this process's other threads wait for the store's lock and
        other processes for the write lock while it is open, so keep it short and never
        hold it across a network call or code you cannot bound). The other backends keep
        the default, which is no group at all: each batch commits itself, as outside one
        (docs/storage.md, "One commit for several batches").
        """
        return _NO_GROUP

    # -- the fast path: the same operations without the argument checks ---------------------

    def get_unchecked(self, key: str) -> bytes | None:
        """:meth:`get` without :func:`check_key`.

        Only for a key llmspell built itself from parts it has already checked (an id that
        matched its pattern, a scope and key checked on entry). Nothing refuses a wrong key
        here: it is looked up as it is, and either finds nothing or fails with the backend's
        own error. Never pass a key that came from a caller unchecked.
        """
        return self._get(key)

    def batch_unchecked(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        """:meth:`batch` without :func:`check_ops` and the checks of ``expect``.

        ``ops`` must be a list of :class:`Put`/:class:`Delete` whose keys pass
        :func:`check_key` and whose values are ``bytes``; ``expect`` a dict of such keys to
        ``bytes`` or ``None``. The checks cost about a third of a state write on the memory
        backend, which is why llmspell's own writes (state commits, session changes) use this
        for ops built from checked parts. A wrong op is not refused: it fails with the
        backend's own error or, worse, is stored as given. Never pass ops built from a
        caller's input without checking them first (:func:`check_ops`).
        """
        if not ops and not expect:
            return True
        return self._batch(ops, expect)

    def batch_stream_unchecked(self, chunks: Iterable[Chunk]) -> bool:
        """:meth:`batch_stream` without the checks of each chunk, on the terms of
        :meth:`batch_unchecked` (ops and conditions llmspell built from checked parts)."""
        return self._batch_stream(iter(chunks))

    def check_integrity(self) -> list[str]:
        """Damage the backend finds in its own files with its own check, one line per problem;
        empty when it finds none or has no such check (SQLite runs ``PRAGMA
        integrity_check``). ``llmspell doctor --deep`` adds, on every backend, a full scan
        that reads and decodes every record.

        Raises:
            StorageError: the check itself could not run.
        """
        return []

    def close(self) -> None:
        """Release files, connections and locks. Calling it again does nothing."""
        self._close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    # -- what a backend implements ----------------------------------------------------------

    @abc.abstractmethod
    def _get(self, key: str) -> bytes | None: ...

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        found = {}
        for key in keys:
            value = self._get(key)
            if value is not None:
                found[key] = value
        return found

    @abc.abstractmethod
    def _put(self, key: str, value: bytes) -> None: ...

    @abc.abstractmethod
    def _delete(self, key: str) -> bool: ...

    def _scan(self, prefix: str, start_after: str | None, limit: int | None,
              reverse: bool) -> Iterator[tuple[str, bytes]]:
        """Served in pages by :meth:`_fetch` (see :mod:`llmspell.storage._support`).

        A scan of a closed store fails here, at the call, not at its first pair. A store that
        cannot serve pages (a wrapper, say) overrides this instead of ``_fetch``.
        """
        self._check_open()
        return paged_scan(self._fetch, prefix, start_after, limit, reverse)

    # An optional hook, so not abstract: a store that overrides _scan never calls it.
    def _check_open(self) -> None:  # noqa: B027
        """Raise :func:`~llmspell.storage._support.raise_closed`'s error once closed. Every
        backend says how it knows; the default (for a store that overrides ``_scan``) does
        nothing."""

    def _fetch(self, rng: KeyRange, want: int,
               reverse: bool) -> tuple[list[tuple[str, bytes]], bool]:
        """Up to ``want`` pairs of ``rng`` in scan order, and whether the range may hold more
        (the :data:`~llmspell.storage._support.FetchPage` of a paged scan)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _fetch nor _scan")

    def _count(self, prefix: str) -> int:
        return sum(1 for _ in self._scan(prefix, None, None, False))

    @abc.abstractmethod
    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool: ...

    def _batch_stream(self, chunks: Iterator[Chunk]) -> bool:
        """Staged: every chunk is collected, then applied with one :meth:`_batch` (memory:
        the stream's size). A condition on a key an earlier chunk wrote is decided against
        that write here; the others join the batch's ``expect``. A backend with a
        transaction that outlives one call streams instead."""
        ops: list[Op] = []
        conditions: dict[str, bytes | None] = {}
        # What the earlier chunks wrote, key by key: built at the first condition after some
        # ops (a bulk write has conditions only in its first and last chunks), then kept up.
        staged: dict[str, bytes | None] | None = None
        for chunk_ops, expect in chunks:
            if expect:
                if staged is None:
                    staged = _net_effect(ops)
                for key, wanted in expect.items():
                    if key in staged:
                        if staged[key] != wanted:
                            return False
                    elif conditions.setdefault(key, wanted) != wanted:
                        return False  # two chunks expect different bytes of an untouched key
            if staged is not None:
                staged.update(_net_effect(chunk_ops))
            ops.extend(chunk_ops)
        if not ops and not conditions:
            return True
        return self._batch(ops, conditions)

    @abc.abstractmethod
    def _close(self) -> None: ...


#: The default :meth:`Store.one_commit`: nothing to do (reusable, as nullcontext is).
_NO_GROUP: AbstractContextManager[None] = contextlib.nullcontext()


# -- argument checks shared by every backend ----------------------------------------------------


def check_key(key: object, *, argument: str = "key") -> None:
    """Refuse a key that is not a non-empty, valid UTF-8 ``str`` of at most MAX_KEY_BYTES."""
    if key.__class__ is str and key.isascii() and 0 < len(key) <= MAX_KEY_BYTES:
        return  # the common case, decided without encoding: ASCII is one byte a character
    if not isinstance(key, str):
        raise InvalidKey(argument, "must be a str", got=key)
    if not key:
        raise InvalidKey(argument, "must not be empty", got=key)
    size = utf8_size(key, argument, error=InvalidKey)
    if size > MAX_KEY_BYTES:
        raise InvalidKey(argument, f"must be at most {MAX_KEY_BYTES} bytes in UTF-8, "
                         f"is {size} bytes", got=key)


def check_prefix(prefix: object) -> None:
    """Like :func:`check_key`, but the empty prefix (everything) is allowed."""
    if prefix == "":
        return
    check_key(prefix, argument="prefix")


def check_value(value: object, *, argument: str = "value") -> None:
    """Refuse a value that is not ``bytes``."""
    if not isinstance(value, bytes):
        raise InvalidValue(argument, "must be bytes", got=value)


def check_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValidationError("limit", "must be a non-negative int or None", got=limit)


def check_ops(ops: Iterable[Op], *, argument: str = "ops") -> list[Op]:
    """The ops as a list, each checked; a wrong op is named by its index."""
    if not listlike(ops):
        raise ValidationError(argument, "must be an iterable of Put/Delete", got=ops)
    checked: list[Op] = []
    for i, op in enumerate(ops):
        if isinstance(op, Put):
            check_key(op.key, argument=f"{argument}[{i}].key")
            check_value(op.value, argument=f"{argument}[{i}].value")
        elif isinstance(op, Delete):
            check_key(op.key, argument=f"{argument}[{i}].key")
        else:
            raise ValidationError(f"{argument}[{i}]", "must be a Put or a Delete", got=op)
        checked.append(op)
    return checked


def check_expect(expect: object, *, argument: str = "expect") -> dict[str, bytes | None]:
    """``expect`` (a mapping of key to bytes or None, or None) as a dict, each item checked."""
    if expect is None:
        return {}
    if not isinstance(expect, Mapping):
        raise ValidationError(argument, "must be a mapping of key to bytes or None", got=expect)
    conditions = dict(expect)
    for key, value in conditions.items():
        check_key(key, argument=argument)
        if value is not None:
            check_value(value, argument=f"{argument}[{key!r}]")
    return conditions


def _net_effect(ops: list[Op]) -> dict[str, bytes | None]:
    """What ``ops`` leave under each key they touch (None: deleted)."""
    return {op.key: op.value if isinstance(op, Put) else None for op in ops}


def _checked_chunks(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """The chunks of :meth:`Store.batch_stream`, each checked as it is pulled; a wrong one is
    named by its index (``chunks[3].ops[0].key``)."""
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, tuple | list) or len(chunk) != 2:
            raise ValidationError(f"chunks[{i}]", "must be an (ops, expect) pair", got=chunk)
        ops, expect = chunk
        yield (check_ops(ops, argument=f"chunks[{i}].ops"),
               check_expect(expect, argument=f"chunks[{i}].expect"))
