"""The sessions' part of ``llmspell doctor --deep`` (:mod:`llmspell.integrity`): their records
decode, and their index entries and records agree.

Sessions own their keys (:mod:`.index`), so this module is the one that reads them during a
full scan: :meth:`SessionScan.feed` takes every pair of the scan and keeps what it needs;
:meth:`SessionScan.index_problems` then compares the index entries found with those the
records call for.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmspell.sessions import index
from llmspell.sessions.model import Session

_PREFIXES = (index.RECORD_PREFIX, index.INDEX_PREFIX, index.TOMBSTONE_PREFIX,
             index.UPDATED_INDEX_DONE)
_UPDATED = index.INDEX_PREFIX + "updated/"


class SessionScan:
    """What a full scan of a store collects about its sessions."""

    def __init__(self) -> None:
        self.records = 0
        self.stored: set[str] = set()  # ids with a record, readable or not
        self.deleting: set[str] = set()
        self.entries: set[str] = set()
        self.expected: set[str] = set()
        #: The store's updated index is complete (its marker is stored): without it (an
        #: older store no SessionManager has opened yet, or a read-only one) the updated
        #: entries are not expected yet (:mod:`.reindex` makes them).
        self.updated_done = False

    def feed(self, key: str, raw: bytes) -> bool:
        """Take one pair of the scan; False when ``key`` is not a session key.

        Raises:
            CorruptRecord: a session record that does not decode (the session still counts
                as stored, so its index entries and journal are not reported as orphans).
        """
        if not key.startswith(_PREFIXES):
            return False
        if key == index.UPDATED_INDEX_DONE:
            self.updated_done = True
        elif key.startswith(index.INDEX_PREFIX):
            self.entries.add(key)
        elif key.startswith(index.TOMBSTONE_PREFIX):
            self.deleting.add(key[len(index.TOMBSTONE_PREFIX):])
        else:
            self.records += 1
            self.stored.add(key[len(index.RECORD_PREFIX):])
            session = Session.decode(raw, key)
            self.expected.update(index.index_keys(session))
        return True

    def known(self, session_id: str) -> bool:
        """Whether ``session_id`` has a record (readable or not) or is being deleted."""
        return session_id in self.stored or session_id in self.deleting

    def index_problems(self) -> Iterator[tuple[str, str]]:
        """``(index key, problem)`` for each entry that points at no record listing it, and
        each entry a record calls for that is missing."""
        for entry in sorted(self.entries - self.expected):
            sid = entry.rsplit("/", 1)[-1]
            state = ("whose record does not list it (stale) or is damaged"
                     if sid in self.stored else "that is not stored")
            yield entry, f"points at session {sid}, {state}"
        for entry in sorted(self.expected - self.entries):
            if not self.updated_done and entry.startswith(_UPDATED):
                continue  # not made yet: the next SessionManager to open the store makes it
            yield entry, (f"is missing: session {entry.rsplit('/', 1)[-1]} is not listed by "
                          "this index")


__all__ = ["SessionScan"]
