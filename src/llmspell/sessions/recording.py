"""What goes into a session's journal besides its lifecycle: state writes, hooks and events.

:class:`SessionRecorder` plugs the journal into the other subsystems through their own APIs:

- state: a batch contributor (``StateManager.add_contributor``). A change to scope
  ``session:<id>``, and any change while a session is current, becomes a ``state.write`` or
  ``state.delete`` entry *in the same batch as the change*: ``{"scope", "key", "op",
  "old": old value hash, "new": new value hash, "change_seq"}``. With
  ``journal_state_values`` the new value's encoded bytes are kept under ``jval/`` by hash.
- hooks: an observer (``HookRegistry.observe``). A firing at a point with hooks registered,
  in a session (``ctx.session_id`` or the current one), becomes a ``hook`` entry:
  ``{"point", "action", "component", "elapsed_ms", "data"}``. The manager's own
  ``session:*`` firings are part of the lifecycle entries instead.
- events: a ``**`` subscription. An event of a session becomes an ``event`` entry
  ``{"type", "source", "event_id", "data"}``, except the manager's own (``source
  "sessions"``) and state's (journaled atomically already).

Hook and event entries are appended in a batch of their own, after the fact they record. A
caller about to publish an event may hand the recorder entries of its own to write in the same
batch, before the event's entry (:meth:`SessionRecorder.carrying`): a tool call's ``tool.call``
entry rides with its ``tool.completed`` event, one commit instead of two.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson

from llmspell.journal import EVENT, HOOK, STATE_DELETE, STATE_WRITE, Draft
from llmspell.protocols import EventSource, HookRegistrar
from llmspell.sessions.transitions import position_after
from llmspell.storage.base import Op

if TYPE_CHECKING:
    from llmspell.sessions.manager import SessionManager

logger = logging.getLogger("llmspell.sessions")

SESSION_SCOPE = "session:"
_SKIP_SOURCES = ("sessions", "state", "artifacts")  # these journal their own changes
#: Every field a state entry may have (see ``contribute``).
_OWN_FIELDS = ("scope", "key", "op", "old", "new", "change_seq", "value")
#: An event entry's fields.
_EVENT_FIELDS = ("type", "source", "event_id", "data")
#: How many (type, source, bus) verdicts ``_names_plain`` keeps before starting afresh.
_PLAIN_MAX = 4096
#: Entries waiting to ride with the next event entry of a session (see ``carrying``).
_RIDERS: ContextVar[tuple[str, list[Draft]] | None] = ContextVar("llmspell_journal_riders",
                                                                  default=None)


class SessionRecorder:
    """Journals the state writes, hook executions and events of sessions (module doc)."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.journal = manager.journal
        self.keep_values = manager.settings.journal_state_values
        self._state: Any = None
        self._hooks: HookRegistrar | None = None
        self._events: EventSource | None = None
        self._subscription: Any = None
        # The newest change sequence number a contribution was planned for: a batch planned
        # again for a number not above it is a retry (or follows a batch that failed), whose
        # journal positions are read afresh (see ``contribute``). Plans of one state manager
        # are made under its sequence's lock, one at a time.
        self._planned = -1
        # One bound-method object each, so unregistering by identity finds it again.
        self._contributor = self.contribute
        self._observer = self.observe_hook
        #: (event type, source, bus id) -> whether they hold no hint of a secret under the
        #: rules of ``_plain_for`` (the journal's redactor when they were judged).
        self._plain: dict[tuple[str, str | None, str], bool] = {}
        self._plain_for: Any = None

    def attach(self, *, state: Any = None, hooks: HookRegistrar | None = None,
               events: EventSource | None = None) -> None:
        """Start recording from whichever of the three subsystems are given."""
        settings = self.manager.settings
        if state is not None:
            state.add_contributor(self._contributor, wants=self.wants)
            self._state = state
        if hooks is not None and settings.journal_hooks:
            hooks.observe(self._observer, executed_only=True)
            self._hooks = hooks
        if events is not None and settings.journal_events:
            # The bus leaves out the sources that journal their own changes, and events of
            # no session, before it redacts or delivers anything: they cost nothing here.
            self._subscription = events.subscribe("**", self.record_event,
                                                  exclude_sources=_SKIP_SOURCES,
                                                  accepts=self._in_session)
            self._events = events

    def detach(self) -> None:
        """Stop recording (the runtime calls it on close)."""
        if self._state is not None:
            self._state.remove_contributor(self._contributor)
        if self._hooks is not None:
            self._hooks.unobserve(self._observer)
        if self._events is not None and self._subscription is not None:
            self._events.unsubscribe(self._subscription)
        self._state = self._hooks = self._events = self._subscription = None

    # -- state ----------------------------------------------------------------------------

    def wants(self, scope: str) -> bool:
        """Whether a write of ``scope`` may be journaled now: a session's scope, or any
        scope while a session is current (the state manager skips asking otherwise)."""
        return scope.startswith(SESSION_SCOPE) or self.manager.current_id() is not None

    def contribute(self, changes: list[Any]) -> tuple[list[Op], dict[str, bytes | None]] | None:
        """The state contributor: journal entries (and values) for ``changes``' sessions."""
        current = self.manager.current_id()
        might = self.journal.redactor.might_hold_secret
        drafts: dict[str, list[Draft]] = {}
        values: list[Op] = []
        for change in changes:
            scope = change.scope
            owner = scope[len(SESSION_SCOPE):] if scope.startswith(SESSION_SCOPE) else None
            targets = {t for t in (owner, current) if t is not None}
            if not targets:
                continue
            deleted = change.op == "del"
            data = {"scope": scope, "key": change.key, "op": change.op,
                    "old": change.old_hash, "new": change.new_hash,
                    "change_seq": getattr(change, "seq", None)}
            encoded = _encoded_bytes(getattr(change, "encoded", None))
            if self.keep_values and not deleted and encoded is not None and change.new_hash:
                data["value"] = True
            # Only the scope and the key are words of the caller's; the rest are our own
            # (an op name, value hashes, a number). When neither may hold a secret the
            # journal's check skips the entry (its field name "key" alone would send every
            # entry down the careful path); otherwise the whole entry goes that way.
            checked = () if might(scope) or might(change.key) else _OWN_FIELDS
            for sid in targets:
                if not self._exists(sid):
                    continue
                drafts.setdefault(sid, []).append(
                    Draft(STATE_DELETE if deleted else STATE_WRITE, data, None, checked))
                if data.get("value"):
                    assert encoded is not None
                    values.append(self.journal.value_op(sid, change.new_hash, encoded))
        if not drafts:
            return None
        ops: list[Op] = []
        expect: dict[str, bytes | None] = {}
        newest = changes[-1].seq
        again = newest <= self._planned
        self._planned = newest
        manager = self.manager
        for sid, items in drafts.items():
            # The journal position the session manager keeps (from its own last write, or
            # this method's last plan) saves reading the journal's tail per write. It is
            # optimistic: the manager's cache is set to the position after this batch before
            # the batch commits. A batch that does not commit leaves it wrong, which only
            # costs an attempt: the next batch built on it fails its condition on the tail
            # (``Journal.entries_ops``) and reads afresh (the manager on its retry; here the
            # same change planned again, ``again``).
            cached = None if again else manager.cached(sid)
            position = self.journal.position(sid) if cached is None else cached[1]
            more, wanted = self.journal.entries_ops(sid, items, after=position,
                                                    fresh=cached is None)
            ops.extend(more)
            expect.update(wanted)
            if cached is not None:
                manager.remember(sid, cached[0], position_after(position, more),
                                 base=position)
            else:
                manager.forget_position(sid)
            manager.touch(sid)
        ops.extend(values)
        return ops, expect

    def _exists(self, sid: str) -> bool:
        return self.manager.is_known(sid)

    # -- hooks ----------------------------------------------------------------------------

    def observe_hook(self, ctx: Any, action: str, elapsed: float) -> None:
        """The hook observer: a ``hook`` entry for a firing that ran hooks in a session."""
        point = ctx.point
        if point.startswith("session:"):
            return
        sid = ctx.session_id or self.manager.current_id()
        if sid is None or self._hooks is None:
            return
        # llmspell's own hooks (the artifact collectors) are journaled as the change they
        # make: a firing that ran only these is not journaled again as a hook.
        names = self._hooks.user_names_at(point)
        if not names:
            return
        data = {"point": point, "action": action, "component": ctx.component, "hooks": list(names),
                "elapsed_ms": round(elapsed * 1000, 3), "data": ctx.data}
        self._append(sid, HOOK, data, ctx.correlation_id)

    # -- events ---------------------------------------------------------------------------

    @property
    def journals_events(self) -> bool:
        """Whether events of sessions are journaled (``[session] journal_events``)."""
        return self._subscription is not None

    def records_first(self, type: str, source: str) -> bool:
        """Whether an event of ``type`` from ``source`` published now would reach this
        recorder before any other code (``EventBus.sees_first``)."""
        events, subscription = self._events, self._subscription
        return (events is not None and subscription is not None
                and events.sees_first(subscription, type, source))

    @contextmanager
    def carrying(self, sid: str, drafts: list[Draft]) -> Iterator[list[Draft]]:
        """Within the block (this thread or task), the first event entry written for session
        ``sid`` is written in one batch after ``drafts``. Yields ``drafts``, emptied when they
        were written: what is left afterwards is the caller's to write (no event of ``sid``
        was journaled in the block, or its batch failed)."""
        token = _RIDERS.set((sid, drafts))
        try:
            yield drafts
        finally:
            _RIDERS.reset(token)

    def _in_session(self, session_id: str | None) -> bool:
        """Whether an event published with ``session_id`` belongs to a session."""
        return session_id is not None or self.manager.current_id() is not None

    def record_event(self, event: Any) -> None:
        """The ``**`` subscriber (events of the sources in ``_SKIP_SOURCES`` never come
        here): an ``event`` entry for an event of a session."""
        if event.remote:
            return  # its own process journals an event published elsewhere
        sid = event.session_id or self.manager.current_id()
        if sid is None:
            return
        data = {"type": event.type, "source": event.source, "event_id": event.id,
                "data": event.data}
        # Data the bus redacted with the journal's rules is not checked a second time, nor
        # then the type, source and id once judged plain. (With data to check, the whole
        # entry's text is checked: cheaper than the text of its data alone, made apart.)
        redactor = self.journal.redactor
        by = event.redacted_by
        if by is None or by.rules != redactor.rules:
            done: tuple[str, ...] = ()
        elif self._names_plain(event, redactor):
            done = _EVENT_FIELDS
        else:
            done = ("data",)
        riders = _RIDERS.get()
        carried = riders[1] if riders is not None and riders[0] == sid else None
        self._append(sid, EVENT, data, event.correlation_id, carried, done)

    def _names_plain(self, event: Any, redactor: Any) -> bool:
        """Whether the type, source and id of ``event`` hold no hint of a secret for
        ``redactor`` (the journal's), judged as the journal judges an entry
        (``might_hold_secret_json``) once per type, source and bus: an event's id is its
        bus's id, ``-`` and a sequence number, and no hint holds a digit. Most events of a
        call are of a few types, each judged once; the journal's check of these fields on
        every entry was ~15k instructions (an agent call's event entry)."""
        if self._plain_for is not redactor:  # the journal's rules were replaced
            self._plain = {}
            self._plain_for = redactor
        key = (event.type, event.source, event.bus_id)
        plain = self._plain.get(key)
        if plain is None:
            text = orjson.dumps([event.type, event.source, f"{event.bus_id}-"])
            plain = not redactor.might_hold_secret_json(text.decode("utf-8"))
            if len(self._plain) >= _PLAIN_MAX:
                self._plain.clear()
            self._plain[key] = plain
        return plain

    def _append(self, sid: str, kind: str, data: Any, cid: str | None,
                riders: list[Draft] | None = None, redacted: tuple[str, ...] = ()) -> None:
        if not self._exists(sid):
            return
        try:
            self.manager.append_entries(sid, [*(riders or ()),
                                              Draft(kind, data, cid, redacted)])
        except Exception:
            logger.exception("could not journal a %s entry for session %s", kind, sid)
            return
        if riders:
            riders.clear()  # written: the caller has nothing left to write


def _encoded_bytes(encoded: Any) -> bytes | None:
    """A state change's encoded value as the bytes :func:`llmspell.codec.decode` reads."""
    if encoded is None:
        return None
    if isinstance(encoded, bytes):
        return encoded
    data = getattr(encoded, "data", None)
    if not isinstance(data, bytes):
        return None
    binary = getattr(encoded, "binary", None)
    if binary:
        import orjson

        return b'{"v":' + data + b',"b":' + orjson.dumps(binary) + b"}"
    return b'{"v":' + data + b"}"
