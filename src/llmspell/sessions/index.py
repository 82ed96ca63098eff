"""Where sessions live in the store, and the index keys that let ``list`` avoid full scans.

::

    session/<id>                                      the record (JSON, Session.to_record)
    sessidx/status/<status>/<created us>/<id>         one per session, moved on transitions
    sessidx/tag/<tag>/<created us>/<id>               one per tag ('/' and '%' escaped)
    sessidx/parent/<parent id>/<created us>/<id>      one per child session
    sessidx/updated/<status>/<updated us>/<id>        one per session, moved by every write
                                                      that moves its updated_at
    sessmeta/active_count                             how many sessions are active (CAS'd)
    sessmeta/updated_index                            the updated index is complete (see
                                                      :mod:`.reindex`)
    sessdel/<id>                                      a deletion in progress (see delete)
    sesslease/<id>                                    the session's lease (sessions.lease)

``<created us>`` is the creation time in microseconds, 16 digits, so each index lists its
sessions in creation order and a created-before/after filter is a key range. A query is
driven by the most selective index its filters allow (parent, else the smallest tag, else
the statuses); the other filters are checked on the records, which are fetched in pages.
Only a query with no status, tag or parent filter walks the status indexes of every session.

The updated index lists each status's sessions in ``updated_at`` order, so a list sorted by
``updated_at`` (with no tag or parent filter) reads only the entries it returns. Every batch
that rewrites a record with a new ``updated_at`` or status moves the entry
(:func:`index_ops`), under the same ``expect`` on the record as the rest of the write; a
reader still checks each entry against the record it names and skips one that disagrees.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from llmspell.sessions.model import STATUSES, Session
from llmspell.storage.base import Delete, Op, Store, new_put

RECORD_PREFIX = "session/"
INDEX_PREFIX = "sessidx/"
ACTIVE_COUNT_KEY = "sessmeta/active_count"
#: Present once every record of the store has its updated index entry (:mod:`.reindex`).
UPDATED_INDEX_DONE = "sessmeta/updated_index"
TOMBSTONE_PREFIX = "sessdel/"
LEASE_PREFIX = "sesslease/"
#: The key ranges a whole-store backup copies for sessions (a deletion in progress is not
#: data: it is finished, not restored).
STORE_PREFIXES = (RECORD_PREFIX, INDEX_PREFIX, ACTIVE_COUNT_KEY, UPDATED_INDEX_DONE)


def in_progress_ranges() -> tuple[str, ...]:
    """The store key ranges of sessions' work in progress (deletions being finished) and
    their leases (who drives a session now): not data, so no backup holds them."""
    return (TOMBSTONE_PREFIX, LEASE_PREFIX)


def backup_ranges() -> tuple[str, ...]:
    """The store key ranges that hold sessions (records, indexes, the active count): what a
    whole-store backup copies for them."""
    return STORE_PREFIXES
DIGITS = 16


def record_key(session_id: str) -> str:
    return RECORD_PREFIX + session_id


def lease_key(session_id: str) -> str:
    return LEASE_PREFIX + session_id


def micros(timestamp: float) -> int:
    return round(timestamp * 1_000_000)


def _escape(tag: str) -> str:
    return tag.replace("%", "%25").replace("/", "%2F")


def status_prefix(status: str) -> str:
    return f"{INDEX_PREFIX}status/{status}/"


def tag_prefix(tag: str) -> str:
    return f"{INDEX_PREFIX}tag/{_escape(tag)}/"


def parent_prefix(parent_id: str) -> str:
    return f"{INDEX_PREFIX}parent/{parent_id}/"


def updated_prefix(status: str) -> str:
    return f"{INDEX_PREFIX}updated/{status}/"


def updated_key(session: Session) -> str:
    """The session's entry in the updated index."""
    return (f"{INDEX_PREFIX}updated/{session.status}/"
            f"{round(session.updated_at * 1_000_000):016d}/{session.id}")


def _tail(session: Session) -> str:
    """``<created us>/<id>``: what every index key of ``session`` but an updated one that
    moved ends with."""
    # zfill pads exactly as the format spec 016d does (after a sign too) in half its
    # instructions (1.4k against 2.8k; every create and index move builds this tail).
    return f"{str(round(session.created_at * 1_000_000)).zfill(DIGITS)}/{session.id}"


def index_keys(session: Session) -> list[str]:
    """Every index key of ``session`` as it is now."""
    created = session.created_at
    tail = _tail(session)
    status = session.status
    keys = [f"{INDEX_PREFIX}status/{status}/{tail}"]
    for tag in session.tags:
        if "/" in tag or "%" in tag:
            tag = _escape(tag)
        keys.append(f"{INDEX_PREFIX}tag/{tag}/{tail}")
    if session.parent_session_id:
        keys.append(f"{INDEX_PREFIX}parent/{session.parent_session_id}/{tail}")
    if session.updated_at == created:  # a new session: the same time
        keys.append(f"{INDEX_PREFIX}updated/{status}/{tail}")
    else:
        keys.append(updated_key(session))
    return keys


def created_prefixes(session: Session) -> tuple[str, ...]:
    """The index keys of a new session (``updated_at`` its ``created_at``) without their
    common tail: the same for every session created with its status, tags and parent
    (the session manager keeps them per kind of session it creates)."""
    cut = len(_tail(session))
    return tuple(key[:-cut] for key in index_keys(session))


