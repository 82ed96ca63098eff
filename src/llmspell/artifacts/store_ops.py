"""The write half of the ArtifactManager: a store or delete with its hooks and events,
grants as journaled batches, and the sweep of artifacts whose session is gone.

A base of :class:`~llmspell.artifacts.manager.ArtifactManager`, kept apart so each module
stays one concept: the manager is the API, this is what happens around each write. The
batches themselves are in :mod:`.writer`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from llmspell.artifacts import keys
from llmspell.artifacts.accounting import SessionCounters
from llmspell.artifacts.blobs.gc import GcReport
from llmspell.artifacts.blobs.store import BlobStore
from llmspell.artifacts.mime import JSON
from llmspell.artifacts.model import (
    JSON_ENCODING,
    USER_INPUT,
    Artifact,
    artifact_type,
    decode_record,
)
from llmspell.artifacts.settings import ArtifactSettings
from llmspell.artifacts.sources import Source
from llmspell.artifacts.validate import (
    MAX_CREATED_BY,
    MAX_DESCRIPTION,
    Metadata,
    check_custom,
    check_mime,
    check_name,
    check_tags,
    check_text,
    split_metadata,
)
from llmspell.artifacts.writer import ArtifactWriter, StoreRequest
from llmspell.errors import ValidationError
from llmspell.sessions import index as session_index
from llmspell.storage.base import Delete, Op, Store
from llmspell.validation import unknown_option

if TYPE_CHECKING:
    from llmspell.artifacts.permissions import Permissions

BEFORE_STORE = "artifact:before_store"
AFTER_STORE = "artifact:after_store"
DELETE = "artifact:delete"
OPTION_NAMES = ("artifact_type", "mime_type", "tags", "description", "custom", "created_by")
#: What a before_store hook may change (``content`` too, for content given in memory).
HOOK_FIELDS = OPTION_NAMES


@dataclass(frozen=True)
class ArtifactGcReport:
    """What ``ArtifactManager.gc`` removed (or, with ``dry_run``, would remove):
    ``orphan_sessions``/``orphan_artifacts`` left by sessions that no longer exist, and the
    blob store's own report."""

    dry_run: bool
    orphan_sessions: int
    orphan_artifacts: int
    blobs: GcReport

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "orphan_sessions": self.orphan_sessions,
                "orphan_artifacts": self.orphan_artifacts, "blobs": asdict(self.blobs)}


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """Keyword options of ``store_stream``/``store_file``: only the known ones."""
    unknown = sorted(key for key in options if key not in OPTION_NAMES)
    if unknown:
        raise unknown_option("options", unknown[0], (*OPTION_NAMES, "metadata", "as_session"))
    return options


def _cid() -> str:
    return os.urandom(8).hex()


