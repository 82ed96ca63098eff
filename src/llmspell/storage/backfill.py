"""Index keys added to an older store, page by page, for a kind of record that got an index
after stores were written.

:func:`backfill` reads the records under a prefix a page at a time; each page's index keys
commit in one batch under ``expect`` on the records read, so a record another process changed
meanwhile makes the page be read again (that process's write placed its own index key). The
caller writes its "indexed" marker afterwards: an interrupted run simply starts again, and a
key already present is only written again.
"""

from __future__ import annotations

from collections.abc import Callable

from llmspell.storage.base import Op, Put, Store
from llmspell.storage.retry import Planned, retry_batch

PAGE = 512


def backfill(store: Store, prefix: str, index_key: Callable[[str, bytes], str | None], *,
             what: str) -> int:
    """Put ``index_key(key, raw)`` (an empty value; None: no key for that record) for every
    record under ``prefix``; returns how many records were read. ``what`` names the work in
    the error of a store that stays contended.

    Raises:
        whatever ``index_key`` raises for a record that does not decode (nothing of its page
        is written), and the store's errors.
    """
    start: str | None = None
    read = 0
    while True:
        def build(attempt: int, after: str | None = start) -> Planned[tuple[str | None, int]]:
            page = list(store.scan(prefix, start_after=after, limit=PAGE))
            ops: list[Op] = []
            expect: dict[str, bytes | None] = {}
            for key, raw in page:
                entry = index_key(key, raw)
                if entry is not None:
                    ops.append(Put(entry, b""))
                    expect[key] = raw
            return ops, expect, (page[-1][0] if page else None, len(page))

        start, count = retry_batch(store, build, what=what)
        read += count
        if start is None:
            return read
