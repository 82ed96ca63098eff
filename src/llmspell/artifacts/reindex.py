"""Bring an older store's artifacts into the ``arts/`` index (see :mod:`.keys`).

Stores written before the index existed get it the first time an ArtifactManager opens them,
page by page (:func:`~llmspell.storage.backfill.backfill`: a record changed meanwhile by
another process makes its page be read again). The marker
:data:`~llmspell.artifacts.keys.SESSION_INDEX_DONE` goes last, so an interrupted run simply
starts again. A store with no artifacts is left as it is.
"""

from __future__ import annotations

from llmspell.artifacts import keys
from llmspell.artifacts.model import decode_record
from llmspell.storage.backfill import backfill
from llmspell.storage.base import Store


def ensure_session_index(store: Store) -> int:
    """Index every artifact record lacking its ``arts/`` key; how many records were read
    (0 when the store is indexed already or has no artifacts)."""
    if store.get(keys.SESSION_INDEX_DONE) is not None:
        return 0

    def index_key(key: str, raw: bytes) -> str | None:
        artifact = decode_record(key, raw)
        return None if artifact is None else keys.session_time_key(artifact)

    read = backfill(store, keys.RECORD_PREFIX, index_key,
                    what="index the artifacts of an older store")
    if read:
        store.put(keys.SESSION_INDEX_DONE, b"1")
    return read
