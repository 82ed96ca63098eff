"""Bring an older store's sessions into the updated index (``sessidx/updated/``, :mod:`.index`).

Stores written before that index existed get it the first time a SessionManager opens them
(or after a restore replaced the sessions under one), page by page
(:func:`~llmspell.storage.backfill.backfill`: a record another process changed meanwhile
makes its page be read again; that process's write moved the entry itself). The marker
:data:`~llmspell.sessions.index.UPDATED_INDEX_DONE` goes last, so an interrupted run simply
starts again. A store with no sessions is left as it is: the first session created in it
writes the marker in its own batch (the manager asks :func:`ensure_updated_index` whether
to). The entries are those the records call for (:func:`~llmspell.sessions.index.updated_key`),
so a run over a store already indexed writes nothing new.
"""

from __future__ import annotations

from llmspell.sessions import index
from llmspell.sessions.model import Session
from llmspell.storage.backfill import backfill
from llmspell.storage.base import Store


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
    read = backfill(store, index.RECORD_PREFIX,
                    lambda key, raw: index.updated_key(Session.decode(raw, key)),
                    what="index the sessions of an older store")
    if not read:
        return -1
    store.put(index.UPDATED_INDEX_DONE, b"1")
    return read
