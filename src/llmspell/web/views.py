"""What each page and ``/api/`` route shows, as plain values read through the Runtime's
public API (``rt.sessions``, its journal, ``rt.artifacts``, ``rt.backups``,
``rt.migrations``). The HTML pages render these same values; redaction is applied by the app
on the way out (:mod:`llmspell.web.app`), never here.

Every function checks its query arguments and raises ValidationError naming the argument.
"""

from __future__ import annotations

from typing import Any

from llmspell.errors import ValidationError
from llmspell.sessions import history

STATUSES = ("active", "suspended", "completed", "failed", "archived")
DEFAULT_PAGE = 50
MAX_PAGE = 500
#: Journal kinds by the colour class the timeline gives them (first match of the prefix).
KIND_CLASSES = (("llm.", "llm"), ("tool.", "tool"), ("session.", "session"),
                ("state.", "state"), ("artifact", "artifact"), ("hook", "hook"),
                ("event", "event"), ("workflow", "workflow"), ("script", "script"),
                ("replay", "replay"))
#: Kinds whose entries hold a call (request and response): expandable in the timeline.
CALL_KINDS = ("llm.call", "tool.call")
#: The fields of a call entry shown each under its own heading, in this order.
CALL_PARTS = ("request", "params", "input", "response", "result", "output", "error")


def int_arg(query: dict[str, str], name: str, default: int | None, *, low: int = 0,
            high: int | None = None) -> int | None:
    """Query argument ``name`` as an int in ``[low, high]`` (``default`` when absent)."""
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(name, "must be a whole number", got=text) from None
    if value < low or (high is not None and value > high):
        rule = f"must be between {low} and {high}" if high is not None else f"must be >= {low}"
        raise ValidationError(name, rule, got=value)
    return value


def page_size(query: dict[str, str]) -> int:
    size = int_arg(query, "limit", DEFAULT_PAGE, low=1, high=MAX_PAGE)
    assert size is not None
    return size


# -- sessions ---------------------------------------------------------------------------------

def sessions_page(rt: Any, query: dict[str, str]) -> dict[str, Any]:
    """One page of sessions, newest first: ``{items, filters, limit, offset, next_offset,
    prev_offset}``. Filters: ``status``, ``tag`` (comma-separated: all), ``name``
    (contains, any case)."""
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(STATUSES)}", got=status)
    tags = [t.strip() for t in (query.get("tag") or "").split(",") if t.strip()] or None
    name = query.get("name") or None
    limit = page_size(query)
    offset = int_arg(query, "offset", 0) or 0
    found = rt.sessions.list(status=status, tags=tags, name=name, sort="created_at",
                             descending=True, limit=limit + 1, offset=offset)
    more = len(found) > limit
    return {"items": [session_row(s) for s in found[:limit]],
            "filters": {"status": status or "", "tag": ",".join(tags or []),
                        "name": name or ""},
            "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None,
            "prev_offset": max(0, offset - limit) if offset else None}


def session_row(session: Any) -> dict[str, Any]:
    data = session.to_dict()
    return {"id": data["id"], "name": data["name"], "status": data["status"],
            "tags": data["tags"], "created_at": data["created_at"],
            "operations": session.counters.operations, "tokens": session.counters.tokens}


def session_detail(rt: Any, session_id: str) -> dict[str, Any]:
    """One session: its fields (counters and limits among them), journal length, children
    (sessions whose parent it is) and forks (sessions made from it by ``fork``): the first
    MAX_PAGE of them, oldest first, with ``related_truncated`` saying there are more."""
    manager = rt.sessions
    found = manager.get(session_id)
    children = manager.list(parent=found.id, sort="created_at", limit=MAX_PAGE + 1)
    truncated = len(children) > MAX_PAGE
    children = children[:MAX_PAGE]
    related = [session_row(s) for s in children]
    return {"session": found.to_dict(), "journal_entries": manager.journal.count(found.id),
            "last_seq": manager.journal.last_seq(found.id),
            "children": [r for r, s in zip(related, children, strict=True)
                         if not _forked_from(s)],
            "forks": [r for r, s in zip(related, children, strict=True) if _forked_from(s)],
            "related_truncated": truncated}


