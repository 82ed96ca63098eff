"""Artifact writes, each ONE atomic batch: the content's blob (created or re-referenced),
the metadata record and its index keys, the owning session's counters, and the session's
journal entry commit together or not at all.

A batch that loses a race (another writer took the version number, changed the blob's count,
the session record or the journal) changes nothing and returns False; the write is then
retried on fresh reads (:func:`~llmspell.storage.retry.retry_batch`). Journal kinds:
``artifact.stored`` (every store, including a new version; ``data.version`` and
``data.previous_version`` say which) and ``artifact.deleted``.

The next version of a name is normally found with a reverse scan of the name's keys. A writer
skips that scan when its own stores prove the answer (:class:`_Known`): every artifact write
appends to its session's journal in the same batch, and every store's batch holds ``expect``
on the journal's tail and on the session record. So while the tail is still the entry of this
writer's last store, or every entry since was appended through this process's session
manager, each on the one before (``SessionManager.run_at``: an agent's ``llm.call``, its
events), no artifact of the session changed since; the newest version of a name this writer
stored in that unbroken run is its own, and when the run began on a session with no artifact
keys at all, a name it has not stored is new. A stale belief only makes the batch fail (the
tail moved), and the retry reads again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from llmspell.artifacts import keys
from llmspell.artifacts.blobs.store import BlobStore
from llmspell.artifacts.blobs.writer import StagedBlob
from llmspell.artifacts.model import Artifact, decode_record, name_key
from llmspell.artifacts.validate import CollectionOff, collecting
from llmspell.bounded import BoundedCache
from llmspell.codec import compact, stored_object
from llmspell.errors import (
    ArtifactError,
    ArtifactNotFound,
    BlobNotFound,
    SessionNotFound,
    ValidationError,
)
from llmspell.journal import Draft, Position
from llmspell.sessions.counters import ArtifactCounters, SessionView
from llmspell.sessions.ride import waiting
from llmspell.storage.base import Delete, Op, Put, Store
from llmspell.storage.retry import Planned, retry_batch

logger = logging.getLogger("llmspell.artifacts")

STORED = "artifact.stored"
#: The fields of an ``artifact.stored`` entry, in order (``by_session`` when another session
#: stored it): the journal's check of ``Draft.redacted`` is cheapest for the entry's own.
_ENTRY_FIELDS = ("id", "name", "version", "previous_version", "content_hash", "size",
                 "artifact_type", "mime_type", "by_session")
DELETED = "artifact.deleted"
_PAGE = 256
#: Sessions whose names a writer remembers (:class:`_Known`), and versions per session.
_KNOWN_SESSIONS = 64
_KNOWN_NAMES = 256
#: Bits of the filter of a session's stored name keys (8 KB): past ~6,500 names, about one
#: new name in ten is scanned for (a bit already set by another name).
_FILTER_BITS = 1 << 16
#: Entries of the writer's memo of names judged plain (:meth:`ArtifactWriter._own_fields`).
_PLAIN_MAX = 1024


@dataclass(slots=True)
class _Known:
    """What this writer's own stores in one session prove (see the module docstring):
    ``position`` is the session's journal tail right after the last of them, ``run`` the
    session manager's run of appends that reached it (entries appended through the manager
    since, an agent's ``llm.call`` say, keep what is known: ``ArtifactCounters.unbroken``);
    ``versions``
    the newest version (its name and record bytes) of name keys stored since the run began
    (at most
    :data:`_KNOWN_NAMES`); ``stored``, when the run began on a session without artifact
    keys, a filter of every name key stored since (one bit per key, by its first 16 bits:
    a clear bit proves a name new), else None."""

    position: Position
    run: int | None
    versions: dict[str, tuple[int, str, bytes]]
    stored: bytearray | None

    def mark(self, nkey: str) -> None:
        if self.stored is not None:
            bit = int(nkey[:4], 16)  # a name key is hex digits of a hash: evenly spread
            self.stored[bit >> 3] |= 1 << (bit & 7)

    def maybe_stored(self, nkey: str) -> bool:
        if self.stored is None:
            return True
        bit = int(nkey[:4], 16)
        return bool(self.stored[bit >> 3] & (1 << (bit & 7)))


@dataclass(slots=True)
class StoreRequest:
    """A store, checked and ready: everything but the content and its version."""

    session_id: str
    name: str
    artifact_type: str
    mime_type: str
    tags: list[str] = field(default_factory=list)
    description: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    encoding: str | None = None
    by_session: str | None = None  # the asking session, when it is not the owner
    collected: bool = False  # an automatic collection: not an operation of its own


class ArtifactWriter:
    """Stores and deletes artifacts (see the module docstring)."""

    def __init__(self, store: Store, blobs: BlobStore, counters: ArtifactCounters,
                 clock: Callable[[], float]) -> None:
        self.store = store
        self.blobs = blobs
        self.counters = counters
        self.journal = counters.journal
        self.clock = clock
        self._known: BoundedCache[str, _Known] = BoundedCache(_KNOWN_SESSIONS)
        self._lock = threading.Lock()
        self._plain: dict[tuple[str, str, str, str, str | None], tuple[str, ...]] = {}
        self._plain_for: Any = None

    def store_staged(self, request: StoreRequest, staged: StagedBlob, cid: str) -> Artifact:
        """Store ``staged`` content as the next version of ``request.name``.

        Raises SessionNotFound, SessionError (not active), ResourceLimitExceeded,
        ArtifactError (a name-key collision), StorageError.
        """
        sid, name = request.session_id, request.name
        nkey = name_key(name)
        counters = self.counters
        operation = not request.collected
        first = counters.admit_policies(sid, staged.size) if operation else None
        # The settlement of the call whose answer this collects, when it waits for this
        # batch (llmspell.sessions.ride): counted here, its entries written before ours.
        ride = waiting(sid) if request.collected else None
        operations, tokens, cost = ((int(operation), 0, 0.0) if ride is None
                                    else (ride.operations, ride.tokens, ride.cost))
        # The batch goes to batch_unchecked: its Puts in the store's form (a plain tuple on
        # the memory store, Store.make_put).
        make_put = self.store.make_put

        def build(attempt: int) -> Planned[tuple[Artifact, SessionView, list[Op], Position,
                                                 bool, bytes]]:
            now = self.clock()
            view = first if first is not None and not attempt else counters.read(
                sid, fresh=attempt > 0)
            if attempt and request.collected and not collecting(view.session.metadata):
                raise CollectionOff(sid)  # decided on a record that changed (manager)
            view = counters.admit_store(view, staged.size, now, f"artifact {name!r}",
                                        operation=operation)
            version, previous, tomb, empty, mine = self._next_version(sid, nkey, name, view)
            # the blob's ops first (see below)
            ops, bexpect, meta = staged.plan(1, fresh=attempt > 0)
            artifact = Artifact(
                sid, name, version, staged.hash, request.artifact_type, request.mime_type,
                staged.size, meta.stored, meta.codec, now, request.tags,
                request.description, request.custom, request.created_by, previous,
                request.encoding)
            key = keys.record_key(sid, nkey, version)
            record = artifact.encode()
            cops, cexpect, written = counters.ops(view, 1, staged.size, now,
                                                  operations=operations, tokens=tokens,
                                                  cost=cost, make_put=make_put)
            ops += cops
            ops.append(make_put((key, record)))
            ops.extend([make_put((k, b"")) for k in keys.index_keys(artifact)])
            if tomb is not None:
                ops.append(Delete(tomb))
            entry = {"id": artifact.id, "name": name, "version": version,
                     "previous_version": previous, "content_hash": staged.hash,
                     "size": staged.size, "artifact_type": request.artifact_type,
                     "mime_type": request.mime_type}
            if request.by_session:
                entry["by_session"] = request.by_session
            # The manager checked the session id; the batch's expect on the session record
            # (cexpect) proves the journal was not deleted since: ``guarded``.
            draft = Draft(STORED, entry, cid, self._own_fields(sid, nkey, request))
            jops, jexpect = self.journal.entries_ops(
                sid, (draft,) if ride is None else (*ride.drafts, draft, *ride.trailing),
                after=view.position, checked=True,
                guarded=True, fresh=attempt > 0, make_put=make_put)
            expect = {key: None, **bexpect, **cexpect, **jexpect}
            if mine is not None:  # the version believed newest: still the record we wrote
                expect[keys.record_key(sid, nkey, version - 1)] = mine
            # Keys are distinct, so order is free; the blob's ops first keep a large value
            # (its own statements on sqlite) out of the run of small puts that the store
            # writes in one statement: ~10k instructions less per store.
            ops += jops
            return ops, expect, (artifact, written, jops, view.position, empty, record)

        # Unchecked: every key of the batch is built here from checked parts (a session id
        # that matched its pattern, a name's hash, a checked type and tags, content hashes;
        # at most about 380 bytes, see keys.py), and every value is bytes we encoded.
        artifact, written, jops, base, empty, record = retry_batch(
            self.store, build, what=f"store artifact {name!r} in session {sid}",
            checked=False, lost=lambda: self._lost(sid))
        if ride is not None:
            ride.taken()
        self._stored(sid, nkey, artifact, record, base, counters.committed(written, jops),
                     empty)
        return artifact

    def _own_fields(self, sid: str, nkey: str, request: StoreRequest) -> tuple[str, ...]:
        """The fields of a store's journal entry the journal need not check for secrets
        (``Draft.redacted``): all of them when its words that may be the caller's (the id's
        session and name key, the name, the types, the asking session) hold no hint of a
        secret, judged as the journal judges an entry (``might_hold_secret_json``: always
        True with extra patterns) once per name; none otherwise, and the journal checks the
        whole entry. The field names and the other values (versions and a size: digits; a
        content hash: hex digits) hold no hint, so the entry's text holds one exactly when
        those words do. A collection stores one name again and again: the journal's check
        of its entry was ~17k instructions per agent call."""
        redactor = self.journal.redactor
        if self._plain_for is not redactor:  # the journal's rules were replaced
            self._plain = {}
            self._plain_for = redactor
        key = (sid, request.name, request.artifact_type, request.mime_type,
               request.by_session)
        fields = self._plain.get(key)
        if fields is None:
            text = orjson.dumps([f"{sid}/{nkey}/", *key[1:]]).decode("utf-8")
            fields = (() if redactor.might_hold_secret_json(text)
                      else _ENTRY_FIELDS if request.by_session else _ENTRY_FIELDS[:-1])
            if len(self._plain) >= _PLAIN_MAX:
                self._plain.clear()
            self._plain[key] = fields
        return fields

    def _next_version(self, sid: str, nkey: str, name: str,
                      view: SessionView) -> tuple[int, int | None, str | None, bool,
                                                  bytes | None]:
        """``(version, previous version, tombstone key to remove, whether the session has no
        artifact keys at all, the previous version's record bytes when they come from this
        writer's memory)`` for a new store; ``view``: the session as this attempt's batch
        expects it. A remembered record is expected unchanged, so a record damaged or
        rewritten since fails the batch and the retry scans (and names a damaged key)."""
        with self._lock:
            known = self._known.get(sid)
            if known is not None and self._holds(sid, known, view.position):
                hit = known.versions.get(nkey)
                if hit is not None:
                    version, stored, raw = hit  # this writer's own store: the newest, live
                    _check_collision(name, stored, nkey)
                    return version + 1, version, None, False, raw
                if not known.maybe_stored(nkey):
                    return 1, None, None, False, None
        # No artifact counted: perhaps no artifact keys at all (tombstones could be left).
        # One look at the session's keys tells, and then every name of the session is known.
        if view.session.counters.artifacts == 0 and next(
                self.store.keys(keys.session_prefix(sid), limit=1), None) is None:
            return 1, None, None, True, None
        newest = list(self.store.scan(keys.name_prefix(sid, nkey), limit=2, reverse=True))
        if not newest:
            return 1, None, None, False, None
        top_key = newest[0][0]
        top = keys.version_of(top_key)
        live = None  # the newest live record among the two, decoded once
        for key, raw in newest:
            record = stored_object(raw, key)
            if not record.get("deleted"):
                live = key, record
                break
        tomb = top_key if live is None or live[0] != top_key else None
        previous = None
        if live is not None:
            key, record = live
            _check_collision(name, record.get("name"), nkey)
            previous = keys.version_of(key)
        return top + 1, previous, tomb, False, None

    def _stored(self, sid: str, nkey: str, artifact: Artifact, record: bytes, base: Position,
                position: Position, empty: bool) -> None:
        """Remember a committed store (``base``: the journal tail its batch expected,
        ``position``: the tail after it; ``empty``: the session had no artifact keys)."""
        mine = (artifact.version, artifact.name, compact(record))  # kept: not orjson's 4 KB
        with self._lock:
            known = self._known.get(sid)
            if known is None or not self._holds(sid, known, base, position):
                # another write came between
                known = _Known(position, None, {},
                               bytearray(_FILTER_BITS // 8) if empty else None)
                self._known.touch(sid, known)
            elif nkey not in known.versions and len(known.versions) >= _KNOWN_NAMES:
                known.versions.clear()  # bounded: those names are scanned for again
            known.versions[nkey] = mine
            known.mark(nkey)
            known.position = position
            # read with the position it belongs to: None when another append came since
            known.run = self.counters.run_at(sid, position)
            self._known.move_to_end(sid)

    def _holds(self, sid: str, known: _Known, position: Position,
               now: Position | None = None) -> bool:
        """Whether what ``known`` says still holds at journal ``position``: no artifact write
        but this writer's came between (the tail has not moved since its last store, or every
        entry since was appended through this process's session manager, one on another,
        up to ``now``, the tail cached now, default ``position``)."""
        return known.position == position or self.counters.unbroken(
            sid, known.run, position if now is None else now)

    def _forget(self, sid: str) -> None:
        with self._lock:
            self._known.pop(sid, None)

    def _lost(self, sid: str) -> None:
        """A batch lost a race: what was known of the session is stale."""
        self.counters.invalidate(sid)
        self._forget(sid)

    def delete(self, artifact: Artifact, cid: str, by_session: str | None) -> None:
        """Delete one artifact: its record (a tombstone when it is the newest version of its
        name), its index keys, one reference to its blob, and count it out of its session.

        Raises ArtifactNotFound when it is already gone.
        """
        sid = artifact.session_id
        key = keys.record_key(sid, artifact.name_key, artifact.version)
        prefix = keys.name_prefix(sid, artifact.name_key)
        counters = self.counters

        def build(attempt: int) -> Planned[tuple[Any, list[Op]] | None]:
            raw = self.store.get(key)
            if raw is None or decode_record(key, raw) is None:
                raise ArtifactNotFound(f"artifact {artifact.id} ({artifact.name!r} version "
                                       f"{artifact.version}) is already deleted")
            newest = next(self.store.keys(prefix, limit=1, reverse=True), None)
            ops: list[Op] = [Put(key, keys.tombstone(artifact.version)) if newest == key
                             else Delete(key)]
            ops.extend(Delete(k) for k in keys.index_keys(artifact))
            expect: dict[str, bytes | None] = {key: raw}
            ops.extend(self._unref({artifact.content_hash: -1}, expect))
            now = self.clock()
            try:
                view = counters.read(sid, fresh=attempt > 0)
            except SessionNotFound:
                view = None  # the session is being deleted: nothing to count or journal
            if view is None:
                return ops, expect, None
            cops, cexpect, written = counters.ops(view, -1, -artifact.size, now)
            entry = {"id": artifact.id, "name": artifact.name, "version": artifact.version,
                     "content_hash": artifact.content_hash, "size": artifact.size}
            if by_session:
                entry["by_session"] = by_session
            jops, jexpect = self.journal.entry_ops(sid, DELETED, entry, correlation_id=cid,
                                                   after=view.position, fresh=attempt > 0)
            ops += [*cops, *jops]
            expect.update(cexpect)
            expect.update(jexpect)
            return ops, expect, (written, jops)

        counted = retry_batch(self.store, build, what=f"delete artifact {artifact.id}",
                              lost=lambda: self._lost(sid))
        if counted is not None:
            counters.committed(*counted)
            self._forget(sid)  # what it knew of the name may be the record just deleted

    def delete_session(self, session_id: str, extra: list[Op]) -> int:
        """Remove every artifact of a deleted session, a page at a time, dropping their blob
        references; ``extra`` (its grants) goes with the last page. Returns how
        many artifacts went. Safe to run again after an interruption."""
        prefix = keys.session_prefix(session_id)

        def build(attempt: int) -> Planned[tuple[int, bool]]:
            page = list(self.store.scan(prefix, limit=_PAGE))
            ops: list[Op] = []
            expect: dict[str, bytes | None] = {}
            deltas: dict[str, int] = {}
            count = 0
            for key, raw in page:
                ops.append(Delete(key))
                expect[key] = raw
                artifact = decode_record(key, raw)
                if artifact is None:
                    continue
                ops.extend(Delete(k) for k in keys.index_keys(artifact))
                deltas[artifact.content_hash] = deltas.get(artifact.content_hash, 0) - 1
                count += 1
            ops.extend(self._unref(deltas, expect))
            last = len(page) < _PAGE
            if last:
                ops.extend(extra)
            return ops, expect, (count, last)

        removed = 0
        last = False
        while not last:
            count, last = retry_batch(
                self.store, build, what=f"delete the artifacts of session {session_id}")
            removed += count
        return removed

    def _unref(self, deltas: dict[str, int], expect: dict[str, bytes | None]) -> list[Op]:
        """Ops dropping blob references; a missing or already-zero blob is logged, not fatal
        (the artifact must still be deletable when its content was lost)."""
        if not deltas:
            return []
        try:
            change = self.blobs.ref_ops_many(deltas)
        except (BlobNotFound, ValidationError):
            if len(deltas) > 1:  # keep the references that can be dropped
                return [op for h, d in deltas.items() for op in self._unref({h: d}, expect)]
            logger.warning("deleting an artifact whose content %s is missing or has no "
                           "reference left; nothing to release", next(iter(deltas)))
            return []
        expect.update(change.expect)
        return list(change.ops)


def _check_collision(name: str, other: Any, nkey: str) -> None:
    if other != name:
        raise ArtifactError(f"artifact names {name!r} and {other!r} have the same name key "
                            f"{nkey} in this session (a hash collision); rename one of them")
