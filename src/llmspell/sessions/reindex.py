"""Bring an older store's sessions into the updated index (``sessidx/updated/``, :mod:`.index`).

Stores written before that index existed get it the first time a SessionManager opens them
(or after a restore replaced the sessions under one): the records are read a page at a time
and each page's entries commit in one batch, under ``expect`` on the records read (a record
changed meanwhile by another process makes the page be read again; that process's write
moved the entry itself). The marker :data:`~llmspell.sessions.index.UPDATED_INDEX_DONE` goes
last, so an interrupted run simply starts again. A store with no sessions is left as it is:
the first session created in it writes the marker in its own batch (the manager asks
:func:`ensure_updated_index` whether to). The entries are those the records call for
(:func:`~llmspell.sessions.index.updated_key`), so a run over a store already indexed writes
nothing new.
"""

from __future__ import annotations

from llmspell.sessions import index
from llmspell.sessions.model import Session
from llmspell.storage.base import Op, Put, Store
from llmspell.storage.retry import Planned, retry_batch

_PAGE = 512


def ensure_updated_index(store: Store) -> int:
    """Give every session record its updated index entry. Returns how many records were read,
    0 when the marker says the store is indexed already, or -1 when the store has no sessions
    and no marker (the next create should write it).

    Raises:
        CorruptRecord: a session record does not decode (named by its key); nothing of its
            page is written and the marker stays absent.
    """
    if store.get(index.UPDATED_INDEX_DONE) is not None:
        return 0
    start: str | None = None
    read = 0
    while True:
        def build(attempt: int, after: str | None = start) -> Planned[tuple[str | None, int]]:
            page = list(store.scan(index.RECORD_PREFIX, start_after=after, limit=_PAGE))
            ops: list[Op] = []
            expect: dict[str, bytes | None] = {}
            for key, raw in page:
                ops.append(Put(index.updated_key(Session.decode(raw, key)), b""))
                expect[key] = raw
            return ops, expect, (page[-1][0] if page else None, len(page))

        start, count = retry_batch(store, build, what="index the sessions of an older store")
        read += count
        if start is None:
            break
    if not read:
        return -1
    store.put(index.UPDATED_INDEX_DONE, b"1")
    return read