def _forked_from(session: Any) -> bool:
    metadata = session.metadata or {}
    return any(key in metadata for key in ("forked_from", "fork_of", "fork"))


# -- timeline ---------------------------------------------------------------------------------

def kind_class(kind: str) -> str:
    for prefix, name in KIND_CLASSES:
        if kind.startswith(prefix):
            return name
    return "other"


def timeline_page(rt: Any, session_id: str, query: dict[str, str]) -> dict[str, Any]:
    """One page of a session's journal in sequence order: ``{session_id, items, limit,
    first_seq, last_seq, next_after, prev_before, kinds}``.

    Paging is by cursor: ``after=SEQ`` gives the entries after it, ``before=SEQ`` those
    before it (the page ending just before), neither the first page; ``kind``
    (comma-separated) keeps those kinds (``llm`` matches ``llm.call``)."""
    manager = rt.sessions
    sid = manager.get(session_id).id
    kinds = kinds_arg(query)
    limit = page_size(query)
    after = int_arg(query, "after", None)
    before = int_arg(query, "before", None, low=1)
    if after is not None and before is not None:
        raise ValidationError("before", "cannot be given with 'after'", got=before)
    journal = manager.journal
    last = journal.last_seq(sid)
    if before is not None:
        entries = journal.read(sid, kinds=kinds, before_seq=before, limit=limit + 1,
                               reverse=True)
        more_before = len(entries) > limit
        entries = list(reversed(entries[:limit]))
        more_after = before <= last
    else:
        entries = journal.read(sid, kinds=kinds, after_seq=after, limit=limit + 1)
        more_after = len(entries) > limit
        entries = entries[:limit]
        more_before = bool(after)
    items = [timeline_item(e) for e in history.with_values(journal, sid, entries)]
    return {"session_id": sid, "items": items, "limit": limit, "last_seq": last,
            "kinds": ",".join(kinds or []),
            "next_after": items[-1]["seq"] if items and more_after else None,
            "prev_before": items[0]["seq"] if items and more_before else None}


