"""Transactions: the writes of a ``with state.transaction()`` block, committed as one batch.

Inside the block every write (save, delete, clear_scope, save_many, compare_and_set) is
buffered, across any number of scopes, and reads see the block's own writes. When the block
ends normally the writes commit in one atomic batch, each with its own change-sequence number;
when it raises, nothing is written. The manager's own methods join the block's transaction
when called inside it (in the same thread or task), so code that was not written for
transactions (a Lua function, a helper) takes part without knowing.

A nested ``transaction()`` joins the outer one: if the inner block raises, its writes are
dropped and the outer block may go on (a savepoint); nothing commits before the outer block
ends.

A transaction is atomic, not isolated: it does not lock what it reads. ``compare_and_set``
inside a transaction records the exact bytes it compared; the commit then fails (StateError,
nothing written) if another writer changed them in between.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from llmspell.errors import StateError, ValidationError
from llmspell.state.commit import Committed, Write, finish
from llmspell.state.records import decode_value, same_value
from llmspell.state.scopes import scope_prefix, store_key
from llmspell.state.versions import Version

if TYPE_CHECKING:
    from llmspell.state.manager import StateManager

#: The transactions open in this context (thread or task), innermost last.
ACTIVE: ContextVar[tuple[Transaction, ...]] = ContextVar("llmspell_state_transactions",
                                                         default=())

#: What a transaction's view of a key says when the block has not written it.
NOT_WRITTEN: Any = object()
#: ... and when the block deleted it.
DELETED: Any = object()


class Transaction:
    """The buffered writes of one transaction. Obtain it from ``StateManager.transaction()``.

    Its methods are the manager's, with the same arguments, errors and hooks; writes wait for
    the commit. ``committed`` lists what the commit wrote, once it has.
    """

    def __init__(self, manager: StateManager) -> None:
        self.manager = manager
        self.committed: list[Committed] = []
        self._writes: dict[str, Write] = {}
        self._expect: dict[str, bytes | None] = {}
        self._savepoints: list[tuple[dict[str, Write], dict[str, bytes | None]]] = []

    # -- writes ---------------------------------------------------------------------------

    def save(self, scope: str, key: str, value: Any, *,
             schema_version: Version | None = None) -> None:
        """Buffer a save (see :meth:`StateManager.save`)."""
        skey = store_key(scope, key)
        write = self.manager._prepare(scope, key, skey, value, schema_version)
        if write is not None:
            self.manager._checked(write, "buffer")
            self.buffer(write)

    def buffer(self, write: Write) -> None:
        """Add a prepared write; a later write of the same key replaces an earlier one."""
        self._writes.pop(write.skey, None)
        self._writes[write.skey] = write

    def save_many(self, items: Mapping[str, Mapping[str, Any]] | Iterable[Any]) -> int:
        """Buffer several saves (see :meth:`StateManager.save_many`)."""
        count = 0
        for scope, key, value in save_many_items(items):
            self.save(scope, key, value)
            count += 1
        return count

    def delete(self, scope: str, key: str) -> bool:
        """Buffer a delete; True if the key exists as the transaction sees it."""
        skey = store_key(scope, key)
        self.manager._in_session(scope, key, "buffer")
        if not self.exists(scope, key):
            return False
        if not self.manager._allow_delete(scope, key):
            return False
        self.buffer(Write(scope, key, skey, None))
        return True

    def clear_scope(self, scope: str) -> int:
        """Buffer the delete of every key in ``scope`` (as the transaction sees it)."""
        scope_prefix(scope)
        self.manager._in_session(scope, "", "buffer")
        keys = self.list_keys(scope)
        for key in keys:
            if self.manager._allow_delete(scope, key):
                self.buffer(Write(scope, key, store_key(scope, key), None))
        return len(keys)

    def compare_and_set(self, scope: str, key: str, expected: Any, new: Any) -> bool:
        """Buffer ``new`` if the key holds ``expected`` as the transaction sees it; the commit
        fails if another writer changes the compared bytes before it."""
        skey = store_key(scope, key)
        self.manager._in_session(scope, key, "read")
        seen = self.view(skey)
        if seen is NOT_WRITTEN:
            raw = self.manager.store.get(skey)
            if expected is None:
                if raw is not None:
                    return False
            elif raw is None or not same_value(decode_value(raw, skey), expected):
                return False
            self._expect.setdefault(skey, raw)
        elif expected is None:
            if seen is not DELETED:
                return False
        elif seen is DELETED or not same_value(seen, expected):
            return False
        write = self.manager._prepare(scope, key, skey, new, None)
        if write is None:
            return False
        self.manager._checked(write, "buffer")
        self.buffer(write)
        return True

    # -- reads ----------------------------------------------------------------------------

    def view(self, skey: str) -> Any:
        """The value the block wrote under ``skey``, DELETED, or NOT_WRITTEN."""
        write = self._writes.get(skey)
        if write is None:
            return NOT_WRITTEN
        if write.encoded is None:
            return DELETED
        return self.manager._decode_write(write)

    def load(self, scope: str, key: str, default: Any = None) -> Any:
        """Load, seeing the block's own writes (see :meth:`StateManager.load`)."""
        skey = store_key(scope, key)
        self.manager._in_session(scope, key, "read")
        return self.manager._load(scope, key, skey, default, self)

    def exists(self, scope: str, key: str) -> bool:
        """Whether the key exists, seeing the block's own writes."""
        seen = self.view(store_key(scope, key))
        self.manager._in_session(scope, key, "read")
        if seen is NOT_WRITTEN:
            return self.manager.store.get(store_key(scope, key)) is not None
        return seen is not DELETED

    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        """The keys of ``scope``, seeing the block's own writes, in key order."""
        stored = self.manager._stored_keys(scope, prefix)
        self.manager._in_session(scope, "", "read")
        start = scope_prefix(scope) + (prefix or "")
        written = {w.key: w for s, w in self._writes.items() if s.startswith(start)}
        if not written:
            return stored
        keys = {k for k in stored if k not in written}
        keys.update(k for k, w in written.items() if w.encoded is not None)
        return sorted(keys, key=lambda k: k.encode("utf-8"))

    # -- lifecycle (used by StateManager.transaction) --------------------------------------

    def begin_nested(self) -> None:
        self._savepoints.append((dict(self._writes), dict(self._expect)))

    def end_nested(self, failed: bool) -> None:
        writes, expect = self._savepoints.pop()
        if failed:
            self._writes, self._expect = writes, expect

    def commit(self) -> None:
        """Write everything buffered in one batch and tell hooks and subscribers.

        Raises:
            StateError: a value compared by ``compare_and_set`` changed; nothing was written.
        """
        if not self._writes:
            if self._expect and not self.manager._holds(self._expect):
                raise _conflict()
            return
        writes = list(self._writes.values())
        admission = self.manager._admit_writes(writes)
        done = None
        try:
            done = self.manager._commit(writes, self._expect or None, admission)
        finally:
            finish(admission, bool(done))
        if done is None:
            raise _conflict()
        self.committed = done
        self._writes = {}
        self.manager._notify(done)


