"""Pieces the backends share: key ranges, paged scans, durability names, the closed-store error.

A scan is served in pages. Each page is one short read (a statement, a read transaction, an
iterator) that is finished before the page is yielded, so an abandoned iterator holds no lock,
snapshot or cursor, and ``close()`` never races an open cursor. The next page resumes after the
last key seen, which is also how callers page across calls with ``start_after``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NoReturn

from llmspell.errors import StorageError, ValidationError

#: The durability settings every backend accepts; see docs/storage.md for what each means.
DURABILITIES = ("normal", "full")

#: The first page of a scan holds this many pairs; later pages double, up to PAGE_ROWS_MAX.
PAGE_ROWS = 128
PAGE_ROWS_MAX = 4096
#: A page stops early once its values add up to this many bytes, to bound memory.
PAGE_BYTES = 8 << 20


def check_durability(durability: object) -> str:
    """Refuse a durability that is not one of :data:`DURABILITIES`."""
    if durability not in DURABILITIES:
        raise ValidationError("durability", "must be one of 'normal', 'full'", got=durability)
    return str(durability)


def make_dir(path: str, store: str) -> None:
    """Create directory ``path`` (and parents) for ``store``; StorageError saying why not."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise StorageError(f"{store}: cannot create directory {path}: a file of that name "
                           "is in the way") from None
    except OSError as exc:
        raise StorageError(f"{store}: cannot create directory {path}: "
                           f"{exc.strerror or exc}; make its parent writable, or put the "
                           "store where you can write ([storage] url, e.g. --set "
                           "storage.url=sqlite:///path/to/llmspell.db)") from exc


def raise_closed() -> NoReturn:
    """Raise the error every backend gives for an operation on a closed store."""
    raise StorageError("store is closed")


class Closed:
    """Stands in for a closed connection/environment: any attribute access raises.

    Backends swap their handle for this on close, so the hot paths need no "is it closed?"
    check of their own.
    """

    def __getattr__(self, name: str) -> NoReturn:
        raise_closed()


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``.

    ``None`` when there is none (the prefix is all U+10FFFF). Code-point order equals UTF-8
    byte order, so this bound works for backends that compare either way. Surrogates are
    skipped because they cannot be encoded.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return "".join(chars) + chr(nxt)
    return None


@dataclass(frozen=True, slots=True)
class KeyRange:
    """Keys ``low < key`` (``low <= key`` when ``low_inclusive``) and ``key < high``.

    ``None`` on either side means unbounded.
    """

    low: str | None
    low_inclusive: bool
    high: str | None

    def after(self, key: str, reverse: bool) -> KeyRange:
        """The rest of this range once ``key`` has been read, in scan direction."""
        if reverse:
            return KeyRange(self.low, self.low_inclusive, key)
        return KeyRange(key, False, self.high)

    def contains(self, key: str) -> bool:
        if self.low is not None and (key < self.low or (key == self.low
                                                          and not self.low_inclusive)):
            return False
        return self.high is None or key < self.high


def key_range(prefix: str, start_after: str | None, reverse: bool) -> KeyRange | None:
    """The range a scan covers, or ``None`` when it is certainly empty."""
    low = prefix or None
    low_inclusive = True
    high = prefix_end(prefix) if prefix else None
    if start_after is not None:
        if reverse:
            if high is None or start_after < high:
                high = start_after
        elif low is None or start_after >= low:
            low, low_inclusive = start_after, False
    if low is not None and high is not None and high <= low:
        return None
    return KeyRange(low, low_inclusive, high)


#: ``fetch(range, want, reverse) -> (pairs, more)``: up to ``want`` pairs in scan order, and
#: whether the range may hold more after them.
FetchPage = Callable[[KeyRange, int, bool], tuple[list[tuple[str, bytes]], bool]]


def paged_scan(fetch: FetchPage, prefix: str, start_after: str | None, limit: int | None,
               reverse: bool) -> Iterator[tuple[str, bytes]]:
    """Serve a scan page by page with ``fetch`` (see the module docstring)."""
    rng = key_range(prefix, start_after, reverse)
    if rng is None:
        return
    remaining = limit
    page = PAGE_ROWS
    while True:
        want = page if remaining is None else min(page, remaining)
        pairs, more = fetch(rng, want, reverse)
        yield from pairs
        if not more or not pairs:
            return
        if remaining is not None:
            remaining -= len(pairs)
            if remaining <= 0:
                return
        rng = rng.after(pairs[-1][0], reverse)
        page = min(page * 2, PAGE_ROWS_MAX)


def take(pairs: Iterable[tuple[str, bytes]], want: int) -> tuple[list[tuple[str, bytes]], bool]:
    """Up to ``want`` pairs (fewer once PAGE_BYTES is reached); ``more`` is True if cut short."""
    out: list[tuple[str, bytes]] = []
    size = 0
    for pair in pairs:
        out.append(pair)
        size += len(pair[1])
        if len(out) >= want or size >= PAGE_BYTES:
            return out, True
    return out, False


_FIRST_CHUNK = 16
_second = itemgetter(1)


def take_rows(cursor: Any, want: int) -> tuple[list[tuple[str, bytes]], bool]:
    """Like :func:`take` for a DB-API cursor whose query has ``LIMIT want``.

    Reads in chunks (16 rows, then doubling) so counting bytes costs no Python per row; a
    page may go over PAGE_BYTES by at most its last chunk.
    """
    out: list[tuple[str, bytes]] = []
    size = 0
    chunk_rows = _FIRST_CHUNK
    while True:
        chunk = cursor.fetchmany(chunk_rows)
        out += chunk
        if len(chunk) < chunk_rows:
            return out, len(out) >= want
        size += sum(map(len, map(_second, chunk)))
        if size >= PAGE_BYTES:
            return out, True
        chunk_rows *= 2
