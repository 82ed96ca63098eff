"""StateManager: scoped values that survive restarts, on any store.

::

    state = runtime.state
    state.save("agent:gpt-4", "history", messages)
    history = state.load("agent:gpt-4", "history", [])
    with state.transaction():
        state.save("workflow:w1", "step", 3)
        state.delete("global", "draft")
    state.compare_and_set("global", "counter", 41, 42)

Each operation is one atomic batch (:mod:`llmspell.state.commit`); scopes and keys follow
:mod:`llmspell.state.scopes`, records :mod:`llmspell.state.records`. Operations fire the
``state:*`` hooks (nothing is fired, or built, at a point where no hook is registered) and
publish ``state.changed`` / ``state.deleted`` events with secrets redacted.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any

from llmspell.config_schema import default
from llmspell.errors import ValidationError
from llmspell.protocols import EventPublisher, HookPoints
from llmspell.redact import Redactor
from llmspell.state import commit as _commit
from llmspell.state.commit import Admission, Committed, Contributor, Write, finish
from llmspell.state.records import (
    DEFAULT_SCHEMA_VERSION,
    Record,
    check_size,
    check_version,
    decode_encoded_value,
    decode_record,
    decode_value,
    encode_value,
    same_value,
)
from llmspell.state.schemas import Schemas
from llmspell.state.scopes import (
    _KEYS,
    STATE_PREFIX,
    after_scope,
    check_prefix,
    scope_prefix,
    split_store_key,
    store_key,
)
from llmspell.state.selection import record_version
from llmspell.state.signals import AFTER_READ, BEFORE_READ, BEFORE_WRITE, DELETE, SKIPPED, Signals
from llmspell.state.transaction import (
    ACTIVE,
    DELETED,
    NOT_WRITTEN,
    Transaction,
    open_transaction,
)
from llmspell.state.versions import Version
from llmspell.storage.base import Store
from llmspell.validation import check_globs

#: ``check(session_id, access, ((scope, key, size), ...))``: raises to refuse; for a write,
#: may return the admission whose count joins the write's batch.
SessionCheck = Callable[[str, str, tuple[tuple[str, str, int], ...]], "Admission | None"]
SESSION_SCOPE = "session:"
READ, WRITE = "read", "write"


class StateManager:
    """Scoped state on a store. Thread-safe; build it from a Runtime (``runtime.state``).

    Args:
        store: where the values live.
        max_value_bytes: the largest encoded value one key may hold.
        redact_on_write: replace secrets in values by ``[REDACTED]`` before storing them.
        redactor: finds secrets (default: the built-in patterns).
        hooks: a hook registry (``HookRegistry``) for the ``state:*`` points, or None.
        events: an event bus (``EventBus``) for ``state.changed`` / ``state.deleted``, or None.
        shared_sequence: force the sequence strategy (True: compare-and-set on
            ``chg~seq``; False: an in-process counter); None picks by
            ``store.multi_process``. For benchmarks.
    """

    def __init__(self, store: Store, *, max_value_bytes: int = default("state.max_value_bytes"),
                 redact_on_write: bool = default("state.redact_on_write"),
                 redactor: Redactor | None = None,
                 hooks: HookPoints | None = None, events: EventPublisher | None = None,
                 shared_sequence: bool | None = None) -> None:
        if not isinstance(store, Store):
            raise ValidationError("store", "must be a Store", got=store)
        if isinstance(max_value_bytes, bool) or not isinstance(max_value_bytes, int) \
                or max_value_bytes < 1:
            raise ValidationError("max_value_bytes", "must be an int >= 1", got=max_value_bytes)
        self.store = store
        self.max_value_bytes = max_value_bytes
        self.redact_on_write = bool(redact_on_write)
        self.redactor = redactor or Redactor()
        self._hooks = hooks
        self._signals = Signals(hooks, events, self.redactor)
        self._sequence = _commit.sequence_for(store, shared=shared_sequence)
        self._contributors: tuple[Contributor, ...] = ()
        # Each contributor's ``wants(scope)`` (None: every write); a single save no contributor
        # wants takes the hot path below.
        self._wants: dict[Contributor, Callable[[str], bool] | None] = {}
        self._gates: tuple[Callable[[str], bool], ...] | None = None
        self._schemas = Schemas()
        self._schemas.load(store)
        self._session_var: ContextVar[str | None] | None = None
        self._session_check: SessionCheck = _no_check

    @classmethod
    def from_config(cls, store: Store, config: Any, *, hooks: HookPoints | None = None,
                    events: EventPublisher | None = None) -> StateManager:
        """A manager configured by ``[state]`` (a :class:`~llmspell.config.StateConfig`)."""
        return cls(store, max_value_bytes=config.max_value_bytes,
                   redact_on_write=config.redact_on_write,
                   redactor=Redactor(config.redact_patterns), hooks=hooks, events=events)

    # -- writes ---------------------------------------------------------------------------

    def save(self, scope: str, key: str, value: Any, *,
             schema_version: Version | None = None) -> int | None:
        """Store ``value`` under ``key`` in ``scope``, replacing what was there.

        ``schema_version``: an int >= 1 or ``"MAJOR.MINOR.PATCH"``; default: the scope's
        current schema (:mod:`llmspell.state.schemas`).

        ``value``: None, bool, int (64-bit), finite float, str, bytes, lists and dicts with str
        keys of those. Returns the change's sequence number (None inside a transaction, or
        when a ``state:before_write`` hook skipped the write).

        Raises:
            InvalidScope, InvalidKey: a bad scope or key (the rule is named).
            InvalidValue, CyclicValue, ValueTooLarge: a value that cannot be stored (the path
                inside the value, or the limit, is named).
            HookCancelled: a ``state:before_write`` hook cancelled; nothing was written.
        """
        try:
            skey = _KEYS[scope][key]
        except (KeyError, TypeError):
            skey = store_key(scope, key)
        if ACTIVE.get():
            tx = self._tx()
            if tx is not None:
                tx.save(scope, key, value, schema_version=schema_version)
                return None
        hooks = self._hooks
        var = self._session_var
        if schema_version is None and (not self._contributors or self._unwanted(scope)) \
                and not self.redact_on_write and (var is None or var.get() is None):
            # The hot path: what _prepare and commit_put do, without their objects unless a
            # hook, a subscriber or the debug log wants them.
            if hooks is not None and hooks.has(BEFORE_WRITE):
                value = self._signals.before_write(scope, key, value)
                if value is SKIPPED:
                    return None
            encoded = encode_value(value, max_bytes=self.max_value_bytes, scope=scope,
                                   key=key)
            if len(encoded.data) > self.max_value_bytes:
                check_size(encoded, self.max_value_bytes, scope, key)
            schemas = self._schemas
            version = schemas.version_for(scope, key) if schemas.active \
                else DEFAULT_SCHEMA_VERSION
            seq, created, updated = _commit.put_one(self.store, self._sequence, skey, scope,
                                                    key, encoded, version)
            signals = self._signals
            if signals.wants_put():
                signals.committed([Committed(Write(scope, key, skey, encoded, value, version),
                                             seq, created, updated)])
            return seq
        write = self._prepare(scope, key, skey, value, schema_version)
        if write is None:
            return None
        admission = self._checked(write)
        if self._contributors or admission is not None:
            done = self._commit((write,), admission=admission)
            assert done is not None
            finish(admission, True)
        else:
            done = [_commit.commit_put(self.store, self._sequence, write)]
        self._notify(done)
        return done[0].seq

    def delete(self, scope: str, key: str) -> bool:
        """Remove ``key`` from ``scope``; True if it was there.

        Raises:
            InvalidScope, InvalidKey: a bad scope or key.
            HookCancelled: a ``state:delete`` hook cancelled; nothing was deleted.
        """
        skey = store_key(scope, key)
        tx = self._tx()
        if tx is not None:
            return tx.delete(scope, key)
        admission = self._in_session(scope, key, WRITE)
        done = None
        try:
            if self._signals.has(DELETE) and self.store.get(skey) is None:
                return False  # no hook for a key that is not there
            if not self._allow_delete(scope, key):
                return False
            done = self._commit((Write(scope, key, skey, None),), admission=admission)
        finally:
            finish(admission, bool(done))
        if not done:
            return False
        self._notify(done)
        return True

    def save_many(self, items: Mapping[str, Mapping[str, Any]] | Iterable[Any]) -> int:
        """Save several values atomically: all of them or none. Returns how many.

        ``items``: ``{scope: {key: value}}`` or an iterable of ``(scope, key, value)``.

        Raises:
            ValidationError: a bad item (named by its scope and key, or its index); nothing
                was written.
        """
        with self.transaction() as tx:
            return tx.save_many(items)

    def clear_scope(self, scope: str) -> int:
        """Delete every key of ``scope`` atomically; returns how many there were.

        Raises:
            InvalidScope: a bad scope.
            HookCancelled: a ``state:delete`` hook cancelled; nothing was deleted.
        """
        prefix = scope_prefix(scope)
        tx = self._tx()
        if tx is not None:
            return tx.clear_scope(scope)
        admission = self._in_session(scope, "", WRITE)
        done = None
        try:
            allowed = {key for key in self._stored_keys(scope, None)
                       if self._allow_delete(scope, key)}

            def plan() -> list[Write]:
                # Listed again on every attempt: a key another process added since the
                # listing goes too, unless delete hooks are registered (never shown to them).
                return [Write(scope, k[len(prefix):], k, None) for k in self.store.keys(prefix)
                        if k[len(prefix):] in allowed or not self._signals.has(DELETE)]

            done = self._commit(plan, admission=admission)
        finally:
            finish(admission, bool(done))
        assert done is not None
        self._notify(done)
        return len(done)

    def compare_and_set(self, scope: str, key: str, expected: Any, new: Any) -> bool:
        """Store ``new`` only if the key now holds ``expected`` (None: only if it is absent).

        Values are compared as stored values (a bool never equals a number). The check and
        the write are one atomic step, also against other processes sharing the store.
        Returns whether ``new`` was stored.

        Raises:
            as :meth:`save`.
        """
        skey = store_key(scope, key)
        tx = self._tx()
        if tx is not None:
            return tx.compare_and_set(scope, key, expected, new)
        if expected is not None:
            encode_value(expected, argument="expected")  # refuse what could never be stored
        write = self._prepare(scope, key, skey, new, None)
        if write is None:
            return False
        admission = self._checked(write)
        done = None
        try:
            while True:
                raw = self.store.get(skey)
                if expected is None:
                    if raw is not None:
                        return False
                elif raw is None or not same_value(decode_value(raw, skey), expected):
                    return False
                done = self._commit((write,), {skey: raw}, admission)
                if done is not None:
                    break
                # The bytes changed between the read and the commit: compare again.
        finally:
            finish(admission, bool(done))
        self._notify(done)
        return True

    def transaction(self) -> AbstractContextManager[Transaction]:
        """Group writes into one atomic commit (see :mod:`llmspell.state.transaction`).

        ::

            with state.transaction() as tx:
                state.save("global", "a", 1)      # or tx.save(...)
                tx.delete("agent:x", "draft")

        Raises:
            StateError: a value compared inside the block changed before the commit.
            Whatever the block raised: nothing was written.
        """
        return open_transaction(self, self._tx())

    # -- reads ----------------------------------------------------------------------------

    def load(self, scope: str, key: str, default: Any = None) -> Any:
        """The value of ``key`` in ``scope``, or ``default`` when there is none.

        Raises:
            InvalidScope, InvalidKey: a bad scope or key.
            HookCancelled: a ``state:before_read`` hook cancelled.
        """
        try:
            skey = _KEYS[scope][key]
        except (KeyError, TypeError):
            skey = store_key(scope, key)
        var = self._session_var
        if var is not None and scope.startswith(SESSION_SCOPE) and (sid := var.get()):
            self._session_check(sid, READ, ((scope, key, 0),))
        hooks = self._hooks
        if ACTIVE.get() or (hooks is not None and (hooks.has(BEFORE_READ)
                                                   or hooks.has(AFTER_READ))):
            return self._load(scope, key, skey, default, self._tx())
        raw = self.store.get_unchecked(skey)  # built by store_key from checked parts
        if raw is None:
            return default
        if self._schemas.active:
            self._schemas.check_load(scope, key, record_version(raw, skey))
        return decode_value(raw, skey)

    def exists(self, scope: str, key: str) -> bool:
        """Whether ``key`` has a value in ``scope`` (a stored None counts)."""
        skey = store_key(scope, key)
        tx = self._tx()
        if tx is not None:
            return tx.exists(scope, key)
        self._in_session(scope, key, READ)
        return self.store.get(skey) is not None

    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        """The keys of ``scope`` (those starting with ``prefix``), in key order."""
        scope_prefix(scope)
        tx = self._tx()
        if tx is not None:
            return tx.list_keys(scope, prefix)
        self._in_session(scope, "", READ)
        return self._stored_keys(scope, prefix)

    def get_record(self, scope: str, key: str) -> Record | None:
        """The value with its metadata (schema version, times, change sequence), or None."""
        skey = store_key(scope, key)
        self._in_session(scope, key, READ)
        raw = self.store.get(skey)
        return None if raw is None else decode_record(raw, skey)

    def scopes(self) -> list[str]:
        """Every scope that holds at least one key, in order."""
        found: list[str] = []
        start: str | None = None
        while True:
            first = next(self.store.keys(STATE_PREFIX, start_after=start, limit=1), None)
            if first is None:
                return found
            scope, _ = split_store_key(first)
            found.append(scope)
            start = after_scope(scope)

    def records(self, scopes: Iterable[str] | None = None) -> Iterator[tuple[str, str, bytes]]:
        """``(scope, key, record bytes)`` of every value (of the scopes matching the globs in
        ``scopes``), in store order. Not a snapshot: a concurrent writer may show through."""
        patterns = check_globs(scopes, "scopes")
        for skey, raw in self.store.scan(STATE_PREFIX):
            scope, key = split_store_key(skey)
            if patterns is None or any(fnmatch.fnmatchcase(scope, p) for p in patterns):
                yield scope, key, raw

    @property
    def seq(self) -> int:
        """The store's change sequence as of this process's last commit or read of it."""
        return self._sequence.value

    # -- extension points -----------------------------------------------------------------

    def add_contributor(self, contributor: Contributor, *,
                        wants: Callable[[str], bool] | None = None) -> None:
        """Have ``contributor(changes) -> (ops, expect) | None`` add to every state batch.

        It is called under the commit lock, possibly more than once per commit (a lost race
        plans the batch again), and must only build ops: no state calls, no side effects.
        ``wants(scope)``: whether it may add anything to a write of ``scope`` now; a single
        ``save`` that no contributor wants is committed without asking them (the fast path).
        """
        if not callable(contributor):
            raise ValidationError("contributor", "must be callable", got=contributor)
        if wants is not None and not callable(wants):
            raise ValidationError("wants", "must be callable or None", got=wants)
        self._contributors = (*self._contributors, contributor)
        self._wants[contributor] = wants
        self._regate()

    def _regate(self) -> None:
        wants = [self._wants.get(c) for c in self._contributors]
        self._gates = None if any(w is None for w in wants) else tuple(
            w for w in wants if w is not None)

    def contributors_want(self, scope: str) -> bool:
        """Whether some batch contributor may add to a write of ``scope`` now (their
        ``wants``; a contributor registered without one wants everything)."""
        return bool(self._contributors) and not self._unwanted(scope)

    def _unwanted(self, scope: str) -> bool:
        """No contributor wants a write of ``scope`` now (each said so through ``wants``)."""
        gates = self._gates
        return gates is not None and not any(gate(scope) for gate in gates)

    @property
    def contributors(self) -> tuple[Contributor, ...]:
        """The registered batch contributors, in the order they are called."""
        return self._contributors

    def remove_contributor(self, contributor: Contributor) -> bool:
        """Stop calling ``contributor``; False if it was not registered."""
        if contributor not in self._contributors:
            return False
        # ``==``, like the test above: a bound method is equal, not identical, to itself later
        self._contributors = tuple(c for c in self._contributors if c != contributor)
        self._wants.pop(contributor, None)
        self._regate()
        return True

    def set_session_check(self, current: ContextVar[str | None] | None,
                          check: SessionCheck | None) -> None:
        """While ``current`` holds a session id, have ``check(session_id, access, items)``
        see every read of a ``session:<id>`` scope (access ``"read"``) and every write
        (``"write"``), and raise to refuse it. ``items`` are ``(scope, key, size)``: ``size``
        the encoded value's bytes, 0 for a delete, ``key`` "" for a whole scope. A write
        buffered in a transaction is shown as ``"buffer"`` (isolation only), and the
        transaction's writes together as one ``"write"`` when it commits. The runtime
        installs the sessions' rules (isolation, operation counting, limits:
        docs/sessions.md); None removes them. Migrations, rollbacks and restores are the
        host's and are not checked."""
        if check is not None and not callable(check):
            raise ValidationError("check", "must be callable or None", got=check)
        if (current is None) != (check is None):
            raise ValidationError("current", "and check must both be given, or both None")
        self._session_var = current
        self._session_check = check or _no_check

    def scope_bytes(self, scope: str, except_keys: Iterable[str] = ()) -> int:
        """The bytes of the records ``scope`` holds (leaving out those of ``except_keys``):
        a session's state footprint."""
        prefix = scope_prefix(scope)
        skip = {prefix + key for key in except_keys}
        return sum(len(raw) for skey, raw in self.store.scan(prefix) if skey not in skip)

    def declare_schema_version(self, scope_pattern: str, version: Version) -> None:
        """Save values of scopes matching the glob ``scope_pattern`` at ``version`` (an int or
        ``"M.m.p"``; the latest declaration that matches wins, a migration applied over the
        scope wins over declarations; undeclared scopes are at version 1). Loads in those
        scopes refuse values of another major version (:mod:`llmspell.state.schemas`)."""
        if not isinstance(scope_pattern, str) or not scope_pattern:
            raise ValidationError("scope_pattern", "must be a non-empty glob", got=scope_pattern)
        self._schemas.declare(scope_pattern, check_version(version))

    def schema_version(self, scope: str, key: str = "") -> Version:
        """The version a new value of ``scope`` (``key``) is saved at."""
        store_key(scope, key or "_")
        return self._schemas.version_for(scope, key)

    def set_migration_hint(self, hint: Callable[[str, str, Any, Any], str | None] | None
                           ) -> None:
        """Have ``hint(scope, key, stored_version, current_version)`` name the migration to
        run in the error for a value of an incompatible version (the Migrator sets it)."""
        self._schemas.hint = hint

    def reload_schemas(self) -> None:
        """Read again the scopes' versions migrations recorded (after a migration or a
        rollback, or one applied by another process)."""
        self._schemas.load(self.store)

    def announce_bulk(self, operation: str, changes: Any, first_seq: int) -> None:
        """Tell hooks and subscribers about the keys a bulk batch changed (a migration, its
        rollback, a restore; :meth:`.signals.Signals.bulk_written`). ``changes``: the
        batch's :class:`~llmspell.state.bulk.RecordChange` items (a list, or an iterator read
        only when someone listens), numbered from ``first_seq``."""
        if changes:
            self._signals.bulk_written(operation, changes, first_seq)

    def invalidate(self) -> None:
        """Forget what this process remembers about the store (its change sequence and the
        creation times of keys). Call it after writing state keys other than through a
        StateManager (a restore, say)."""
        with self._sequence.lock:
            self._sequence.raw = b"\x00"  # never a stored value: the next reload moves
            self._sequence.reload(self.store)
        self._schemas.load(self.store)

    # -- internals ------------------------------------------------------------------------

    def _in_session(self, scope: str, key: str, access: str,
                    size: int = 0) -> Admission | None:
        """The session check (:meth:`set_session_check`) of one operation, if it applies:
        the admission to commit with a write (None: nothing to count)."""
        var = self._session_var
        if var is None:
            return None
        sid = var.get()
        if sid is not None and (access != READ or scope.startswith(SESSION_SCOPE)):
            return self._session_check(sid, access, ((scope, key, size),))
        return None

    def _checked(self, write: Write, access: str = WRITE) -> Admission | None:
        encoded = write.encoded
        return self._in_session(write.scope, write.key, access, 0 if encoded is None
                                else len(encoded.data))

    def _admit_writes(self, writes: Iterable[Write]) -> Admission | None:
        """The session check of a transaction's writes, together, as it commits: the
        admission to commit with them."""
        var = self._session_var
        if var is None or (sid := var.get()) is None:
            return None
        items = tuple((w.scope, w.key, 0 if w.encoded is None else len(w.encoded.data))
                      for w in writes)
        return self._session_check(sid, WRITE, items) if items else None

    def _tx(self) -> Transaction | None:
        for tx in ACTIVE.get():
            if tx.manager is self:
                return tx
        return None

    def _prepare(self, scope: str, key: str, skey: str, value: Any,
                 schema_version: Version | None, *, created_at: float | None = None,
                 updated_at: float | None = None) -> Write | None:
        """Run the before-write hooks, redact, check and encode: the write, or None if a hook
        skipped it."""
        if self._hooks is not None and self._hooks.has(BEFORE_WRITE):
            value = self._signals.before_write(scope, key, value)
            if value is SKIPPED:
                return None
        if self.redact_on_write:
            value = self.redactor.redact(value)
        encoded = encode_value(value, max_bytes=self.max_value_bytes, scope=scope, key=key)
        if len(encoded.data) > self.max_value_bytes:
            check_size(encoded, self.max_value_bytes, scope, key)
        if schema_version is None:
            schemas = self._schemas
            version = schemas.version_for(scope, key) if schemas.active \
                else DEFAULT_SCHEMA_VERSION
        else:
            version = check_version(schema_version)
        return Write(scope, key, skey, encoded, value, version, created_at, updated_at)

    def _allow_delete(self, scope: str, key: str) -> bool:
        return self._signals.allow_delete(scope, key)

    def _commit(self, plan: _commit.Plan, expect: Mapping[str, bytes | None] | None = None,
                admission: Admission | None = None) -> list[Committed] | None:
        return _commit.commit(self.store, self._sequence, plan, expect=expect,
                              contributors=self._contributors, admission=admission)

    def _holds(self, expect: Mapping[str, bytes | None]) -> bool:
        return _commit.expect_holds(self.store, expect)

    def _notify(self, done: list[Committed]) -> None:
        self._signals.committed(done)

    def _load(self, scope: str, key: str, skey: str, default: Any,
              tx: Transaction | None) -> Any:
        signals = self._signals
        if signals.has(BEFORE_READ):
            skipped = signals.before_read(scope, key)
            if skipped is not None:
                return default if skipped.result is None else skipped.result
        seen = NOT_WRITTEN if tx is None else tx.view(skey)
        if seen is NOT_WRITTEN:
            raw = self.store.get(skey)
            found = raw is not None
            if raw is not None and self._schemas.active:
                self._schemas.check_load(scope, key, record_version(raw, skey))
            value = decode_value(raw, skey) if raw is not None else default
        else:
            found = seen is not DELETED
            value = seen if found else default
        if signals.has(AFTER_READ):
            value = signals.after_read(scope, key, value, found)
        return value

    def _decode_write(self, write: Write) -> Any:
        encoded = write.encoded
        assert encoded is not None
        return decode_encoded_value(encoded)

    def _stored_keys(self, scope: str, prefix: str | None) -> list[str]:
        start = scope_prefix(scope)
        if prefix is not None:
            start += check_prefix(prefix)
        cut = len(scope) + len(STATE_PREFIX) + 1
        return [k[cut:] for k in self.store.keys(start)]


def _no_check(session_id: str, access: str,
              items: tuple[tuple[str, str, int], ...]) -> Admission | None:
    """No session rules (none installed)."""
    return None
