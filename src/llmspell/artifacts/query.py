"""Artifact queries: filters, sort and paging, driven by the cheapest index the filters allow.

Filters combine with AND: ``artifact_type`` (one type, any spelling of it), ``tags`` (all of
them), ``name`` (a glob: ``report-*.pdf``; without ``*?[`` it is an exact name), ``mime_type``
(a glob: ``image/*``), ``created_after`` (inclusive) and ``created_before`` (exclusive),
``min_size``/``max_size`` (inclusive, in bytes), and ``latest`` (only the newest version of
each name). Within a session the session's own records are read (``art/<sid>/``); across
sessions the type index drives when a type is given, else the tag index of the rarest tag,
else every record is read. Each index is in creation order, so a time filter is a key range.
Results sort by ``created_at`` (the default), ``name``, ``size``, ``version`` or
``artifact_type``; ``-name`` or ``descending=True`` reverses; ``offset``/``limit`` page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from llmspell.artifacts import keys
from llmspell.artifacts.model import Artifact, artifact_type, decode_record, name_key
from llmspell.codec import stored_object
from llmspell.errors import ValidationError
from llmspell.journal import to_timestamp
from llmspell.storage.base import Store
from llmspell.validation import check_flag, check_limit, check_offset

SORTS = ("created_at", "name", "size", "version", "artifact_type")
_PAGE = 256
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Filters:
    """A checked query. ``sessions`` None: every session; ``readable`` None: no restriction."""

    sessions: tuple[str, ...] | None = None
    readable: frozenset[str] | None = None
    artifact_type: str | None = None
    tags: tuple[str, ...] = ()
    name: str | None = None
    mime_type: str | None = None
    created_after: float | None = None
    created_before: float | None = None
    min_size: int | None = None
    max_size: int | None = None
    latest: bool = False

    def matches(self, a: Artifact) -> bool:
        if self.artifact_type is not None and a.artifact_type != self.artifact_type:
            return False
        if self.tags and not all(t in a.tags for t in self.tags):
            return False
        if self.name is not None and not _match(a.name, self.name):
            return False
        if self.mime_type is not None and not _match(a.mime_type, self.mime_type):
            return False
        if self.created_after is not None and a.created_at < self.created_after:
            return False
        if self.created_before is not None and a.created_at >= self.created_before:
            return False
        if self.min_size is not None and a.size < self.min_size:
            return False
        return self.max_size is None or a.size <= self.max_size


def _match(text: str, pattern: str) -> bool:
    return fnmatchcase(text, pattern) if _GLOB.search(pattern) else text == pattern


def check_filters(*, artifact_type_: Any = None, tags: Any = None, name: Any = None,
                  mime_type: Any = None, created_after: Any = None, created_before: Any = None,
                  min_size: Any = None, max_size: Any = None, latest: Any = False,
                  sessions: tuple[str, ...] | None = None,
                  readable: frozenset[str] | None = None) -> Filters:
    """A :class:`Filters` from user input; ValidationError names a bad filter."""
    kind = None if artifact_type_ is None else artifact_type(artifact_type_)
    if tags is None:
        wanted: tuple[str, ...] = ()
    elif isinstance(tags, str):
        wanted = (tags,)
    elif isinstance(tags, list | tuple | set | frozenset) and all(
            isinstance(t, str) and t for t in tags):
        wanted = tuple(tags)
    else:
        raise ValidationError("tags", "must be a tag or a list of tags (strings)", got=tags)
    for argument, value in (("name", name), ("mime_type", mime_type)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ValidationError(argument, "must be a non-empty string (a glob such as "
                                  "'report-*.pdf' or 'image/*')", got=value)
    after = None if created_after is None else to_timestamp(created_after,
                                                            argument="created_after")
    before = None if created_before is None else to_timestamp(created_before,
                                                              argument="created_before")
    for argument, value in (("min_size", min_size), ("max_size", max_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise ValidationError(argument, "must be a number of bytes (an int >= 0)",
                                  got=value)
    check_flag(latest, "latest")
    return Filters(sessions, readable, kind, wanted, name, mime_type, after, before, min_size,
                   max_size, latest)


def run_query(store: Store, filters: Filters, *, sort: Any = "created_at",
              descending: Any = False, limit: Any = None, offset: Any = 0) -> list[Artifact]:
    """The artifacts matching ``filters``, sorted and paged (see the module docstring)."""
    if not isinstance(sort, str) or sort.lstrip("-") not in SORTS:
        raise ValidationError("sort", "must be one of " + ", ".join(SORTS)
                              + " (a leading '-' reverses)", got=sort)
    if sort.startswith("-"):
        sort, descending = sort[1:], True
    check_flag(descending, "descending")
    limit, offset = check_limit(limit), check_offset(offset)
    ordered = (_in_creation_order(store, filters, descending)
               if sort == "created_at" and limit is not None else None)
    if ordered is not None:
        found = _first(store, filters, ordered, offset + limit)
    else:
        found = [a for a in _candidates(store, filters) if filters.matches(a)]
        if filters.latest:
            found = _latest_only(store, filters, found)
    found.sort(key=lambda a: (_sort_key(a, sort), a.created_at, a.session_id, a.name,
                              a.version), reverse=descending)
    end = None if limit is None else offset + limit
    return found[offset:end]


def _sort_key(a: Artifact, sort: str) -> Any:
    return {"created_at": a.created_at, "name": a.name, "size": a.size,
            "version": a.version, "artifact_type": a.artifact_type}[sort]


def _first(store: Store, f: Filters, ordered: Iterator[Artifact], want: int) -> list[Artifact]:
    """The first ``want`` matches of ``ordered`` (artifacts in creation order), and every
    further match created in the same microsecond as the last one (the final sort orders
    those by session, name and version)."""
    found: list[Artifact] = []
    last = -1
    for a in ordered:
        if not f.matches(a) or (f.latest and not _latest_only(store, f, [a])):
            continue
        created = keys.micros(a.created_at)
        if len(found) >= want and created != last:
            break
        found.append(a)
        last = created
    return found


def _in_creation_order(store: Store, f: Filters, descending: bool) -> Iterator[Artifact] | None:
    """Candidates read from an index in creation order (newest first if ``descending``), so
    a query with a limit stops early; None when no index gives that order (several sessions,
    an exact name, or no session, type or tag to drive by)."""
    if f.sessions is not None:
        if len(f.sessions) != 1 or (f.name is not None and not _GLOB.search(f.name)):
            return None
        sid = f.sessions[0]
        if f.readable is not None and sid not in f.readable:
            return iter(())
        return _from_index(store, keys.session_time_prefix(sid), f, reverse=descending)
    if f.artifact_type is not None:
        return _from_index(store, keys.type_prefix(f.artifact_type), f, reverse=descending)
    if f.tags:
        rarest = min((keys.tag_prefix(t) for t in f.tags), key=store.count)
        return _from_index(store, rarest, f, reverse=descending)
    return None


def _candidates(store: Store, f: Filters) -> Iterator[Artifact]:
    if f.sessions is not None and f.name is not None and not _GLOB.search(f.name):
        for sid in f.sessions:  # an exact name: only its versions (one key prefix)
            if f.readable is None or sid in f.readable:
                yield from _records(store, keys.name_prefix(sid, name_key(f.name)))
        return
    if f.sessions is not None:
        for sid in f.sessions:
            if f.readable is not None and sid not in f.readable:
                continue
            for key, raw in store.scan(keys.session_prefix(sid)):
                artifact = decode_record(key, raw)
                if artifact is not None:
                    yield artifact
        return
    if f.artifact_type is not None:
        yield from _from_index(store, keys.type_prefix(f.artifact_type), f)
    elif f.tags:
        rarest = min((keys.tag_prefix(t) for t in f.tags), key=store.count)
        yield from _from_index(store, rarest, f)
    else:
        for key, raw in store.scan(keys.RECORD_PREFIX):
            if f.readable is not None and key.split("/", 2)[1] not in f.readable:
                continue
            artifact = decode_record(key, raw)
            if artifact is not None:
                yield artifact


def _records(store: Store, prefix: str) -> Iterator[Artifact]:
    for key, raw in store.scan(prefix):
        artifact = decode_record(key, raw)
        if artifact is not None:
            yield artifact


def _from_index(store: Store, prefix: str, f: Filters, *,
                reverse: bool = False) -> Iterator[Artifact]:
    """Records an index points at, within the time range, read in pages (in creation order,
    newest first when ``reverse``). The first page is small: a query with a limit often
    needs only a few records."""
    low = None if f.created_after is None else keys.time_key(prefix, f.created_after)
    high = None if f.created_before is None else keys.time_key(prefix, f.created_before)
    # start_after is exclusive, and time_key is a proper prefix of every key at that time;
    # a key equal to a bound over its length is at that microsecond: the record's time decides.
    if reverse:
        # keys after "<high>0" are all past the bound; the rest are checked one by one
        start, stop, past = (None if high is None else high + "\U0010ffff"), low, _below
    else:
        start, stop, past = low, high, _above
    page: list[str] = []
    size = 16
    for key in store.keys(prefix, start_after=start, reverse=reverse):
        if stop is not None and past(key[:len(stop)], stop):
            break
        record_key = keys.record_key_of_index(key)
        if f.readable is not None and record_key.split("/", 2)[1] not in f.readable:
            continue
        page.append(record_key)
        if len(page) >= size:
            yield from _fetch(store, page)
            page = []
            size = min(_PAGE, size * 4)
    if page:
        yield from _fetch(store, page)


def _above(part: str, bound: str) -> bool:
    return part > bound


def _below(part: str, bound: str) -> bool:
    return part < bound


def _fetch(store: Store, record_keys: list[str]) -> Iterator[Artifact]:
    found = store.get_many(record_keys)
    for key in record_keys:
        raw = found.get(key)
        if raw is not None:
            artifact = decode_record(key, raw)
            if artifact is not None:
                yield artifact


def _latest_only(store: Store, f: Filters, found: list[Artifact]) -> list[Artifact]:
    newest: dict[tuple[str, str], int] = {}
    for a in found:
        group = (a.session_id, a.name_key)
        if group in newest:
            continue
        prefix = keys.name_prefix(*group)
        for key, raw in store.scan(prefix, limit=2, reverse=True):
            if not stored_object(raw, key).get("deleted"):
                newest[group] = keys.version_of(key)
                break
    return [a for a in found if newest.get((a.session_id, a.name_key)) == a.version]
