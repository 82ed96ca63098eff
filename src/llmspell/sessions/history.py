"""A session as of any sequence number, and what changed between two: read from its journal.

The journal's ``state.write`` / ``state.delete`` entries name the scope, key and the hash of
the new value, whose encoded bytes are kept once under ``jval/`` (``[session]
journal_state_values``); ``artifact.stored`` / ``artifact.deleted`` entries name each
artifact version. Folding the entries up to ``seq`` gives the session's state and artifact
list at that moment (:func:`snapshot_at`); two snapshots give a diff (:func:`diff`). Entries
are read lazily, one page of the store at a time, so a long journal is never held whole.

``SessionManager.state_at`` / ``.diff`` / ``.timeline_values`` are the public entry points.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmspell.codec import DECODE_ERRORS, damaged, decode
from llmspell.errors import StateError, ValidationError
from llmspell.journal import STATE_DELETE, STATE_WRITE, JournalEntry

if TYPE_CHECKING:
    from llmspell.journal import Journal

SESSION_SCOPE = "session:"
ARTIFACT_STORED = "artifact.stored"
ARTIFACT_DELETED = "artifact.deleted"
_KINDS = ("state", "artifact")


@dataclass
class Snapshot:
    """A session as of entry ``seq`` of its journal.

    ``state``: its own scope (``session:<id>``), key -> value. ``scopes``: the other scopes it
    wrote while current, scope -> key -> value (only the keys it wrote). ``artifacts``: the
    artifact versions alive then, as recorded (``id``, ``name``, ``version``,
    ``content_hash``, ``size``, ``artifact_type``, ``mime_type``), in name order.
    """

    session_id: str
    seq: int
    state: dict[str, Any] = field(default_factory=dict)
    scopes: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "seq": self.seq, "state": self.state,
                "scopes": self.scopes, "artifacts": self.artifacts}


def check_seq(seq: object, argument: str, last: int) -> int:
    """``seq`` if it is a sequence number of a journal whose newest entry is ``last``."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= last:
        raise ValidationError(argument, f"must be a sequence number from 0 to {last} (the "
                              "session's newest entry)", got=seq)
    return seq


def snapshot_at(journal: Journal, session_id: str, seq: int) -> Snapshot:
    """The session's state and artifacts after entry ``seq`` (module doc).

    Raises:
        StateError: a write up to ``seq`` was journaled without its value
            (``journal_state_values = false``), so the state cannot be rebuilt.
        CorruptRecord: a kept value does not decode.
    """
    own = SESSION_SCOPE + session_id
    snap = Snapshot(session_id, seq)
    artifacts: dict[str, dict[str, Any]] = {}
    for entry in journal.iter(session_id, kinds=_KINDS, before_seq=seq + 1):
        if entry.kind in (STATE_WRITE, STATE_DELETE):
            data = entry.data
            scope, key = data["scope"], data["key"]
            values = snap.state if scope == own else snap.scopes.setdefault(scope, {})
            if entry.kind == STATE_DELETE or data.get("new") is None:
                values.pop(key, None)
            else:
                values[key] = written_value(journal, session_id, entry)
        elif entry.kind == ARTIFACT_STORED:
            artifacts[entry.data["name"]] = _artifact(entry.data)
        elif entry.kind == ARTIFACT_DELETED:
            current = artifacts.get(entry.data["name"])
            if current is not None and current["version"] == entry.data["version"]:
                del artifacts[entry.data["name"]]
    snap.scopes = {scope: keys for scope, keys in snap.scopes.items() if keys}
    snap.artifacts = [artifacts[name] for name in sorted(artifacts)]
    return snap


def written_value(journal: Journal, session_id: str, entry: JournalEntry) -> Any:
    """The value a ``state.write`` entry recorded, decoded from its kept bytes."""
    data = entry.data
    raw = journal.value(session_id, data["new"]) if data.get("value") else None
    if raw is None:
        raise StateError(f"entry {entry.seq} of session {session_id} ({data['scope']} "
                         f"{data['key']!r}) was journaled without its value ([session] "
                         "journal_state_values = false), so the state at that point cannot "
                         "be rebuilt")
    try:
        return decode(raw)
    except DECODE_ERRORS as exc:
        raise damaged(f"jval/{session_id}/{data['new']}", exc) from None


def _artifact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in ("id", "name", "version", "content_hash", "size",
                                     "artifact_type", "mime_type")}


def diff(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """What changed from ``before`` to ``after``: ``state`` (own scope) and ``scopes`` as
    ``{key: {"op": "added"|"removed"|"changed", "old", "new"}}``, and ``artifacts`` as
    ``{"added": [...], "removed": [...]}`` (a new version counts as both)."""
    scopes = {}
    for scope in sorted(set(before.scopes) | set(after.scopes)):
        changed = _changes(before.scopes.get(scope, {}), after.scopes.get(scope, {}))
        if changed:
            scopes[scope] = changed
    old = {a["id"]: a for a in before.artifacts}
    new = {a["id"]: a for a in after.artifacts}
    return {"session_id": after.session_id, "from": before.seq, "to": after.seq,
            "state": _changes(before.state, after.state), "scopes": scopes,
            "artifacts": {"added": [new[i] for i in new if i not in old],
                          "removed": [old[i] for i in old if i not in new]}}


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out[key] = {"op": "removed", "old": old[key], "new": None}
        elif key not in old:
            out[key] = {"op": "added", "old": None, "new": new[key]}
        elif old[key] != new[key]:
            out[key] = {"op": "changed", "old": old[key], "new": new[key]}
    return out


def with_values(journal: Journal, session_id: str,
                entries: Iterable[JournalEntry]) -> Iterator[dict[str, Any]]:
    """The entries as dicts, each ``state.write`` whose value was kept showing it under
    ``data.value`` (instead of ``true``); a value that is gone or damaged shows as None."""
    for entry in entries:
        shown = entry.to_dict()
        data = entry.data
        if entry.kind == STATE_WRITE and isinstance(data, dict) and data.get("value") is True:
            raw = journal.value(session_id, data["new"])
            try:
                value = None if raw is None else decode(raw)
            except DECODE_ERRORS:
                value = None
            shown["data"] = {**data, "value": value}
        yield shown
