"""The SessionManager: create, find, move and delete sessions, durably and atomically.

Every change to a session is ONE ``store.batch``: the record, its index entries, the active
count and the journal entry that records the change commit together or not at all, guarded
by ``expect`` on the record's previous bytes (so two processes cannot both move one session)
and on the journal's newest entry (so sequence numbers never collide). A lost race retries
with fresh reads; an operation that is no longer allowed then raises InvalidTransition.

Around each change: the session hook point fires first through ``HookRegistry.before``
(what each outcome means is the points table's, :mod:`llmspell.hooks.points`): ``cancel``
fails the change and nothing is written; ``retry`` fires the point again; at
``session:start`` ``modified`` data changes the session created (its name, description, tags,
metadata, limits, max_duration and max_idle_time); at the other points ``skip`` leaves the
session as it is and returns it unchanged (the lifecycle table alone decides a new status, so
``modified`` there is reported and ignored). The event is published after the commit.
Lifecycle hook points: create -> ``session:start``; suspend -> ``session:suspend``;
resume -> ``session:resume``; complete, fail and archive -> ``session:end``
(``data.operation`` says which); save -> ``session:save``; load -> ``session:restore``.
Events and journal kinds: ``session.created``, ``.suspended``, ``.resumed``,
``.completed``, ``.failed``, ``.archived``, ``.saved``, ``.loaded``, and the event
``session.deleted``.

Policies (:mod:`llmspell.sessions.policies`) are enforced by the manager's
:class:`~llmspell.sessions.enforcement.PolicyEnforcer`: timeouts whenever a session is read,
limits and rate limits in :meth:`SessionManager.admit`.

The current session is a context variable, so each thread and each asyncio task has its own:
a new thread starts with none; an asyncio task starts with its creator's and changes it for
itself only. ``Session.setCurrent`` in Lua and the state journaling read it.

Deleting a session removes its record, its index entries and (for an active session) a slot
of the active count in one batch that also writes a tombstone ``sessdel/<id>``; then the
``session:<id>`` state scope, the journal and (through ``on_delete`` callbacks) artifact
references go, and the tombstone last. A crash in between leaves the tombstone, and
``sweep()`` finishes the job.
"""

from __future__ import annotations

import builtins
import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

import orjson

from llmspell.bounded import BoundedCache
from llmspell.codec import compact
from llmspell.errors import (
    SessionError,
    SessionNotFound,
    StoreReadOnly,
    ValidationError,
)
from llmspell.ids import correlation_id
from llmspell.journal import (
    ID_PATTERN,
    START,
    Draft,
    Encoded,
    Journal,
    Position,
    check_session_id,
)
from llmspell.protocols import EventPublisher, HookPoints
from llmspell.sessions import index
from llmspell.sessions.clock import Clock, SystemClock
from llmspell.sessions.counters import ActiveCounter, ArtifactCounters
from llmspell.sessions.enforcement import CountInBatch, PolicyEnforcer, Refused
from llmspell.sessions.history import Snapshot, check_seq, diff, snapshot_at
from llmspell.sessions.lease import Lease, Leases
from llmspell.sessions.model import (
    ACTIVE,
    Counters,
    Limits,
    Session,
    check_limits,
    check_metadata,
    check_name,
    check_seconds,
    check_tags,
    check_text,
    fill_new_record,
    new_id,
    new_record_template,
    session_ref_id,
)
from llmspell.sessions.policies import (
    PolicyChain,
    ResourceLimits,
    SessionSettings,
    TimeoutAction,
    Usage,
    default_chain,
)
from llmspell.sessions.query import list_sessions
from llmspell.sessions.reindex import ensure_updated_index
from llmspell.sessions.ride import write_waiting
from llmspell.sessions.transitions import Update, created_entry, moved, position_after, target
from llmspell.storage.base import Delete, Op, Put, Store
from llmspell.storage.retry import Planned, retry_batch
from llmspell.validation import check_fields, check_flag, check_texts

logger = logging.getLogger("llmspell.sessions")

SessionRef = Session | str

_CACHE_SIZE = 4096
#: How many distinct kinds of created sessions create keeps templates for (then it starts over).
_ALIKE_MAX = 256
#: What create keeps per kind of session (SessionManager._made_alike).
_Alike = tuple[bytes | None, Encoded, tuple[str, ...],
               tuple[str, str, tuple[str, ...], float | None, float | None]]
#: The classes of a max_duration or max_idle_time create looks up as given (no bool).
_SECONDS = frozenset({type(None), int, float})
#: Why every operation fails with ``[session] enabled = false`` (Runtime.unavailable says it too).
DISABLED = "sessions are disabled ([session] enabled = false)"
#: What a session change's batch returns once applied: the update, the record's new bytes, the
#: journal positions its entries were built on and reached, and the active count's new bytes
#: (None: unchanged).
_Written = tuple[Update, bytes, tuple[Position, Position], bytes | None]
_POINTS = {"suspend": "session:suspend", "resume": "session:resume",
           "complete": "session:end", "fail": "session:end", "archive": "session:end"}
#: The journal entry and event of :meth:`SessionManager.update_metadata`.
METADATA_CHANGED = "session.metadata_changed"
_KINDS = {"suspend": "session.suspended", "resume": "session.resumed",
          "complete": "session.completed", "fail": "session.failed",
          "archive": "session.archived"}

#: What a ``session:start`` hook may change in ``data.session``; the rest is the manager's.
HOOK_FIELDS = ("name", "description", "tags", "metadata", "limits", "max_duration",
               "max_idle_time")
_SKIP: Any = object()  # what _before returns when a hook skipped the change


class _SkippedByHook(Exception):
    """A hook skipped a change: the session stays as it is (``session``)."""

    def __init__(self, session: Session) -> None:
        self.session = session


class _Unchanged(_SkippedByHook):
    """A metadata change that changes nothing: the session stays as it is, unwritten."""


