"""The in-memory backend: a dict for lookups plus sorted keys for ordered scans.

``memory://`` gives a private store that vanishes on close. ``memory://NAME`` gives a store
whose contents are shared by every handle opened with that name in this process and kept until
the process ends (or :func:`forget`), so a test can close a runtime and open it again to check
what survived.
Nothing is ever written to disk. Thread-safe: one lock per set of contents.
"""

from __future__ import annotations

import threading

from llmspell.codec import compact
from llmspell.config_schema import default
from llmspell.errors import ValidationError
from llmspell.storage._sortedkeys import SortedKeys
from llmspell.storage._support import KeyRange, check_durability, prefix_end, raise_closed, take
from llmspell.storage.base import Delete, Op, Put, Store


def _own(value: bytes) -> bytes:
    """The copy the store keeps of ``value``. Always a fresh copy: a bytes subclass comes back
    as plain bytes, as elsewhere, and a small value cut from a bigger buffer (orjson's results
    keep a 4 KB block: 100,000 56-byte values held 400 MB) does not pin that buffer for as long
    as the store holds the value. The empty value (every index entry) is the shared b""."""
    return compact(value) if value else b""


class _Contents:
    """The keys and values behind one or more handles."""

    __slots__ = ("data", "keys", "lock")

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.keys = SortedKeys()
        self.lock = threading.Lock()

    def put(self, key: str, value: bytes) -> None:
        if key not in self.data:
            self.keys.add(key)
        self.data[key] = _own(value)

    def delete(self, key: str) -> bool:
        if self.data.pop(key, None) is None:
            return False
        self.keys.remove(key)
        return True


_NAMED: dict[str, _Contents] = {}
_NAMED_LOCK = threading.Lock()


def forget(name: str) -> bool:
    """Drop the contents kept under ``memory://NAME``; True if there were any.

    Handles already open keep the old contents; the next open of the name starts empty.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError("name", "must be a non-empty str", got=name)
    with _NAMED_LOCK:
        return _NAMED.pop(name, None) is not None


class MemoryStore(Store):
    """A store held in this process's memory. ``name`` shares contents between handles."""

    #: A plain ``(key, value)`` tuple is a Put to :meth:`_batch` (Store.make_put).
    make_put = tuple

    def __init__(self, name: str = "", *, durability: str = default("storage.durability")) -> None:
        if not isinstance(name, str):
            raise ValidationError("name", "must be a str", got=name)
        check_durability(durability)  # accepted for a uniform API; memory keeps nothing anyway
        if name:
            with _NAMED_LOCK:
                contents = _NAMED.setdefault(name, _Contents())
        else:
            contents = _Contents()
        self.url = f"memory://{name}"
        self.name = name
        self._contents = contents
        self._closed = False

    def _open_contents(self) -> _Contents:
        if self._closed:
            raise_closed()
        return self._contents

    def _get(self, key: str) -> bytes | None:
        if self._closed:
            raise_closed()
        return self._contents.data.get(key)  # one dict lookup: atomic under the GIL

    def _get_many(self, keys: list[str]) -> dict[str, bytes]:
        c = self._open_contents()
        with c.lock:
            return {k: c.data[k] for k in keys if k in c.data}

    def _put(self, key: str, value: bytes) -> None:
        c = self._open_contents()
        with c.lock:
            c.put(key, value)

    def _delete(self, key: str) -> bool:
        c = self._open_contents()
        with c.lock:
            return c.delete(key)

    def _check_open(self) -> None:
        if self._closed:
            raise_closed()

    def _fetch(self, rng: KeyRange, want: int,
               reverse: bool) -> tuple[list[tuple[str, bytes]], bool]:
        c = self._open_contents()
        with c.lock:
            # One key beyond the page is looked up, to know whether the range holds more.
            keys = c.keys.between(rng, want + 1, reverse)
            page = keys[:want]
            pairs, _ = take(((k, c.data[k]) for k in page), want)
        return pairs, len(pairs) < len(page) or len(keys) > want

    def _count(self, prefix: str) -> int:
        c = self._open_contents()
        with c.lock:
            if not prefix:
                return len(c.keys)
            return c.keys.count(KeyRange(prefix, True, prefix_end(prefix)))

    def _batch(self, ops: list[Op], expect: dict[str, bytes | None]) -> bool:
        if self._closed:  # _open_contents spelled out (a call, ~0.8k instructions a batch)
            raise_closed()
        c = self._contents
        data = c.data
        new: list[str] = []
        # _Contents.put spelled out: this loop runs for every key of every write, and the
        # calls per key were a fifth of a session create on this backend. A plain tuple is
        # a Put here (make_put); the exact class tests first (95 fewer instructions per op
        # than isinstance alone); isinstance still takes a subclass of Delete, which
        # check_ops lets through.
        with c.lock:
            for key, wanted in expect.items():
                if data.get(key) != wanted:
                    return False
            for op in ops:
                cls = op.__class__
                if cls is tuple or cls is Put or not isinstance(op, Delete):
                    key, value = op  # type: ignore[misc]  # a Put or a (key, value)
                    if key not in data:
                        new.append(key)
                    data[key] = b"%b" % value if value else b""  # _own, spelled out
                else:
                    if new:  # a delete may name a key put earlier in this batch
                        c.keys.add_many(new)
                        new = []
                    c.delete(op.key)
            if new:
                c.keys.add_many(new)
        return True

    def _close(self) -> None:
        self._closed = True
        if not self.name:
            self._contents = _Contents()  # let the private contents go