def _conflict() -> StateError:
    return StateError("the transaction was not committed: a value it compared "
                      "(compare_and_set) was changed by another writer first; nothing was "
                      "written")


@contextmanager
def open_transaction(manager: StateManager, joined: Transaction | None) -> Iterator[Transaction]:
    """``StateManager.transaction()``: a new transaction, or ``joined`` (the one already open
    in this context) with a savepoint."""
    if joined is not None:
        joined.begin_nested()
        try:
            yield joined
        except BaseException:
            joined.end_nested(failed=True)
            raise
        joined.end_nested(failed=False)
        return
    tx = Transaction(manager)
    token = ACTIVE.set((*ACTIVE.get(), tx))
    try:
        yield tx
    finally:
        ACTIVE.reset(token)
    tx.commit()


def save_many_items(items: Any) -> Iterator[tuple[str, str, Any]]:
    """The ``(scope, key, value)`` triples of save_many's argument: ``{scope: {key: value}}``
    or an iterable of ``(scope, key, value)``.

    Raises:
        ValidationError: another shape (the bad item is named by its path).
    """
    if isinstance(items, Mapping):
        for scope, values in items.items():
            if not isinstance(values, Mapping):
                raise ValidationError("items", "must map each scope to a dict of key -> "
                                      "value", path=f"$.{scope}", got=values)
            for key, value in values.items():
                yield scope, key, value
        return
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise ValidationError("items", "must be {scope: {key: value}} or an iterable of "
                              "(scope, key, value)", got=items)
    for i, item in enumerate(items):
        if not isinstance(item, tuple | list) or len(item) != 3:
            raise ValidationError("items", "each item must be (scope, key, value)",
                                  path=f"$[{i}]", got=item)
        yield item[0], item[1], item[2]