def created_ops(session: Session, raw: bytes,
                make_put: Callable[[tuple[str, bytes]], Op] = new_put,
                prefixes: tuple[str, ...] | None = None) -> list[Op]:
    """The Puts of a new session: its record (``raw``) and its index entries, each made
    by ``make_put`` (the store's ``Store.make_put`` for a batch_unchecked). ``prefixes``:
    its :func:`created_prefixes`, when the caller keeps them (~3k instructions fewer
    than the keys made afresh)."""
    ops: list[Op] = [make_put((RECORD_PREFIX + session.id, raw))]
    if prefixes is not None:
        tail = _tail(session)
        ops += [make_put((prefix + tail, b"")) for prefix in prefixes]
        return ops
    append = ops.append
    for key in index_keys(session):  # (map over zip with repeat: ~1.5k instructions more)
        append(make_put((key, b"")))
    return ops


def index_ops(old: Session | None, new: Session | None,
              make_put: Callable[[tuple[str, bytes]], Op] = new_put) -> list[Op]:
    """The ops that move the index entries of ``old`` to those of ``new``: the deletes, then
    the puts (callers put them before the record's Put, so a SQLite batch runs one DELETE
    and one INSERT statement, not INSERT, DELETE, INSERT). ``make_put``: as in
    :func:`created_ops`."""
    if (old is not None and new is not None and old.status == new.status
            and old.tags == new.tags and old.parent_session_id == new.parent_session_id):
        # The common case (counters, saves): at most the updated entry moves.
        if micros(old.updated_at) == micros(new.updated_at):
            return []
        return [Delete(updated_key(old)), make_put((updated_key(new), b""))]
    before = index_keys(old) if old is not None else []
    after = index_keys(new) if new is not None else []
    keep = set(before) & set(after)
    ops: list[Op] = [Delete(k) for k in before if k not in keep]
    ops.extend(make_put((k, b"")) for k in after if k not in keep)
    return ops


@dataclass(frozen=True)
class Drive:
    """The index prefixes a query walks (merged in creation order) and the key range."""

    prefixes: tuple[str, ...]
    after_us: int | None  # created_at >= this
    before_us: int | None  # created_at < this


def choose(store: Store, *, statuses: tuple[str, ...] | None, tags: tuple[str, ...],
           parent: str | None, created_after: float | None,
           created_before: float | None) -> Drive:
    """The most selective index for these filters (see the module docstring)."""
    after_us = None if created_after is None else micros(created_after)
    before_us = None if created_before is None else micros(created_before)
    if parent is not None:
        prefixes: tuple[str, ...] = (parent_prefix(parent),)
    elif tags:
        if len(tags) == 1:
            prefixes = (tag_prefix(tags[0]),)
        else:
            prefixes = (min((tag_prefix(t) for t in tags), key=store.count),)
    else:
        prefixes = tuple(status_prefix(s) for s in (statuses or STATUSES))
    return Drive(prefixes, after_us, before_us)


def updated_drive(statuses: tuple[str, ...] | None) -> Drive:
    """The updated index of ``statuses`` (every status when None), whole."""
    return Drive(tuple(updated_prefix(s) for s in (statuses or STATUSES)), None, None)


def status_drive(statuses: tuple[str, ...] | None, created_after: float | None,
                 created_before: float | None) -> Drive:
    """The status indexes of ``statuses`` (every status when None) in :data:`STATUSES`
    order, for :func:`entries` with ``chained``: sessions by status, then creation."""
    return Drive(tuple(status_prefix(s) for s in STATUSES if not statuses or s in statuses),
                 None if created_after is None else micros(created_after),
                 None if created_before is None else micros(created_before))


def walk(store: Store, drive: Drive, *, descending: bool = False) -> Iterator[str]:
    """Session ids from the drive's indexes, in creation order (newest first if descending)."""
    for _, tail in entries(store, drive, descending=descending):
        yield tail[DIGITS + 1:]


def entries(store: Store, drive: Drive, *, descending: bool = False,
            first: int | None = None, chained: bool = False) -> Iterator[tuple[str, str]]:
    """``(prefix, "<us>/<id>")`` of the drive's index entries, merged in time order (then
    id order), newest first if ``descending``; ``chained``: one index after the other, in
    the drive's order (reversed if ``descending``). ``first``: how many entries the caller
    expects to need; each index is read in pages of that many, growing if more are wanted
    (None: the store's own paging)."""
    if chained:
        for p in reversed(drive.prefixes) if descending else drive.prefixes:
            for tail, prefix in _walk_one(store, p, drive, descending, first):
                yield prefix, tail
        return
    streams = [_walk_one(store, p, drive, descending, first) for p in drive.prefixes]
    if len(streams) == 1:
        for tail, prefix in streams[0]:
            yield prefix, tail
        return
    for tail, prefix in heapq.merge(*streams, reverse=descending):
        yield prefix, tail


_PAGE_MAX = 4096


def _walk_one(store: Store, prefix: str, drive: Drive, descending: bool,
              first: int | None) -> Iterator[tuple[str, str]]:
    after, before = drive.after_us, drive.before_us
    skip = len(prefix)
    if descending:
        start = None if before is None else f"{prefix}{before:0{DIGITS}d}"
        low = None if after is None else f"{after:0{DIGITS}d}"
        high = None
    else:
        start = None if after is None else f"{prefix}{after:0{DIGITS}d}"
        low = None
        high = None if before is None else f"{before:0{DIGITS}d}"
    size = first
    while True:
        read = 0
        for key in store.keys(prefix, start_after=start, limit=size, reverse=descending):
            read += 1
            tail = key[skip:]
            if (low is not None and tail[:DIGITS] < low) or (
                    high is not None and tail[:DIGITS] >= high):
                return
            yield tail, prefix
            start = key
        if size is None or read < size:
            return
        size = min(size * 4, _PAGE_MAX)