class StoreOps:
    """Stores and deletes with their hooks and events (see the module docstring)."""

    permissions: Permissions
    sessions: Any

    if TYPE_CHECKING:
        def _asker(self, as_session: Any) -> str | None: ...
        @staticmethod
        def _sid(session: Any, argument: str = "session") -> str: ...

    def __init__(self, store: Store, blobs: BlobStore, counters: SessionCounters,
                 clock: Callable[[], float], settings: ArtifactSettings, hooks: Any,
                 events: Any) -> None:
        self.kv = store
        self.blobs = blobs
        self.counters = counters
        self.clock = clock
        self.settings = settings
        self.hooks = hooks
        self.events = events
        self.writer = ArtifactWriter(store, blobs, counters, clock)

    # -- stores -----------------------------------------------------------------------------

    def _store(self, session: Any, name: Any, make_source: Callable[[], Source],
               metadata: Any, options: dict[str, Any], as_session: Any, *,
               extra_custom: dict[str, Any] | None = None) -> Artifact | None:
        sid = self._sid(session)
        asker = self._asker(as_session)
        settings = self.settings
        name = check_name(name, settings)
        self.permissions.check(sid, asker, "write", f"store {name!r}")
        meta = _merge(split_metadata(metadata, settings), options, settings)
        if extra_custom:
            meta.custom.update(extra_custom)
        source = make_source()
        try:
            cid = _cid()
            hooks = self.hooks
            if hooks is not None and hooks.has(BEFORE_STORE):
                changed = self._before_store(sid, name, meta, source, cid)
                if changed is None:
                    return None
                name, meta, source = changed
            if meta.created_by is None and asker is not None and asker != sid:
                meta.created_by = f"session:{asker}"
            mime = meta.mime_type or (JSON if source.encoding == JSON_ENCODING
                                      else source.detect_mime(name))
            request = StoreRequest(sid, name, meta.artifact_type or USER_INPUT, mime,
                                   meta.tags, meta.description, meta.custom, meta.created_by,
                                   source.encoding, asker if asker not in (None, sid) else None)
            limit = settings.max_artifact_size
            source.check_size(limit, name)
            with source.stage(self.blobs, limit, name) as staged:
                artifact = self.writer.store_staged(request, staged, cid)
        finally:
            source.close()
        shown = artifact.to_dict()
        if hooks is not None and hooks.has(AFTER_STORE):
            hooks.after(AFTER_STORE, dict(shown), component="artifacts", correlation_id=cid,
                        session_id=sid)
        self._publish("artifact.stored", shown, cid, sid)
        return artifact

    def _before_store(self, sid: str, name: str, meta: Metadata, source: Source,
                      cid: str) -> tuple[str, Metadata, Source] | None:
        """Fire ``artifact:before_store``; the (possibly changed) name, metadata and source,
        or None when a hook skipped the store."""
        data: dict[str, Any] = {"session_id": sid, "name": name,
                                "artifact_type": meta.artifact_type,
                                "mime_type": meta.mime_type, "tags": list(meta.tags),
                                "description": meta.description, "custom": dict(meta.custom),
                                "created_by": meta.created_by, "size": source.size}
        if source.data is not None:
            data["content"] = source.value
        if source.path is not None:
            data["path"] = source.path
        outcome = self._fire_before(BEFORE_STORE, data, cid, sid)
        if outcome is None:
            return None
        if outcome is data:
            return name, meta, source
        if not isinstance(outcome, dict):
            raise ValidationError("data", f"an {BEFORE_STORE} hook must leave a table/dict "
                                  "of the store's fields", got=outcome)
        if outcome.get("session_id", sid) != sid:
            raise ValidationError("session_id", f"an {BEFORE_STORE} hook may not move the "
                                  f"artifact to another session (it is {sid})",
                                  got=outcome.get("session_id"))
        name = check_name(outcome.get("name", name), self.settings)
        meta = _merge(Metadata(), {k: outcome.get(k) for k in HOOK_FIELDS}, self.settings)
        if source.data is not None and outcome.get("content") is not source.value:
            source.close()
            source = Source.of_value(outcome.get("content"))
        return name, meta, source

    def _fire_before(self, point: str, data: dict[str, Any], cid: str, sid: str) -> Any:
        """Fire a before-point (``HookRegistry.before``); the data, or None when skipped."""
        hooks = self.hooks
        data = hooks.before(point, data, component="artifacts", correlation_id=cid,
                            session_id=sid)
        return None if data.__class__ is hooks.Skipped else data

    # -- deletes ----------------------------------------------------------------------------

    def _delete(self, artifact: Artifact, asker: str | None) -> Artifact | None:
        sid = artifact.session_id
        cid = _cid()
        hooks = self.hooks
        if hooks is not None and hooks.has(DELETE):
            data = artifact.to_dict()
            data["by_session"] = asker
            if self._fire_before(DELETE, data, cid, sid) is None:
                return None
        self.writer.delete(artifact, cid, asker if asker not in (None, sid) else None)
        self._publish("artifact.deleted", artifact.to_dict(), cid, sid)
        return artifact

    # -- records ----------------------------------------------------------------------------

    def _record(self, sid: str, nkey: str, version: int) -> Artifact | None:
        key = keys.record_key(sid, nkey, version)
        raw = self.kv.get(key)
        return None if raw is None else decode_record(key, raw)

    def _scan_name(self, sid: str, nkey: str) -> list[Artifact]:
        """The live versions stored under one name key, oldest first."""
        found = []
        for key, raw in self.kv.scan(keys.name_prefix(sid, nkey)):
            artifact = decode_record(key, raw)
            if artifact is not None:
                found.append(artifact)
        return found

    # -- grants -----------------------------------------------------------------------------

    def _grant_batch(self, owner: str, grantee: str, access: str | None,
                     permissions: Permissions) -> str | None:
        """Change a grant in one batch with the owner's journal entry; publish the event."""
        counters = self.counters
        cid = _cid()
        views: list[Any] = []

        def entry(kind: str, data: Any) -> tuple[list[Op], dict[str, bytes | None]]:
            view = counters.read(owner, fresh=bool(views))
            views.append(view)
            ops, expect = counters.journal.entry_ops(owner, kind, data, correlation_id=cid,
                                                     after=view.position)
            expect = dict(expect)
            expect[session_index.record_key(owner)] = view.raw  # the owner still exists
            return ops, expect

        before = permissions.change(owner, grantee, access, self.clock(), entry,
                                    lambda jops: counters.committed(views[-1], jops))
        if access is not None or before is not None:
            kind = "artifact.granted" if access is not None else "artifact.revoked"
            self._publish(kind, {"owner": owner, "grantee": grantee, "access": access,
                                 "previous": before}, cid, owner)
        return before

    # -- upkeep -----------------------------------------------------------------------------

    def _sweep_orphans(self, dry_run: bool) -> tuple[int, int]:
        """Delete the artifacts of sessions whose record is gone; (sessions, artifacts)."""
        sessions = artifacts = 0
        start: str | None = None
        while True:
            first = next(self.kv.keys(keys.RECORD_PREFIX, start_after=start, limit=1), None)
            if first is None:
                return sessions, artifacts
            sid = first.split("/", 2)[1]
            start = f"{keys.session_prefix(sid)}\U0010ffff"
            if self.kv.get(session_index.record_key(sid)) is not None:
                continue
            sessions += 1
            if dry_run:
                artifacts += sum(decode_record(k, raw) is not None
                                 for k, raw in self.kv.scan(keys.session_prefix(sid)))
            else:
                artifacts += self.delete_session_artifacts(sid)

    def delete_session_artifacts(self, session_id: str) -> int:
        """Everything artifacts keep for ``session_id`` (see ``delete_session``)."""
        extra = [*self.permissions.drop_session(session_id),
                 Delete(keys.settings_key(session_id))]
        return self.writer.delete_session(session_id, extra)

    def _publish(self, kind: str, data: Any, cid: str, sid: str) -> None:
        """Publish an event; custom fields that look like secrets are redacted in it."""
        if self.events is None:
            return
        if isinstance(data, dict) and data.get("custom"):
            data = {**data, "custom": self.counters.journal.redactor.redact(data["custom"])}
        self.events.publish(kind, data, correlation_id=cid, session_id=sid, source="artifacts")


def _merge(meta: Metadata, options: dict[str, Any], settings: ArtifactSettings) -> Metadata:
    """``meta`` with the given (not None) options checked and put over it."""
    if options.get("artifact_type") is not None:
        meta.artifact_type = artifact_type(options["artifact_type"])
    if options.get("mime_type") is not None:
        meta.mime_type = check_mime(options["mime_type"])
    if options.get("tags") is not None:
        meta.tags = check_tags(options["tags"], settings)
    if options.get("description") is not None:
        meta.description = check_text(options["description"], "description", MAX_DESCRIPTION)
    if options.get("custom") is not None:
        meta.custom = {**meta.custom, **check_custom(options["custom"])}
    if options.get("created_by") is not None:
        meta.created_by = check_text(options["created_by"], "created_by", MAX_CREATED_BY)
    return meta
