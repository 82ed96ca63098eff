"""Who may read and write a session's artifacts.

An artifact belongs to its session, and only that session may read or write it, unless the
owner grants ``read`` or ``write`` (which includes read) to another session. A grant covers
all the owner's artifacts, present and future; ``revoke`` takes it back. Each grant and revoke
is an ``artifact.granted`` / ``artifact.revoked`` entry in the owner's journal, written in the
same batch as the grant itself (the audit trail), and an event of the same name.

Which session is asking: the Python API takes ``as_session=``; when it is not given, the
current session (``SessionManager.set_current``) asks, and with no current session the caller
is the host program itself (the CLI, your own Python code), which may do anything. Lua passes
the session it names as the first argument (``Artifact.get(session, id)`` reads as
``session``). Permissions separate sessions from each other; they do not sandbox code that
can name any session it likes (docs/artifacts.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from llmspell.artifacts.keys import ACL_PREFIX, ACL_REVERSE_PREFIX, acl_key, acl_reverse_key
from llmspell.codec import stored_object
from llmspell.errors import CorruptRecord, SecurityViolation, ValidationError
from llmspell.protocols import HookPoints
from llmspell.storage.base import Delete, Op, Put, Store
from llmspell.storage.retry import Planned, retry_batch

READ = "read"
WRITE = "write"
ACCESS = (READ, WRITE)


def check_access(access: object) -> str:
    if access not in ACCESS:
        raise ValidationError("access", "must be 'read' or 'write' (write includes read)",
                              got=access)
    return str(access)


class Permissions:
    """Grants between sessions in one store; ``hooks`` fire ``security:violation``."""

    def __init__(self, store: Store, *, hooks: HookPoints | None = None) -> None:
        self.store = store
        self.hooks = hooks

    def access_of(self, owner: str, grantee: str) -> str | None:
        """What ``owner`` grants ``grantee``: ``read``, ``write`` or None."""
        key = acl_key(owner, grantee)
        raw = self.store.get(key)
        return None if raw is None else _access(key, raw)

    def check(self, owner: str, asker: str | None, access: str, what: str, *,
              subject: str = "artifacts of", component: str = "artifacts") -> None:
        """Raise SecurityViolation unless ``asker`` may ``access`` ``owner``'s artifacts (or,
        with ``subject="the state scope of"``, its ``session:<owner>`` state scope: the same
        grant covers both).

        ``asker`` None (the host) and the owner itself may do anything. ``what`` names the
        refused operation in the message. The ``security:violation`` hook fires first.
        """
        if asker is None or asker == owner:
            return
        granted = self.access_of(owner, asker)
        if granted == WRITE or (granted == READ and access == READ):
            return
        have = f"it grants only {granted}" if granted else "it has granted nothing"
        message = (f"session {asker} may not {access} {subject} session {owner} ({what}): "
                   f"{have}; the owner can grant it with artifacts.grant({owner!r}, "
                   f"{asker!r}, {access!r}) (Artifact.grant in Lua)")
        hooks = self.hooks
        if hooks is not None and hooks.has("security:violation"):
            hooks.after("security:violation", {"session_id": asker, "owner": owner,
                                               "access": access, "operation": what,
                                               "reason": message},
                        component=component, session_id=asker)
        raise SecurityViolation(message)

    def readable_owners(self, asker: str) -> set[str]:
        """The sessions whose artifacts ``asker`` may read: itself and its grantors."""
        prefix = f"{ACL_REVERSE_PREFIX}{asker}/"
        return {asker, *(key[len(prefix):] for key in self.store.keys(prefix))}

    def grants(self, owner: str) -> dict[str, str]:
        """``{grantee: access}`` for every grant ``owner`` has made."""
        prefix = f"{ACL_PREFIX}{owner}/"
        return {key[len(prefix):]: _access(key, raw)
                for key, raw in self.store.scan(prefix)}

    def change(self, owner: str, grantee: str, access: str | None, now: float,
               journal: Callable[[str, Any], tuple[list[Op], dict[str, bytes | None]]],
               committed: Callable[[list[Op]], None]) -> str | None:
        """Grant ``access`` (or revoke, with None); returns the access held before.

        ``journal(kind, data)`` gives the ops and ``expect`` of the owner's journal entry
        (read fresh on each attempt); ``committed(journal ops)`` runs after the batch.
        """
        key, reverse = acl_key(owner, grantee), acl_reverse_key(grantee, owner)

        def build(attempt: int) -> Planned[tuple[str | None, list[Op] | None]]:
            raw = self.store.get(key)
            before = None if raw is None else _access(key, raw)
            if access is None and before is None:
                return [], {}, (None, None)  # nothing to revoke: nothing to write
            ops: list[Op]
            if access is None:
                ops = [Delete(key), Delete(reverse)]
                kind, data = "artifact.revoked", {"grantee": grantee, "previous": before}
            else:
                record = orjson.dumps({"access": access, "granted_at": now})
                ops = [Put(key, record), Put(reverse, b"")]
                kind, data = "artifact.granted", {"grantee": grantee, "access": access,
                                                "previous": before}
            jops, expect = journal(kind, data)
            expect[key] = raw
            return [*ops, *jops], expect, (before, jops)

        before, jops = retry_batch(
            self.store, build, what=f"change the grant of session {owner} to {grantee}")
        if jops is not None:
            committed(jops)
        return before

    def drop_session(self, session_id: str) -> list[Op]:
        """Ops removing every grant made by or to ``session_id`` (when it is deleted)."""
        ops: list[Op] = []
        for key in self.store.keys(f"{ACL_PREFIX}{session_id}/"):
            grantee = key.rsplit("/", 1)[1]
            ops += [Delete(key), Delete(acl_reverse_key(grantee, session_id))]
        for key in self.store.keys(f"{ACL_REVERSE_PREFIX}{session_id}/"):
            owner = key.rsplit("/", 1)[1]
            ops += [Delete(key), Delete(acl_key(owner, session_id))]
        return ops


def _access(key: str, raw: bytes) -> str:
    """The access the grant record ``raw`` (under ``key``) holds; CorruptRecord if damaged."""
    access = stored_object(raw, key).get("access")
    if access not in (READ, WRITE):
        raise CorruptRecord(key, f"its access is {access!r}, not {READ!r} or {WRITE!r}")
    return str(access)
