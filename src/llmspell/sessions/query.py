"""``SessionManager.list``: filters, sort and paging over the session indexes.

Filters combine with AND: ``status`` (one or a list: any of them), ``tags`` (all of them),
``name`` (a case-insensitive substring), ``parent`` (direct children), ``created_after``
(inclusive) and ``created_before`` (exclusive). Sorting by ``created_at`` (the default) streams
from the index and stops once ``offset + limit`` sessions matched; so does sorting by
``updated_at`` (from the updated index, :mod:`.index`) or by ``status`` (the status indexes one
after the other) without a tag or parent filter. Sorting by ``name``, or by ``updated_at`` or
``status`` with a tag or parent filter, collects every match first. ``sort="-name"`` is the same as
``sort="name", descending=True``. Timeouts are applied to the sessions read, so an idle
session is listed as suspended.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from llmspell.errors import ValidationError
from llmspell.journal import check_session_id, to_timestamp
from llmspell.sessions import index
from llmspell.sessions.model import STATUSES, Session, check_tags
from llmspell.validation import check_limit, check_offset

if TYPE_CHECKING:
    from llmspell.sessions.manager import SessionManager

_T = TypeVar("_T")
SORTS = ("created_at", "updated_at", "name", "status")
_PAGE_MAX = 512


def list_sessions(manager: SessionManager, *, status: Any = None, tags: Any = None,
                  name: str | None = None, parent: str | None = None,
                  created_after: Any = None, created_before: Any = None,
                  sort: str = "created_at", descending: bool = False,
                  limit: int | None = None, offset: int = 0) -> list[Session]:
    """See the module docstring and :meth:`SessionManager.list`."""
    statuses = _statuses(status)
    wanted_tags = tuple(check_tags(tags))
    if name is not None and not isinstance(name, str):
        raise ValidationError("name", "must be a string to look for in session names",
                              got=name)
    needle = name.casefold() if name else None
    if parent is not None:
        check_session_id(parent, argument="parent")
    after = None if created_after is None else to_timestamp(created_after,
                                                            argument="created_after")
    before = None if created_before is None else to_timestamp(created_before,
                                                              argument="created_before")
    if not isinstance(sort, str) or sort.lstrip("-") not in SORTS:
        raise ValidationError("sort", "must be one of " + ", ".join(SORTS)
                              + " (a leading '-' sorts newest/largest first)", got=sort)
    if sort.startswith("-"):
        sort, descending = sort[1:], True
    limit, offset = check_limit(limit), check_offset(offset)

    store = manager.store
    # With no tag or parent filter, the updated index gives the updated_at order and the
    # status indexes, one after the other, the status order.
    unfiltered = parent is None and not wanted_tags
    by_updated = sort == "updated_at" and unfiltered and manager.updated_indexed
    by_status = sort == "status" and unfiltered
    if by_updated:
        drive = index.updated_drive(statuses)
    elif by_status:
        drive = index.status_drive(statuses, after, before)
    else:
        drive = index.choose(store, statuses=statuses, tags=wanted_tags, parent=parent,
                             created_after=after, created_before=before)
    ordered = by_updated or by_status  # streamed in sort order, timeouts put in place last
    streaming = sort == "created_at" or ordered
    wanted = None if limit is None else offset + limit
    walked = index.entries(store, drive, descending=descending and streaming,
                           first=wanted if streaming else None, chained=by_status)
    after_us = None if after is None else index.micros(after)
    before_us = None if before is None else index.micros(before)
    tag_set = set(wanted_tags)

    def matches(found: Session) -> bool:
        if statuses is not None and found.status not in statuses:
            return False
        if tag_set and not tag_set.issubset(found.tags):
            return False
        if needle is not None and needle not in found.name.casefold():
            return False
        if parent is not None and found.parent_session_id != parent:
            return False
        created = index.micros(found.created_at)
        return not ((after_us is not None and created < after_us)
                    or (before_us is not None and created >= before_us))

    results: list[Session] = []
    # ordered: sessions a timeout moved while listed (to a new updated_at, now, and a new
    # status), whose place is elsewhere in the order; merged in by the final sort.
    moved: list[Session] = []
    skipped = 0
    seen: set[str] = set()
    first_page = 16 if wanted is None else max(1, min(_PAGE_MAX, wanted))
    digits = index.DIGITS
    for page in _pages(walked, first_page):
        keys = [index.RECORD_PREFIX + tail[digits + 1:] for _, tail in page]
        raws = store.get_many(keys)
        for key, (prefix, tail) in zip(keys, page, strict=True):
            raw = raws.get(key)
            sid = tail[digits + 1:]
            if raw is None or sid in seen:  # deleted meanwhile, or moved between indexes
                continue
            found = Session.decode(raw, key)
            if ordered and (not prefix.endswith(f"/{found.status}/") or (
                    by_updated and index.micros(found.updated_at) != int(tail[:digits]))):
                continue  # an entry the record no longer calls for: its own entry counts
            seen.add(sid)
            stored = found
            if found.may_time_out():
                found = manager.enforcer.apply_timeouts(found)  # ``found`` itself: none
            if not matches(found):
                continue
            if ordered:
                (results if found is stored else moved).append(found)
                if wanted is not None and len(results) >= wanted:
                    return _ordered(results + moved, sort, descending, offset, limit)
                continue
            if streaming and skipped < offset:
                skipped += 1
                continue
            results.append(found)
            if streaming and limit is not None and len(results) >= limit:
                return results
    if sort == "created_at":
        return results
    return _ordered(results + moved, sort, descending, offset, limit)


def _ordered(found: list[Session], sort: str, descending: bool, offset: int,
             limit: int | None) -> list[Session]:
    found.sort(key=_SORT_KEYS[sort], reverse=descending)
    return found[offset:None if limit is None else offset + limit]


_SORT_KEYS = {
    "updated_at": lambda s: (index.micros(s.updated_at), s.id),  # the updated index's order
    "name": lambda s: (s.name.casefold(), s.created_at, s.id),
    "status": lambda s: (STATUSES.index(s.status), s.created_at, s.id),
}


def _statuses(status: Any) -> tuple[str, ...] | None:
    if status is None:
        return None
    items = (status,) if isinstance(status, str) else status
    if not isinstance(items, list | tuple | set | frozenset):
        raise ValidationError("status", "must be a status or a list of statuses ("
                              + ", ".join(STATUSES) + ")", got=status)
    found = []
    for i, item in enumerate(items):
        if item not in STATUSES:
            raise ValidationError("status", "must be one of " + ", ".join(STATUSES),
                                  path=f"[{i}]" if not isinstance(status, str) else "",
                                  got=item)
        found.append(item)
    return tuple(dict.fromkeys(found))



def _pages(ids: Iterable[_T], first: int) -> Iterator[list[_T]]:
    size = first
    page: list[_T] = []
    for sid in ids:
        page.append(sid)
        if len(page) >= size:
            yield page
            page = []
            size = min(_PAGE_MAX, size * 4)
    if page:
        yield page