def timeline_item(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry with what the timeline shows beside it: colour class, whether it is a
    call (expandable), its latency and tokens when the entry records them."""
    data = entry.get("data")
    fields = data if isinstance(data, dict) else {}
    usage = fields["usage"] if isinstance(fields.get("usage"), dict) else {}
    tokens = usage.get("total_tokens", usage.get("total"))
    summary = {key: fields[key] for key in ("agent", "tool", "model", "provider", "key",
                                            "scope", "name", "operation", "reason", "error")
               if key in fields and isinstance(fields[key], str | int | float)}
    return {**entry, "class": kind_class(entry["kind"]), "call": entry["kind"] in CALL_KINDS,
            "latency_ms": fields.get("latency_ms"), "tokens": tokens, "summary": summary}


def call_parts(data: Any) -> tuple[list[tuple[str, Any]], Any]:
    """A call entry's data split for the timeline: ``[(part, value)]`` for the parts shown
    under their own heading (request, response, ...), and the other fields."""
    if not isinstance(data, dict):
        return [], data
    parts = [(p, data[p]) for p in CALL_PARTS if p in data]
    return parts, {k: v for k, v in data.items() if k not in CALL_PARTS}


def entries_between(rt: Any, session_id: str, after: int, upto: int,
                    kinds: list[str] | None = None) -> list[Any]:
    """Timeline items with ``after < seq <= upto`` (of ``kinds``): the live stream's read."""
    journal = rt.sessions.journal
    entries = journal.read(session_id, kinds=kinds, after_seq=after, before_seq=upto + 1)
    return [timeline_item(e) for e in history.with_values(journal, session_id, entries)]


def kinds_arg(query: dict[str, str]) -> list[str] | None:
    """The ``kind`` query argument: comma-separated kinds, or None for all."""
    return [k.strip() for k in (query.get("kind") or "").split(",") if k.strip()] or None


# -- state at a point ------------------------------------------------------------------------

def state_page(rt: Any, session_id: str, query: dict[str, str]) -> dict[str, Any]:
    """The session as of entry ``seq`` (default: the newest): its state, the other keys it
    wrote, its artifacts; the entry at ``seq``; and the diff from ``from`` (default
    ``seq - 1``, the point before) to ``seq``."""
    manager = rt.sessions
    sid = manager.get(session_id).id
    last = manager.journal.last_seq(sid)
    seq = int_arg(query, "seq", last, high=last)
    assert seq is not None
    start = int_arg(query, "from", max(seq - 1, 0), high=last)
    assert start is not None
    snapshot = manager.state_at(sid, seq)
    changes = history.diff(manager.state_at(sid, start), snapshot) if start != seq else None
    at = manager.journal.read(sid, after_seq=seq - 1, limit=1) if seq else []
    return {"session_id": sid, "seq": seq, "from": start, "last_seq": last,
            "snapshot": snapshot.to_dict(), "diff": changes,
            "entry": timeline_item(at[0].to_dict()) if at else None}


# -- artifacts --------------------------------------------------------------------------------

def artifacts_page(rt: Any, session_id: str, query: dict[str, str]) -> dict[str, Any]:
    """The newest version of each artifact of a session, a page at a time."""
    sid = rt.sessions.get(session_id).id
    limit = page_size(query)
    offset = int_arg(query, "offset", 0) or 0
    found = rt.artifacts.list(sid, latest=True, sort="name", limit=limit + 1, offset=offset)
    more = len(found) > limit
    return {"session_id": sid, "items": [a.to_dict() for a in found[:limit]], "limit": limit,
            "offset": offset, "next_offset": offset + limit if more else None,
            "prev_offset": max(0, offset - limit) if offset else None}


def artifact_detail(rt: Any, session_id: str, name: str,
                    version: int | None) -> dict[str, Any]:
    """One artifact version (the newest by default), every version of its name, and a
    preview: text (up to PREVIEW_BYTES), JSON (the value) or an image (by URL)."""
    sid = rt.sessions.get(session_id).id
    artifact = rt.artifacts.get(name, session=sid, version=version)
    versions = [a.to_dict() for a in rt.artifacts.versions(sid, name)]
    return {"session_id": sid, "artifact": artifact.to_dict(), "versions": versions,
            "preview": preview(rt, artifact)}


PREVIEW_BYTES = 64 * 1024


def preview(rt: Any, artifact: Any) -> dict[str, Any]:
    """``{kind: json|text|image|none, value|text, truncated}`` for the artifact's mime type
    (JSON over PREVIEW_BYTES is previewed as its first PREVIEW_BYTES of text)."""
    mime = artifact.mime_type or ""
    if mime.startswith("image/"):
        return {"kind": "image"}
    is_json = mime == "application/json" or mime.endswith("+json")
    if is_json and artifact.size <= PREVIEW_BYTES:
        return {"kind": "json", "value": rt.artifacts.value(artifact)}
    if is_json or mime.startswith("text/") or mime in ("application/xml", "application/x-yaml",
                                             "application/yaml", "application/toml"):
        with rt.artifacts.open(artifact) as reader:
            head = reader.read(PREVIEW_BYTES + 1)
        return {"kind": "text", "text": head[:PREVIEW_BYTES].decode("utf-8", "replace"),
                "truncated": len(head) > PREVIEW_BYTES}
    return {"kind": "none"}


# -- backups and migrations -------------------------------------------------------------------

def store_status(rt: Any) -> dict[str, Any]:
    """The backups (newest first) and the migration status of the store."""
    backups = [b.as_dict() for b in reversed(rt.backups.list_backups())]
    return {"backups": backups, "migrations": rt.migrations.status()}
