"""What a served call changed when it ran: applied to the replay session instead.

An exact replay does not run a served call, so what ran inside it when it was recorded (a
tool's hooks storing its result as an artifact, a nested tool writing state) does not happen
again. Each call's span is on the tape (``call.span`` ``[last seq before it, fingerprint]``),
and :func:`apply_effects` copies the state writes, deletes and artifact stores the recorded
session made inside that span into the replay session: its own scope renamed to the
replay's, other scopes as they were, artifacts stored again from the same content (shared by
content address, as in a fork).
"""

from __future__ import annotations

from typing import Any

from llmspell.journal import STATE_DELETE, STATE_WRITE
from llmspell.replay.fork import SESSION_SCOPE, share_artifact
from llmspell.sessions.history import ARTIFACT_DELETED, ARTIFACT_STORED, written_value

_KINDS = ("state", "artifact")


def apply_effects(runtime: Any, source_id: str, replica_id: str, after: int,
                  before: int) -> int:
    """Copy the changes of entries ``after < seq < before`` of ``source_id`` into
    ``replica_id``; how many were applied."""
    journal = runtime.sessions.journal
    own, mine = SESSION_SCOPE + source_id, SESSION_SCOPE + replica_id
    applied = 0
    for entry in journal.iter(source_id, kinds=_KINDS, after_seq=after, before_seq=before):
        data = entry.data
        if entry.kind in (STATE_WRITE, STATE_DELETE):
            scope = mine if data["scope"] == own else data["scope"]
            if entry.kind == STATE_DELETE or data.get("new") is None:
                runtime.state.delete(scope, data["key"])
            else:
                runtime.state.save(scope, data["key"],
                                   written_value(journal, source_id, entry))
        elif entry.kind == ARTIFACT_STORED:
            share_artifact(runtime, data, replica_id, entry.seq)
        elif entry.kind == ARTIFACT_DELETED:
            runtime.artifacts.delete(data["name"], session=replica_id, as_session=None)
        else:
            continue
        applied += 1
    return applied