class SessionManager:
    """Sessions in one store. Thread-safe; several processes may share a multi-process store.

    Args:
        store: where sessions, indexes and journals live.
        settings: ``[session]`` behaviour (limits, timeouts, rate limits, composition).
        hooks: a HookRegistry (``fire``/``has``) for the ``session:*`` points, or None.
        events: an EventBus (``publish``) for ``session.*`` events, or None.
        clock: ``now()``/``sleep()``; a ManualClock in tests.
        journal: the Journal to write to (built on ``store`` by default).
        clear_state: ``clear_state("session:<id>")`` removes a session's state scope on
            delete (``StateManager.clear_scope``); None when there is no state manager.
        state_bytes: ``state_bytes("session:<id>")``: the bytes of a session's state scope
            (``StateManager.scope_bytes``), for the memory limit; None: counted as 0.
    """

    def __init__(self, store: Store, *, settings: SessionSettings | None = None,
                 hooks: HookPoints | None = None, events: EventPublisher | None = None,
                 clock: Clock | None = None,
                 journal: Journal | None = None,
                 clear_state: Callable[[str], Any] | None = None,
                 state_bytes: Callable[[str], int] | None = None) -> None:
        self.store = store
        self.state_bytes = state_bytes
        self.settings = settings or SessionSettings()
        self.clock: Clock = clock or SystemClock()
        self.journal = journal or Journal(store, clock=self.clock.now,
                                          redact_patterns=self.settings.redact_patterns)
        self.hooks = hooks
        self.events = events
        self.clear_state = clear_state
        self.enforcer = PolicyEnforcer(default_chain(self.settings, self.clock), self.clock,
                                       read=self.get, update=self._update,
                                       move=self._transition, refused=self._refused)
        self._on_delete: list[Callable[[str], Any]] = []
        # Private to this manager: two runtimes never share a current session.
        self._current: ContextVar[str | None] = ContextVar(
            f"llmspell_current_session_{id(self):x}", default=None)
        #: The current session's id as a ContextVar (read-only for others: ``.get()``), for
        #: code that checks it on every call (a state write) at the cost of one lookup.
        self.current_var = self._current
        # id -> (record, journal position)
        self._cache: BoundedCache[str, tuple[bytes, Position]] = BoundedCache(_CACHE_SIZE)
        # id -> (the journal position cached last, the run of appends that reached it), one
        # entry so that the two are read together (see :meth:`run_at`)
        self._runs: BoundedCache[str, tuple[Position, int]] = BoundedCache(_CACHE_SIZE)
        self._chain_ids = itertools.count(1)
        # id -> (record bytes, that record decoded). Used only while the stored bytes are
        # still exactly these (compared on every read), so it is right across processes;
        # callers always get a copy, never the cached object.
        self._decoded: BoundedCache[str, tuple[bytes, Session]] = BoundedCache(_CACHE_SIZE)
        #: create's templates, by the fields that make them (see :meth:`_made_alike`), for
        #: the journal's redactor they were made under; and the kinds seen once.
        self._created_alike: dict[tuple[Any, ...], _Alike] = {}
        self._alike_for: Any = None
        self._seen_once: set[tuple[Any, ...]] = set()
        self.active = ActiveCounter(store, self.settings.max_active_sessions,
                                    self._limit_exceeded)
        #: The artifact counters, changed inside artifact writes' own batches.
        self.artifact_counters = ArtifactCounters(
            store, self.journal, self.settings.default_limits(), read=self.get,
            cached=self.cached, remember=self.remember, refused=self._refused,
            policies=self._admit_store, footprint=self._state_footprint, run_at=self.run_at,
            decode=self.decode)
        self.recorder: Any = None
        #: The leases this manager holds; every session write carries their fence.
        self.leases = Leases(store, self.clock.now, self.settings.lease_seconds)
        self.journal.fence = self.leases.fence
        #: Whether the store's updated index is complete (lists sorted by updated_at read
        #: it); False only for an older store opened read-only, which cannot be indexed.
        self.updated_indexed = self._index_updated()

    def _index_updated(self) -> bool:
        """Bring an older store's sessions into the updated index (:mod:`.reindex`); False
        when the store is read-only and lacks it. An empty store gets its marker from the
        next create (``self._mark_indexed``)."""
        try:
            self._mark_indexed = ensure_updated_index(self.store) < 0
        except StoreReadOnly as exc:
            logger.warning("sessions: cannot build the updated index of a read-only store "
                           "(%s); lists sorted by updated_at read every match", exc)
            self._mark_indexed = False
            return False
        return True

    @property
    def policies(self) -> PolicyChain:
        """The policy chain :meth:`admit` runs (``policies.add(policy)`` adds one)."""
        return self.enforcer.policies

    @classmethod
    def from_runtime(cls, runtime: Any) -> SessionManager:
        """The manager a Runtime uses: ``[session]`` settings, the runtime's hooks and events
        (when it has them) and its state (when enabled), with a SessionRecorder attached."""
        from llmspell.sessions.recording import SessionRecorder

        state = runtime.state if runtime.config.state.enabled else None
        hooks = getattr(runtime, "hooks", None)
        events = getattr(runtime, "events", None)
        manager = cls(runtime.store, settings=SessionSettings.from_config(runtime.config),
                      hooks=hooks, events=events,
                      clear_state=None if state is None else state.clear_scope,
                      state_bytes=None if state is None else state.scope_bytes)
        manager.recorder = SessionRecorder(manager)
        manager.recorder.attach(state=state, hooks=hooks, events=events)
        return manager

    def close(self) -> None:
        """Stop journaling other subsystems' activity and release the leases held (the
        Runtime calls this on close)."""
        self.leases.close()
        if self.recorder is not None:
            self.recorder.detach()
            self.recorder = None

    # -- creating and reading -------------------------------------------------------------

    def create(self, name: str = "", *, description: str = "", tags: Any = None,
               metadata: Any = None, parent_session_id: str | None = None,
               max_duration: float | None = None, max_idle_time: float | None = None,
               limits: Any = None, save: bool = False) -> Session:
        """Create an active session and return it.

        ``max_duration``/``max_idle_time`` are seconds (None: the ``[session]`` default; 0:
        none); ``limits`` a dict of operations, tokens, cost, artifacts, artifact_bytes.
        ``save``: also checkpoint it, as :meth:`save` right after would, in the create's
        own batch (one commit): ``session:save`` fires after ``session:start`` (a skip
        leaves out the checkpoint, a cancel creates nothing), the ``session.saved`` entry
        follows ``session.created``, and ``session.saved`` is published after
        ``session.created``.

        Raises:
            ValidationError: a bad argument (named).
            SessionNotFound: ``parent_session_id`` names no session.
            ResourceLimitExceeded: ``max_active_sessions`` sessions are active already.
            HookCancelled: a ``session:start`` hook refused.
        """
        settings = self.settings
        if not settings.enabled:
            self._check_enabled()
        if save.__class__ is not bool:
            check_flag(save, "save")
        # Sessions created alike (no metadata or limits: their record and entry hold only
        # the name, description, tags, parent and durations) share what is made of those
        # once (_made_alike: the checked fields, the record's template, the entry's data,
        # the index keys' prefixes), found by the arguments as given (~30k instructions
        # per create). Arguments equal to ones checked before check the same, but for a
        # bool, equal to 0 or 1, and a number type of another class: those are not looked
        # up, nor is tags other than a list or None (a string's letters would pass).
        key: tuple[Any, ...] | None = None
        made: _Alike | None = None
        if (metadata is None and limits is None and (tags is None or tags.__class__ is list)
                and max_duration.__class__ in _SECONDS and max_idle_time.__class__ in _SECONDS):
            key = (name, description, parent_session_id, max_duration, max_idle_time,
                   *(tags or ()))
            if self._alike_for is not self.journal.redactor:  # made under other rules
                self._created_alike.clear()
                self._alike_for = self.journal.redactor
            try:
                made = self._created_alike.get(key)
            except TypeError:  # an unhashable tag: refused by the checks below
                key = None
        if made is not None:
            name, description, checked_tags, duration, idle = made[3]
            tag_list = list(checked_tags)  # the session's own
            meta: dict[str, Any] = {}
            if parent_session_id is not None:
                self._check_parent(parent_session_id)
        else:
            check_name(name)
            if description.__class__ is not str or description:  # "" is the common case
                check_text(description, "description")
            tag_list = check_tags(tags)
            meta = {} if metadata is None else check_metadata(metadata,
                                                              settings.max_value_bytes)
            if parent_session_id is not None:
                check_session_id(parent_session_id, argument="parent_session_id")
                self._check_parent(parent_session_id)
            duration = (check_seconds(max_duration, "max_duration")
                        if max_duration is not None else settings.max_duration_seconds or None)
            idle = (check_seconds(max_idle_time, "max_idle_time") if max_idle_time is not None
                    else settings.idle_timeout_seconds or None)
        now = self.clock.now()
        sid, cid = new_id(), correlation_id()
        session = Session(
            sid, name, ACTIVE, now, now, description, tag_list, meta,
            parent_session_id, now, None, duration, idle,
            Limits() if limits is None else check_limits(limits), Counters(), now, 0.0, now,
            None)
        if self.hooks is not None and self.hooks.has("session:start"):
            given = {"session": session.to_dict(), "operation": "create"}
            decided = self._before("session:start", sid, cid, lambda: given)
            if decided is not given:  # modified (skip is not honoured here: reported)
                session = _changed_by_hook(session, decided, self.settings.max_value_bytes)
                key = made = None
        if made is None and key is not None:
            made = self._made_alike(session, key)
        if made is not None:
            template, data, prefixes, _ = made
            # A filled template is a copy of exactly its length already (no orjson block):
            # the cache keeps it as it is (a copy fewer, ~1.5k instructions).
            raw = (compact(session.encode()) if template is None
                   else fill_new_record(template, sid, now))
            drafts = [Draft("session.created", data, cid)]
        else:
            prefixes = None
            raw = compact(session.encode())
            drafts = [Draft("session.created", created_entry(session), cid,
                            _created_redacted(self.journal.redactor, session))]
        self.leases.new_session(sid)  # a fresh id has no lease: no fence, none to read later
        saved = save and self._before("session:save", sid, cid, lambda: {
            "session": session.to_dict(), "operation": "saved"}) is not _SKIP
        if saved:
            drafts.append(Draft("session.saved", {"status": session.status}, cid))

        # The batch goes to batch_unchecked: its Puts in the store's form (a plain tuple on
        # the memory store: 7 Puts, ~12k instructions fewer).
        make_put = self.store.make_put

        def build(attempt: int) -> Planned[tuple[bytes, list[Op]]]:
            ops = index.created_ops(session, raw, make_put, prefixes)
            if self._mark_indexed:  # the store's first session: its index is complete
                ops.append(Put(index.UPDATED_INDEX_DONE, b"1"))
            expect: dict[str, bytes | None] = {}
            active = self.active.add(1, ops, expect, lambda: f"cannot create session {name!r}",
                                     make_put)
            # The journal's condition (entry 1 absent) also proves the new id is unused.
            jops, jexpect = self.journal.entries_ops(sid, drafts, after=START, checked=True,
                                                     fenced=False, make_put=make_put)
            ops.extend(jops)
            expect.update(jexpect)
            return ops, expect, (active, jops)

        # Unchecked: every key and value here was built from checked parts (ids, tags within
        # their byte limits), and the checks are a third of a create on the memory backend.
        active, jops = retry_batch(self.store, build, what=f"create session {sid}",
                                   checked=False, lost=self.active.invalidate)
        self.active.committed(active)
        self._mark_indexed = False
        self._keep(sid, raw, position_after(START, jops), None)  # a new run
        if self.events is not None:
            self._publish("session.created", session, cid)
            if saved:
                self._publish("session.saved", session, cid)
        return session

    def _check_parent(self, parent_session_id: str) -> None:
        """SessionNotFound unless ``parent_session_id`` (a checked id) names a stored session:
        read on every create that names one (another process may have deleted it)."""
        if self.store.get(index.record_key(parent_session_id)) is None:
            raise SessionNotFound(f"parent_session_id {parent_session_id!r} names no session")

    def _made_alike(self, session: Session, key: tuple[Any, ...]) -> _Alike | None:
        """What :meth:`create` keeps for sessions created like ``session``, just created
        from the arguments ``key`` and checked (no metadata, limits or hook's change): its
        record's template, its ``session.created`` data as the journal encodes it, its
        index keys' prefixes, and its checked name, description, tags and durations.

        None the first time ``key`` comes: making them costs more than one create saves
        (sessions of distinct names, the common case, would pay it on every create:
        measured 180k -> 239k instructions before this rule), so a kind gets them when it
        comes again. Remembering the kinds seen once costs ~1k per create."""
        if key not in self._seen_once:
            if len(self._seen_once) >= _ALIKE_MAX * 4:
                self._seen_once.clear()
            self._seen_once.add(key)
            return None
        self._seen_once.discard(key)
        made = (new_record_template(session), self.journal.encode_data(
            created_entry(session), _created_redacted(self.journal.redactor, session)),
            index.created_prefixes(session),
            (session.name, session.description, tuple(session.tags), session.max_duration,
             session.max_idle_time))
        if len(self._created_alike) >= _ALIKE_MAX:
            self._created_alike.clear()
        self._created_alike[key] = made
        return made

    def get(self, session: SessionRef) -> Session:
        """The session, with its timeouts applied first (an idle one comes back suspended).

        Raises:
            SessionNotFound: no session has that id.
        """
        if not self.settings.enabled:
            self._check_enabled()
        sid = session_ref_id(session)
        # A checked id makes a valid key: skip the store's per-key checks.
        raw = self.store.get_unchecked(index.RECORD_PREFIX + sid)
        if raw is None:
            self._decoded.pop(sid, None)
            raise SessionNotFound(f"no session has id {sid!r}")
        found = self._decode(sid, raw)
        if found.may_time_out():
            return self.enforcer.apply_timeouts(found)  # cheap unless a timeout passed
        return found

    def peek(self, session: SessionRef) -> Session:
        """:meth:`get`, from the record this manager last wrote or read when it has it
        (no store read). For checks a write repeats under ``expect`` on that record: when it
        is stale the write fails and is rebuilt on a fresh read."""
        return self._peek(session_ref_id(session), shared=False)

    def _peek(self, sid: str, *, shared: bool) -> Session:
        """:meth:`peek`; ``shared``: see :meth:`_decode`."""
        cached = self._cache.get(sid) if self.settings.enabled else None
        if cached is None:
            return self.get(sid)
        found = self._decode(sid, cached[0], shared=shared)
        if found.may_time_out():
            return self.enforcer.apply_timeouts(found)
        return found

    def exists(self, session: SessionRef) -> bool:
        """Whether a session with that id exists (no policies applied)."""
        return self.store.get(index.record_key(session_ref_id(session))) is not None

    def is_known(self, session_id: str) -> bool:
        """Whether ``session_id`` names a session; cheap for sessions this manager wrote."""
        if session_id in self._cache:
            return True
        if not isinstance(session_id, str) or not ID_PATTERN.fullmatch(session_id):
            return False
        return self.store.get(index.record_key(session_id)) is not None

    def ids_starting_with(self, prefix: str, *, limit: int | None = None) -> builtins.list[str]:
        """The ids of stored sessions that start with ``prefix``, in id order (at most
        ``limit``); the CLI resolves a shortened id with it."""
        if not isinstance(prefix, str):
            raise ValidationError("prefix", "must be a string", got=prefix)
        start = index.RECORD_PREFIX
        return [key[len(start):] for key in self.store.keys(start + prefix, limit=limit)]

    def list(self, *, status: str | list[str] | None = None, tags: Any = None,
             name: str | None = None, parent: str | None = None,
             created_after: Any = None, created_before: Any = None,
             sort: str = "created_at", descending: bool = False, limit: int | None = None,
             offset: int = 0) -> list[Session]:
        """Sessions matching every filter given (see :mod:`llmspell.sessions.query`).

        Raises:
            ValidationError: a bad filter, sort or paging argument.
        """
        self._check_enabled()
        return list_sessions(self, status=status, tags=tags, name=name, parent=parent,
                             created_after=created_after, created_before=created_before,
                             sort=sort, descending=descending, limit=limit, offset=offset)

    # -- lifecycle --------------------------------------------------------------------------

    def suspend(self, session: SessionRef, *, reason: str | None = None) -> Session:
        """active -> suspended. Raises InvalidTransition from any other status."""
        return self._transition(session, "suspend", reason=reason)

    def resume(self, session: SessionRef) -> Session:
        """suspended -> active. Raises InvalidTransition, or ResourceLimitExceeded when
        ``max_active_sessions`` sessions are active."""
        return self._transition(session, "resume")

    def complete(self, session: SessionRef) -> Session:
        """active or suspended -> completed."""
        return self._transition(session, "complete")

    def fail(self, session: SessionRef, reason: str = "") -> Session:
        """active or suspended -> failed, keeping ``reason``."""
        check_text(reason, "reason")
        return self._transition(session, "fail", reason=reason or None)

    def archive(self, session: SessionRef) -> Session:
        """completed or failed -> archived."""
        return self._transition(session, "archive")

    def save(self, session: SessionRef) -> Session:
        """Checkpoint the session: persist it now and journal ``session.saved``.

        Every change is persisted already, so the stored record *is* the session: the
        checkpoint is the ``session.saved`` entry, committed in a batch that holds ``expect``
        on the record's bytes (so it records exactly the session as stored, and loses to a
        concurrent change, which it then retries). The record itself is rewritten only when
        the save carries news for it: an active session with ``max_idle_time`` gets its
        ``last_activity_at`` (and ``updated_at``) moved, since a save counts as activity for
        the idle timeout, in every process. ``updated_at`` otherwise stays the time of the
        last change to the record. The same holds for :meth:`load`.
        """
        return self._mark(session, "session:save", "session.saved")

    def update_metadata(self, session: SessionRef, changes: Any = None, *,
                        remove: Any = ()) -> Session:
        """Set the keys of ``changes`` in the session's metadata and drop the keys named in
        ``remove``: one batch with a ``session.metadata_changed`` journal entry (``changed``,
        the keys set and their values; ``removed``, the keys that were there), then the event
        of that name. A session of any status. No hook point fires (there is none for
        metadata). A change that leaves the metadata as it is writes nothing and returns the
        session.

        Raises:
            ValidationError: ``changes`` is not a dict of JSON values, ``remove`` not a list
                of texts, or the new metadata is over ``[state] max_value_bytes``.
            SessionNotFound: no such session.
        """
        self._check_enabled()
        sid = session_ref_id(session)
        given = check_fields(changes, "changes")
        dropped = frozenset(check_texts(remove, "remove", "metadata keys"))
        cid = correlation_id()

        def change(current: Session, now: float) -> Update:
            old = current.metadata
            meta = {k: v for k, v in old.items() if k not in dropped}
            meta.update(given)
            if meta == old and orjson.dumps(meta) == orjson.dumps(old):  # true is not 1
                raise _Unchanged(current)
            meta = check_metadata(meta, self.settings.max_value_bytes)
            data = {"changed": given, "removed": sorted(dropped & old.keys())}
            return Update(replace(current, metadata=meta, updated_at=now),
                          [Draft(METADATA_CHANGED, data, cid)])

        return self._change(sid, change, METADATA_CHANGED, cid)

    def forget_cached(self) -> None:
        """Drop every cached record and journal position (after a restore replaced the
        sessions under this manager); the next read of each session goes to the store."""
        self._cache.clear()
        self._runs.clear()
        self._decoded.clear()
        self.active.invalidate()
        self.updated_indexed = self._index_updated()  # the sessions restored may predate it

    def load(self, session: SessionRef) -> Session:
        """Read the session fresh from the store (as a new process does), apply its
        timeouts, fire ``session:restore`` and journal ``session.loaded``."""
        sid = session_ref_id(session)
        self._cache.pop(sid, None)
        self._decoded.pop(sid, None)
        self.get(sid)
        return self._mark(sid, "session:restore", "session.loaded")

    # -- the current session ----------------------------------------------------------------

    def set_current(self, session: SessionRef | None) -> Session | None:
        """Make ``session`` current in this thread / asyncio task (None: no session)."""
        if session is None:
            self._current.set(None)
            return None
        found = self.get(session)
        self._current.set(found.id)
        return found

    def get_current(self) -> Session | None:
        """The current session of this thread / task, or None."""
        sid = self._current.get()
        if sid is None:
            return None
        try:
            return self.get(sid)
        except SessionNotFound:
            self._current.set(None)
            return None

    def current_id(self) -> str | None:
        """The current session's id without reading it (cheap)."""
        return self._current.get()

    @contextmanager
    def current(self, session: SessionRef | None) -> Iterator[Session | None]:
        """``with manager.current(s):`` makes ``s`` current for the block, then restores."""
        found = None if session is None else self.peek(session)
        token = self._current.set(None if found is None else found.id)
        try:
            yield found
        finally:
            self._current.reset(token)

    # -- policies ---------------------------------------------------------------------------

    def admit(self, session: SessionRef | None = None, kind: str = "operation", *,
              tokens: int = 0, cost: float = 0.0, artifacts: int = 0,
              artifact_bytes: int = 0, memory: int = 0,
              operations: int = 1) -> Session | None:
        """Let one operation of ``kind`` run in ``session`` (default: the current one), or
        refuse it; count it when admitted. ``memory``: the session's stored footprint once
        the operation is done (0: not measured), checked against its memory limit.
        ``operations``: how many operations it counts as (a transaction's writes).

        Amounts known only afterwards (an LLM call's tokens) go to :meth:`add_usage`.
        With no session (none given, none current) only global and per-kind rate limits apply.

        Raises:
            SessionError: the session is not active (SessionExpired when it ran out of time).
            ResourceLimitExceeded / RateLimitExceeded: the policies refused; the
                ``resource:limit_exceeded`` hook has fired. ``exc.refusals`` lists why.
        """
        if isinstance(operations, bool) or not isinstance(operations, int) or operations < 1:
            raise ValidationError("operations", "must be an integer >= 1", got=operations)
        usage = Usage(kind, operations, tokens, cost, artifacts, artifact_bytes, memory)
        return self.enforcer.admit(self._session_or_current(session), usage)

    def admit_call(self, session: SessionRef | None = None, kind: str = "operation", *,
                   tokens: int = 0) -> bool:
        """:meth:`admit` for one operation whose usage :meth:`settle` counts afterwards (an
        LLM call; ``tokens``: its estimate). Returns True when it was counted now (settle
        replaces ``tokens``), False when that settle must count it (``operations=1``, no
        tokens reserved): when the session has no operations, tokens or cost limit and no
        policy of your own runs, no count made now could change a decision, so the call
        writes once instead of twice. Raises as :meth:`admit`."""
        usage = Usage(kind, 1, tokens, 0.0, 0, 0, 0)
        return self.enforcer.admit_later(self._session_or_current(session), usage)

    def admission(self, session: SessionRef | None = None, kind: str = "operation", *,
                  memory: int = 0, operations: int = 1) -> CountInBatch | None:
        """:meth:`admit` for an operation that writes its own batch (a state write): the
        policies run now (a refusal raises as in :meth:`admit`), and the count goes into
        that batch through the returned :class:`CountInBatch` (None: no session, nothing
        to count). Its resource limits are checked again on the record the batch expects,
        so limits stay exact; a refused batch writes nothing."""
        if isinstance(operations, bool) or not isinstance(operations, int) or operations < 1:
            raise ValidationError("operations", "must be an integer >= 1", got=operations)
        usage = Usage(kind, operations, 0, 0.0, 0, 0, memory)
        found = self._session_or_current(session)
        self.enforcer.evaluate(found, usage)
        if found is None:
            return None
        sid = found.id
        write_waiting(sid)  # a call's settlement waiting in this thread goes first
        change = self.enforcer.counting(usage, check=True)
        key = index.record_key(sid)

        def plan(attempt: int) -> tuple[builtins.list[Op], dict[str, bytes | None],
                                        tuple[bytes, Session]]:
            # The record last written or read (any stale bytes fail the batch's expect, and
            # the next attempt reads the store); no journal position is needed.
            hit = self._decoded.get(sid) if attempt == 0 else None
            raw = hit[0] if hit is not None else self.store.get_unchecked(key)
            if raw is None:
                raise SessionNotFound(f"no session has id {sid!r}")
            current = self._decode(sid, raw)
            try:
                update = change(current, self.clock.now())
            except (SessionError, Refused):
                if hit is None or self.store.get_unchecked(key) == raw:
                    raise  # refused on the stored record
                return plan(attempt + 1)  # refused on a cached one: decide on the store's
            new_raw = update.session.encode()
            ops = [*index.index_ops(current, update.session), Put(key, new_raw)]
            return ops, {key: raw}, (new_raw, update.session)

        def committed(result: tuple[bytes, Session]) -> None:
            new_raw, new = result
            # The journal position moved with the batch's entries: the recorder (planning
            # them in the same batch) set the cached position to the one after them, or
            # dropped it when it read the journal's tail itself.
            cached = self._cache.get(sid)
            if cached is not None:
                new_raw = self._remember(sid, new_raw, cached[1], base=cached[1])
            self._decoded[sid] = (new_raw, new.copy())

        return CountInBatch(self.enforcer, sid, usage, plan=plan, committed=committed)

    def limits_of(self, session: SessionRef) -> Limits:
        """The limits that apply to ``session``: its own, and ``[session]`` for the rest."""
        found = self.get(session)
        for policy in self.policies.policies:
            if isinstance(policy, ResourceLimits):
                return policy.effective(found)
        return found.limits

    def footprint(self, session: SessionRef) -> dict[str, int]:
        """The session's stored footprint, what a ``memory`` limit bounds: ``{"state_bytes"
        (its session:<id> scope's records), "artifact_bytes", "total"}``."""
        found = self.get(session)
        state = self._state_footprint(found.id)
        return {"state_bytes": state, "artifact_bytes": found.counters.artifact_bytes,
                "total": state + found.counters.artifact_bytes}

    def _state_footprint(self, session_id: str) -> int:
        if self.state_bytes is None:
            return 0
        return self.state_bytes(f"session:{session_id}")

    def _admit_store(self, found: Session, size: int) -> None:
        """Run the policies other than the resource limits (rate limits, policies added)
        for an artifact store in ``found``, under the chain's composition; the resource
        limits are checked inside the store's own batch (:mod:`.counters`)."""
        others = self.policies.without(ResourceLimits)
        if others is None:
            return
        usage = Usage("artifact.store", 1, 0, 0.0, 1, size)
        verdict = others.evaluate(found, usage)
        if not verdict.allowed:
            self.enforcer.refuse(found, usage, verdict)

    def add_usage(self, session: SessionRef | None = None, *, operations: int = 0,
                  tokens: int = 0, cost: float = 0.0, artifacts: int = 0,
                  artifact_bytes: int = 0,
                  journal: builtins.list[Draft] | None = None) -> Session | None:
        """Add usage measured after the fact (tokens, cost). Never refuses: the next
        :meth:`admit` does once a limit is reached. ``journal``: entries written in the
        same batch (what the usage came from)."""
        found = self._session_or_current(session)
        if found is None:
            return None
        usage = Usage("usage", operations, tokens, cost, artifacts, artifact_bytes)
        return self.enforcer.count(found.id, usage, check=False, drafts=journal)

    def settle(self, session: SessionRef | None = None, kind: str = "operation", *,
               reserved_tokens: int = 0, tokens: int = 0, cost: float = 0.0,
               journal: builtins.list[Draft] | None = None,
               operations: int = 0) -> Session | None:
        """Replace the ``reserved_tokens`` an :meth:`admit` counted (an estimate made before an
        LLM call) with the ``tokens`` and ``cost`` measured after it, and count the
        ``operations`` an :meth:`admit_call` left to it; then refuse, with the amounts
        counted, when they took the session strictly past its token or cost limit.
        ``journal``: entries written in the same batch as the counters (the call's record).

        Raises:
            ResourceLimitExceeded: the measured amounts exceed a limit; the
                ``resource:limit_exceeded`` hook has fired. ``exc.refusals`` lists why.
        """
        # Read for its id (and timeouts) only: the cached decode, not a copy of it.
        found = self._session_or_current(session, shared=True)
        if found is None:
            return None
        return self.enforcer.settle(found, kind, reserved_tokens=reserved_tokens,
                                    tokens=tokens, cost=cost, drafts=journal,
                                    operations=operations)

    def touch(self, session_id: str) -> None:
        """Note activity in ``session_id`` now (for the idle timeout), without a write."""
        self.enforcer.touch(session_id)

    # -- history (llmspell.sessions.history) -----------------------------------------------

    def state_at(self, session: SessionRef, seq: int | None = None) -> Snapshot:
        """The session's state scope, the other keys it wrote, and its artifact list as of
        journal entry ``seq`` (default: the newest).

        Raises:
            SessionNotFound: no such session.
            ValidationError: ``seq`` is not one of its sequence numbers (0 is before the
                first entry).
            StateError: a write up to ``seq`` was journaled without its value.
        """
        sid = self.get(session).id
        last = self.journal.last_seq(sid)
        at = last if seq is None else check_seq(seq, "seq", last)
        return snapshot_at(self.journal, sid, at)

    def diff(self, session: SessionRef, from_seq: int, to_seq: int) -> dict[str, Any]:
        """What changed in the session between entries ``from_seq`` and ``to_seq``
        (:func:`llmspell.sessions.history.diff`). Raises as :meth:`state_at`."""
        sid = self.get(session).id
        last = self.journal.last_seq(sid)
        a = check_seq(from_seq, "from_seq", last)
        b = check_seq(to_seq, "to_seq", last)
        return diff(snapshot_at(self.journal, sid, a), snapshot_at(self.journal, sid, b))

    def sweep(self) -> builtins.list[tuple[str, str]]:
        """Apply timeouts to every active session and finish interrupted deletes.

        Returns ``(session_id, new status)`` for each session a timeout moved.
        """
        moved_now: builtins.list[tuple[str, str]] = []
        for key in builtins.list(self.store.keys(index.TOMBSTONE_PREFIX)):
            self._purge(key[len(index.TOMBSTONE_PREFIX):])
        drive = index.Drive((index.status_prefix(ACTIVE),), None, None)
        for sid in builtins.list(index.walk(self.store, drive)):
            try:
                found = self.get(sid)
            except SessionNotFound:
                continue
            if found.status != ACTIVE:
                moved_now.append((sid, found.status))
        return moved_now

    # -- single writer: leases --------------------------------------------------------------

    def acquire(self, session: SessionRef, *, ttl: float | None = None,
                keep: bool = False) -> Lease:
        """Take the session's lease for ``ttl`` seconds (``[session] lease_seconds``), or
        extend it when this manager holds it; from then on only this manager may write the
        session until the lease is released or expires (sessions.lease). ``keep`` renews it
        in the background until released.

        Raises:
            SessionNotFound: no session has that id.
            SessionLeased: another holder has a live lease (the message names it).
            ValidationError: a bad id or ``ttl``.
        """
        self._check_enabled()
        return self.leases.acquire(session_ref_id(session), ttl, keep=keep)

    def renew(self, session: SessionRef, *, ttl: float | None = None) -> Lease:
        """Extend the lease this manager holds (same fencing token).

        Raises:
            LeaseLost: the lease expired or was taken over.
        """
        self._check_enabled()
        return self.leases.renew(session_ref_id(session), ttl)

    def release(self, session: SessionRef) -> bool:
        """Give the session's lease back; False when this manager did not hold it."""
        self._check_enabled()
        return self.leases.release(session_ref_id(session))

    def lease(self, session: SessionRef) -> Lease | None:
        """The session's stored lease (live, expired or released), or None."""
        return self.leases.read(session_ref_id(session))

    # -- deleting ---------------------------------------------------------------------------

    def delete(self, session: SessionRef) -> bool:
        """Delete the session: its record and indexes, its ``session:<id>`` state scope, its
        journal, and (through :meth:`on_delete` callbacks) its artifact references.

        The record goes first, in one batch with a tombstone; the rest follows and the
        tombstone goes last, so an interrupted delete is finished by :meth:`sweep`.

        Raises:
            SessionNotFound: no session has that id.
        """
        self._check_enabled()
        sid = session_ref_id(session)

        def build(attempt: int) -> Planned[tuple[Session, bytes | None]]:
            raw = self.store.get(index.record_key(sid))
            if raw is None:
                raise SessionNotFound(f"no session has id {sid!r}")
            found = Session.decode(raw, index.record_key(sid))
            ops: builtins.list[Op] = [Delete(index.record_key(sid)),
                                      *index.index_ops(found, None),
                                      Put(index.TOMBSTONE_PREFIX + sid, b"")]
            expect: dict[str, bytes | None] = {index.record_key(sid): raw}
            expect.update(self.leases.fence(sid, attempt > 0))  # the holder, or no live lease
            ops.append(Delete(index.lease_key(sid)))
            active = self.active.add(-1, ops, expect, "") if found.status == ACTIVE else None
            return ops, expect, (found, active)

        found, active = retry_batch(self.store, build, what=f"delete session {sid}",
                                    lost=self.active.invalidate)
        self.active.committed(active)
        self.leases.forget(sid)
        self._cache.pop(sid, None)
        self._decoded.pop(sid, None)
        self.enforcer.activity.pop(sid, None)
        if self._current.get() == sid:
            self._current.set(None)
        self._purge(sid)
        self._publish("session.deleted", found, correlation_id())
        return True

    def on_delete(self, callback: Callable[[str], Any]) -> Callable[[str], Any]:
        """Call ``callback(session_id)`` when a session is deleted (artifact references).

        Returns ``callback``. A callback that raises is logged and the delete goes on.
        """
        if not callable(callback):
            raise ValidationError("callback", "must be callable", got=callback)
        self._on_delete.append(callback)
        return callback

    def _purge(self, sid: str) -> None:
        """Everything of a deleted session but its record (gone already), then the tombstone."""
        if self.clear_state is not None:
            # Part of deleting the session, not an access by the current session: as the host
            # (the session isolation of state checks only accesses by a current session).
            token = self._current.set(None)
            try:
                self.clear_state(f"session:{sid}")
            finally:
                self._current.reset(token)
        self.journal.delete(sid)
        for callback in self._on_delete:
            try:
                callback(sid)
            except Exception:
                logger.exception("on_delete callback %r failed for session %s", callback, sid)
        self.store.delete(index.TOMBSTONE_PREFIX + sid)

    # -- internals: writing -----------------------------------------------------------------

    def _transition(self, session: SessionRef, operation: str, *, reason: str | None = None,
                    timeout: TimeoutAction | None = None) -> Session:
        self._check_enabled()
        sid = session_ref_id(session)
        cid = correlation_id()
        fired: builtins.list[bool] = []

        def change(current: Session, now: float) -> Update:
            new_status = target(sid, current.status, operation)
            at = timeout.at if timeout is not None else now
            new = moved(current, new_status, at, now, reason)
            if not fired:
                fired.append(True)
                if self._before(_POINTS[operation], sid, cid, lambda: {
                        "session": new.to_dict(), "operation": operation,
                        "from": current.status, "to": new_status,
                        "reason": reason}) is _SKIP:
                    raise _SkippedByHook(current)
            data: dict[str, Any] = {"operation": operation, "from": current.status,
                                    "to": new_status}
            if reason:
                data["reason"] = reason
            if timeout is not None:
                data["by"] = "policy"
                data.update(timeout.details)
            delta = (new_status == ACTIVE) - (current.status == ACTIVE)
            return Update(new, [Draft(_KINDS[operation], data, cid)], delta)

        return self._change(sid, change, _KINDS[operation], cid, reason=reason)

    def _mark(self, session: SessionRef, point: str, kind: str) -> Session:
        self._check_enabled()
        sid = session_ref_id(session)
        cid = correlation_id()
        fired: builtins.list[bool] = []

        def change(current: Session, now: float) -> Update:
            # Only an idle timeout reads last_activity_at: rewrite the record for that alone.
            rewrite = current.status == ACTIVE and current.max_idle_time is not None
            new = current
            if rewrite:
                new = replace(current, updated_at=now,
                              last_activity_at=max(now, self.enforcer.activity.get(sid, 0.0)))
            elif current.status == ACTIVE:
                self.enforcer.activity[sid] = now
            if not fired:
                fired.append(True)
                if self._before(point, sid, cid, lambda: {
                        "session": new.to_dict(), "operation": kind.split(".")[1]}) is _SKIP:
                    raise _SkippedByHook(current)
            return Update(new, [Draft(kind, {"status": current.status}, cid)],
                          record=rewrite)

        return self._change(sid, change, kind, cid)

    def _change(self, sid: str, change: Callable[[Session, float], Update], kind: str,
                cid: str, *, reason: str | None = None) -> Session:
        """:meth:`_update`, then the event ``kind``; a change that a hook skipped, or that
        changes nothing (``_SkippedByHook``), writes nothing and returns the session as is."""
        try:
            new = self._update(sid, change)
        except _SkippedByHook as skipped:
            return skipped.session
        self._publish(kind, new, cid, reason=reason)
        return new

    def _update(self, sid: str, change: Callable[[Session, float], Update], *,
                shared: bool = False) -> Session:
        """Read, change, write in one batch with its journal entries; retry on a lost race.
        ``shared``: ``change`` only reads the session it is given, and the caller drops the
        one returned (see :meth:`_decode`)."""
        key = index.record_key(sid)
        write_waiting(sid)  # a call's settlement waiting in this thread goes first
        make_put = self.store.make_put  # the batch goes unchecked (below): the store's Puts

        def build(attempt: int) -> Planned[_Written]:
            cached = self._cache.get(sid) if attempt == 0 else None
            if cached is not None:
                raw, position = cached
                current = self._decode(sid, raw, shared=shared)
                try:
                    update = change(current, self.clock.now())
                except (SessionError, Refused):
                    # Refused on what this process last wrote; another process may have
                    # moved the record on since (resumed it, given tokens back): decide again
                    # on the stored record, and refuse only if that refuses too.
                    if self.store.get_unchecked(key) == raw:
                        raise
                    cached = None
            if cached is None:
                read = self.store.get_unchecked(key)  # a checked id makes a valid key
                if read is None:
                    self._cache.pop(sid, None)
                    self._decoded.pop(sid, None)
                    raise SessionNotFound(f"no session has id {sid!r}")
                raw, position = read, self.journal.position(sid)
                current = self._decode(sid, raw, shared=shared)
                update = change(current, self.clock.now())
            expect: dict[str, bytes | None] = {key: raw}
            ops: builtins.list[Op]
            if update.record:
                new_raw = update.session.encode()
                ops = [*index.index_ops(current, update.session, make_put),
                       make_put((key, new_raw))]
            else:  # the record stays as it is; ``expect`` still proves it is the one read
                new_raw, ops = raw, []
            active = (self.active.add(update.active_delta, ops, expect,
                                      f"cannot resume session {sid}", make_put)
                      if update.active_delta else None)
            jops, jexpect = self.journal.entries_ops(sid, update.drafts, after=position,
                                                     guarded=True, checked=True,
                                                     fresh=cached is None, make_put=make_put)
            ops.extend(jops)
            expect.update(jexpect)
            return ops, expect, (update, new_raw, (position, position_after(position, jops)),
                                 active)

        def lost() -> None:
            self._cache.pop(sid, None)
            self.active.invalidate()

        # Unchecked, as in create.
        update, new_raw, (base, position), active = retry_batch(
            self.store, build, what=f"write session {sid}", checked=False, lost=lost)
        new_raw = self._remember(sid, new_raw, position, base=base)
        if update.record:  # the next read of this record need not decode it
            self._decoded[sid] = (new_raw, update.session.copy())
        self.active.committed(active)
        return update.session

    def _session_or_current(self, session: SessionRef | None, *,
                            shared: bool = False) -> Session | None:
        """The session to count in: cached (its writes check it again under ``expect``).
        ``shared``: see :meth:`_decode`."""
        sid = session_ref_id(session) if session is not None else self.current_id()
        return None if sid is None else self._peek(sid, shared=shared)

    def _limit_exceeded(self, count: int, limit: int) -> None:
        data = {"limit": "max_active_sessions", "active": count, "max": limit}
        self._fire("resource:limit_exceeded", None, None, lambda: data)

    def _refused(self, sid: str | None, data: dict[str, Any], source: str = "sessions") -> None:
        """A limit refused an operation: ``resource:limit_exceeded`` and
        ``session.limit_exceeded`` (``source``: the subsystem that asked)."""
        hooks = self.hooks
        if hooks is not None and hooks.has("resource:limit_exceeded"):
            hooks.after("resource:limit_exceeded", data, component=source,
                        correlation_id=None, session_id=sid)
        if self.events is not None:
            self.events.publish("session.limit_exceeded", data, session_id=sid, source=source)

    def _remember(self, sid: str, raw: bytes, position: Position, *,
                  base: Position | None = None) -> bytes:
        """Cache ``raw`` and ``position`` as compact copies; returns the copy of ``raw``.
        ``base``: the position the batch's journal entries were built on (its condition on
        the journal's tail); when it is where the last run (:meth:`run_at`) stands, the run
        goes on, else (None: unknown) a new one starts.

        An orjson result holds a 4 KB block whatever its length: a cache of fresh writes
        kept 8 KB per session (14.5 KB retained per create, 3.2 KB with the copies)."""
        raw = compact(raw)
        self._keep(sid, raw, position, base)
        return raw

    def _keep(self, sid: str, raw: bytes, position: Position, base: Position | None) -> None:
        """:meth:`_remember` for ``raw`` that is already a compact copy."""
        seq, newest = position
        kept = (seq, newest and compact(newest))
        run = self._runs.get(sid) if base is not None else None
        self._runs.keep(sid, (kept, run[1] if run is not None and run[0] == base
                              else next(self._chain_ids)))
        self._cache.keep(sid, (raw, kept))

    def _decode(self, sid: str, raw: bytes, *, shared: bool = False) -> Session:
        """``raw`` (the stored record of ``sid``) as a Session of the caller's own: a copy
        of the cached decode when the bytes are the same, else decoded and cached.
        ``shared``: the cached decode itself, for a caller that only reads it and hands it
        to no one (a copy costs ~1 us, and an agent call read the record 5 times)."""
        hit = self._decoded.get(sid)
        if hit is not None and hit[0] == raw:
            return hit[1] if shared else hit[1].copy()
        found = Session.decode(raw, index.record_key(sid))
        self._decoded.keep(sid, (raw, found))
        return found if shared else found.copy()

    def decode(self, sid: str, raw: bytes) -> Session:
        """``raw``, a stored record of ``sid``, as a Session of the caller's own (a copy of
        this manager's decode of the same bytes when it keeps one). CorruptRecord when the
        bytes do not decode."""
        return self._decode(sid, raw)

    def append_entries(self, sid: str, drafts: builtins.list[Draft]) -> None:
        """Append ``drafts`` to ``sid``'s journal in one batch, the record unchanged (under
        ``expect`` on it, as a checkpoint): with the record and journal position cached from
        this manager's last write, nothing is read. SessionNotFound when it is gone."""
        # What a call left waiting in this thread goes first: its deferred collection may
        # write these entries in its own batch (llmspell.sessions.ride).
        if write_waiting(sid, tuple(drafts)):
            return
        cached = self._cache.get(sid)
        if cached is not None and drafts:
            # _update's first attempt spelled out for a record left as it is (one per
            # journaled event or hook): no decode, no Update, no retry loop, the cached bytes
            # kept as they are (an event's entry: ~136k -> ~114k instructions, callgrind).
            raw, position = cached
            expect: dict[str, bytes | None] = {index.record_key(sid): raw}
            ops, jexpect = self.journal.entries_ops(sid, drafts, after=position, guarded=True,
                                                    checked=True, fresh=False,
                                                    make_put=self.store.make_put)
            expect.update(jexpect)
            if self.store.batch_unchecked(ops, expect):
                self._keep(sid, raw, position_after(position, ops), position)
                return
            self._cache.pop(sid, None)  # lost a race: _update reads afresh (as its lost())
            self.active.invalidate()
        self._update(sid, lambda current, now: Update(current, drafts, record=False),
                     shared=True)

    def remember(self, sid: str, raw: bytes, position: Position, *,
                 base: Position | None = None, session: Session | None = None) -> None:
        """Another writer of this process (the artifact counters, the state recorder) wrote
        ``raw`` as the record of ``sid`` and its journal up to ``position``, its entries built
        on ``base`` (None: unknown): cache that. ``session``: ``raw`` decoded, when the writer
        has it (it encoded it), so that the next read decodes nothing (a copy is kept)."""
        raw = self._remember(sid, raw, position, base=base)
        if session is not None:
            self._decoded[sid] = (raw, session.copy())

    def run_at(self, sid: str, position: Position) -> int | None:
        """The id of the run of journal appends to ``sid`` that reached ``position``, when
        that is the position this manager cached last; else None. A run is appends made here,
        each built on the position the one before reached. Every append's batch expects the
        journal's tail it was built on, and an entry's bytes are unique (its seq, time and
        correlation id), so while the run goes on, every entry of it that is in the store
        was committed on the one before: no other writer appended between. An entry planned
        but not committed breaks the run's next batch, whose condition then fails. The
        artifact writer relies on it to know no other writer stored since
        (:mod:`llmspell.artifacts.writer`)."""
        run = self._runs.get(sid)
        return run[1] if run is not None and run[0] == position else None

    def cached(self, sid: str) -> tuple[bytes, Position] | None:
        """The record bytes and journal position this manager last wrote or read for ``sid``
        (may be stale: a batch built on them fails and is retried on fresh reads)."""
        return self._cache.get(sid)

    def forget_position(self, sid: str) -> None:
        """Drop what this manager cached about ``sid`` (another writer appended to it)."""
        self._cache.pop(sid, None)

    # -- internals: hooks and events -------------------------------------------------

    def _fire(self, point: str, sid: str | None, cid: str | None,
              data: Callable[[], Any]) -> None:
        """Tell the hooks at a notice point (``resource:limit_exceeded``)."""
        hooks = self.hooks
        if hooks is None or not hooks.has(point):
            return
        hooks.after(point, data(), component="sessions", correlation_id=cid, session_id=sid)

    def _before(self, point: str, sid: str, cid: str, data: Callable[[], Any]) -> Any:
        """Fire a lifecycle point (``HookRegistry.before``): the data as the hooks left it,
        ``_SKIP`` when one skipped the change, None when no hook is registered."""
        hooks = self.hooks
        if hooks is None or not hooks.has(point):
            return None
        decided = hooks.before(point, data(), component="sessions", correlation_id=cid,
                               session_id=sid)
        return _SKIP if decided.__class__ is hooks.Skipped else decided

    def _publish(self, kind: str, session: Session, cid: str, *,
                 reason: str | None = None) -> None:
        if self.events is None:
            return
        data = {"session_id": session.id, "name": session.name, "status": session.status}
        if reason:
            data["reason"] = reason
        self.events.publish(kind, data, correlation_id=cid, session_id=session.id,
                            source="sessions", redact=True)

    def _check_enabled(self) -> None:
        if not self.settings.enabled:
            raise SessionError(DISABLED)


