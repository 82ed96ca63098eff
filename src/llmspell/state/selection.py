"""Choosing state records by scope and key globs, and reading a record's schema version
without decoding its value: what migrations and backups scan with.

Globs are :mod:`fnmatch` patterns matched case-sensitively against the whole scope
(``agent:*``, ``workflow:etl-*``, ``global``) or key. A scan starts at the longest literal
prefix of the patterns, so ``agent:*`` reads only ``state/agent:...`` records.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator

from llmspell.codec import stored_object
from llmspell.errors import CorruptRecord
from llmspell.state.records import DEFAULT_SCHEMA_VERSION
from llmspell.state.scopes import STATE_PREFIX
from llmspell.state.versions import Version
from llmspell.storage.base import Store
from llmspell.validation import check_globs

_GLOB_CHARS = re.compile(r"[*?\[]")


def literal_prefix(patterns: Iterable[str] | None) -> str:
    """The longest prefix every scope matching any of ``patterns`` starts with ('' for all)."""
    heads = []
    for pattern in patterns or ():
        found = _GLOB_CHARS.search(pattern)
        heads.append(pattern if found is None else pattern[:found.start()])
    if not heads:
        return ""
    first, last = min(heads), max(heads)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def matcher(patterns: Iterable[str] | None) -> Callable[[str], bool] | None:
    """A function telling whether a string matches any glob of ``patterns``; None for all."""
    if patterns is None:
        return None
    listed = list(patterns)
    if not listed or "*" in listed:
        return None
    regex = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in listed))
    return lambda text: regex.match(text) is not None


class ScopeFilter:
    """Scopes matching any ``include`` glob (all when None) and no ``exclude`` glob; the answer
    for each scope is remembered."""

    def __init__(self, include: Iterable[str] | None = None,
                 exclude: Iterable[str] | None = None) -> None:
        self.include = check_globs(include, "include") or None  # [] like None: every scope
        self.exclude = check_globs(exclude, "exclude") or []
        self.prefix = STATE_PREFIX + literal_prefix(self.include)
        self._include = matcher(self.include)
        self._exclude = matcher(self.exclude) if self.exclude else None
        self._seen: dict[str, bool] = {}
        self.everything = self._include is None and self._exclude is None

    def __call__(self, scope: str) -> bool:
        found = self._seen.get(scope)
        if found is None:
            found = ((self._include is None or self._include(scope))
                     and (self._exclude is None or not self._exclude(scope)))
            if len(self._seen) < 65536:
                self._seen[scope] = found
        return found

    def records(self, store: Store) -> Iterator[tuple[str, str, str, bytes]]:
        """``(store key, scope, key, record bytes)`` of every matching record, in key order."""
        cut = len(STATE_PREFIX)
        for skey, raw in store.scan(self.prefix):
            scope, _, key = skey[cut:].partition("/")
            if self.everything or self(scope):
                yield skey, scope, key, raw


def record_version(raw: bytes, key: str) -> Version:
    """The schema version of the record ``raw`` (stored under ``key``), read from its tail when
    it has the layout :func:`~llmspell.state.records.encode_record` writes, else by decoding
    it; CorruptRecord naming ``key`` when it does not decode."""
    at = raw.rfind(b',"s":', -120)
    if at > 0:
        end = raw.find(b',"c":', at)
        if end > 0 and raw.find(b',"q":', end) > 0:
            digits = raw[at + 5:end]
            if digits.isdigit():
                return int(digits)
            if digits[:1] == b'"' and digits[-1:] == b'"' and b"\\" not in digits:
                return digits[1:-1].decode()
    found = stored_object(raw, key).get("s", DEFAULT_SCHEMA_VERSION)
    if type(found) is not int and type(found) is not str:
        raise CorruptRecord(key, f"its 's' is {found!r}, not a schema version")
    return found


def record_seq(raw: bytes, key: str) -> int:
    """The change-sequence number stored in the record ``raw`` (under ``key``); CorruptRecord
    naming ``key`` when it does not decode."""
    tail = raw.rfind(b',"q":', max(0, len(raw) - 40))
    if tail >= 0 and raw.endswith(b"}"):
        try:
            return int(raw[tail + 5:-1])
        except ValueError:
            pass
    return _field(raw, key, "q", 0)


def _field(raw: bytes, key: str, name: str, default: int) -> int:
    found = stored_object(raw, key).get(name, default)
    if type(found) is not int:
        raise CorruptRecord(key, f"its {name!r} is {found!r}, not an integer")
    return found
