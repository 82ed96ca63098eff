"""Bring an older store's artifacts into the ``arts/`` index (see :mod:`.keys`).

Stores written before the index existed get it the first time an ArtifactManager opens them:
the records are read a page at a time and each page's index keys commit in one batch, under
``expect`` on the records read (a record changed meanwhile by another process makes the page
be read again). The marker :data:`~llmspell.artifacts.keys.SESSION_INDEX_DONE` goes last, so
an interrupted run simply starts again. A store with no artifacts is left as it is.
"""

from __future__ import annotations

from llmspell.artifacts import keys
from llmspell.artifacts.model import decode_record
from llmspell.storage.base import Op, Put, Store
from llmspell.storage.retry import Planned, retry_batch

_PAGE = 512


def ensure_session_index(store: Store) -> int:
    """Index every artifact record lacking its ``arts/`` key; how many records were read
    (0 when the store is indexed already or has no artifacts)."""
    if store.get(keys.SESSION_INDEX_DONE) is not None:
        return 0
    start: str | None = None
    read = 0
    while True:
        def build(attempt: int, after: str | None = start) -> Planned[tuple[str | None, int]]:
            page = list(store.scan(keys.RECORD_PREFIX, start_after=after, limit=_PAGE))
            ops: list[Op] = []
            expect: dict[str, bytes | None] = {}
            for key, raw in page:
                artifact = decode_record(key, raw)
                if artifact is not None:
                    ops.append(Put(keys.session_time_key(artifact), b""))
                    expect[key] = raw
            return ops, expect, (page[-1][0] if page else None, len(page))

        start, count = retry_batch(store, build, what="index the artifacts of an older store")
        read += count
        if start is None:
            break
    if read:
        store.put(keys.SESSION_INDEX_DONE, b"1")
    return read