def _created_redacted(redactor: Any, session: Session) -> tuple[str, ...]:
    """The fields of the data of ``session.created`` the journal need not check for secrets
    (``Draft.redacted``): those that every entry has (:data:`_CREATED_FIELDS`) when the
    session's name, tags and parent id are plain to the journal's redactor
    (``Redactor.plain_texts``, judged once per distinct text); none otherwise, and the
    journal checks the whole entry. No field name of the entry is a secret's, and its other
    values are numbers and None, which redaction keeps; a description, metadata or limits
    are checked as they come (~12k instructions per create)."""
    if session.parent_session_id is None:
        texts = [session.name, *session.tags]
    else:
        texts = [session.name, session.parent_session_id, *session.tags]
    return _CREATED_FIELDS if redactor.plain_texts(texts) else ()


#: The fields of every ``session.created`` entry (the data of a session created with none
#: of the optional ones).
_CREATED_FIELDS = tuple(created_entry(Session("", "", ACTIVE, 0.0, 0.0)))


def _changed_by_hook(session: Session, data: Any, max_metadata_bytes: int) -> Session:
    """``session`` with what a ``session:start`` hook changed in ``data["session"]``.

    Raises:
        ValidationError: the data has no ``session`` table, changes a field other than
            :data:`HOOK_FIELDS`, or holds a bad value (named as for ``create``).
    """
    changed = data.get("session") if isinstance(data, dict) else None
    if not isinstance(changed, dict):
        raise ValidationError("hook result", "a 'session:start' hook that modifies must "
                              "return data with a 'session' table (the data it was given, "
                              "changed)", got=data)
    shown = session.to_dict()
    for key, value in changed.items():
        if key not in HOOK_FIELDS and (key not in shown or value != shown[key]):
            raise ValidationError("hook result", "a 'session:start' hook may change only "
                                  + ", ".join(HOOK_FIELDS), path=f"$.session.{key}", got=value)
    field = {key: changed.get(key, shown[key]) for key in HOOK_FIELDS}
    return replace(
        session, name=check_name(field["name"]),
        description=check_text(field["description"], "description"),
        tags=check_tags(field["tags"]),
        metadata=check_metadata(field["metadata"], max_metadata_bytes),
        limits=check_limits(field["limits"]),
        max_duration=check_seconds(field["max_duration"], "max_duration"),
        max_idle_time=check_seconds(field["max_idle_time"], "max_idle_time"),
    )
