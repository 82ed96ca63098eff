"""The ArtifactManager: store, find, read, query, version and delete artifacts of sessions.

``runtime.artifacts`` is one. Content goes to the blob store once (deduplicated across
sessions, compressed, hash-verified on every read); metadata, index keys, the session's
counters and its journal entry are written in the same atomic batch (:mod:`.writer`).

Around each change: ``artifact:before_store`` fires first (a hook returning ``modified`` data
may change the name, type, mime type, tags, description, custom fields or in-memory content;
changes made to the data in place without ``modified`` are not read back; ``cancel`` raises
HookCancelled and ``skip`` stores nothing and returns None), ``artifact:after_store`` after
the commit; ``artifact:delete`` fires before a delete (cancel/skip as above). Events:
``artifact.stored``, ``artifact.deleted``, ``artifact.granted``, ``artifact.revoked``
(source ``artifacts``).

Which session asks (for permissions, :mod:`.permissions`): ``as_session=`` when given
(None: the host program, which may do anything), else the current session, else the host.

The session's side of each write (its artifact counters, its journal position, the check
that it still exists) is the SessionManager's ``artifact_counters``
(:class:`~llmspell.sessions.counters.ArtifactCounters`): its ops join the artifact's batch.
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from llmspell.artifacts import keys
from llmspell.artifacts.blobs.gc import GcReport
from llmspell.artifacts.blobs.reader import BlobReader
from llmspell.artifacts.blobs.store import BlobStats, BlobStore
from llmspell.artifacts.mime import JSON
from llmspell.artifacts.model import (
    JSON_ENCODING,
    USER_INPUT,
    Artifact,
    artifact_type,
    check_version,
    decode_record,
    name_key,
    not_found,
    parse_id,
)
from llmspell.artifacts.permissions import READ, WRITE, Permissions, check_access
from llmspell.artifacts.query import check_filters, run_query
from llmspell.artifacts.reindex import ensure_session_index, move_settings
from llmspell.artifacts.sources import FileGuard, Source, from_bytes
from llmspell.artifacts.validate import (
    AUTO_COLLECT,
    MAX_CREATED_BY,
    MAX_DESCRIPTION,
    ArtifactSettings,
    Metadata,
    check_custom,
    check_mime,
    check_name,
    check_tags,
    check_text,
    collecting,
    split_metadata,
)
from llmspell.artifacts.writer import ArtifactWriter, StoreRequest
from llmspell.config_schema import default
from llmspell.errors import ArtifactNotFound, IntegrityError, SecurityViolation, ValidationError
from llmspell.ids import correlation_id
from llmspell.journal import check_session_id
from llmspell.paths import Confinement
from llmspell.protocols import EventPublisher, HookPoints
from llmspell.sessions.model import Session
from llmspell.storage.base import Op, Store
from llmspell.validation import check_flag, unknown_option

#: ``as_session`` default: the current session asks (the host when there is none).
CURRENT: Any = object()
BEFORE_STORE = "artifact:before_store"
AFTER_STORE = "artifact:after_store"
DELETE = "artifact:delete"
OPTION_NAMES = ("artifact_type", "mime_type", "tags", "description", "custom", "created_by")
#: What a before_store hook may change (``content`` too, for content given in memory).
HOOK_FIELDS = OPTION_NAMES


#: Session ids already checked (the check's outcome depends on the text alone), bounded.
_VALID_IDS: set[str] = set()
_VALID_MAX = 4096
#: ``created_by`` texts already checked (``tool:<name>``, ``agent:<name>``), bounded.
_VALID_CREATORS: set[str] = set()


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


class ArtifactManager:
    """Artifacts of the sessions in one store. Thread-safe.

    Args:
        store: where records, indexes and inline blobs live (the sessions' store).
        blobs: the blob store for content.
        sessions: the SessionManager (current session, journal, counters, limits).
        settings: limits, compression, auto-collection.
        hooks, events: the runtime's HookRegistry and EventBus, or None.
        allowed_paths: the roots ``store_file`` may read from (when ``confinement`` is
            not given).
        confinement: what ``store_file`` may read (:mod:`llmspell.paths`); the runtime
            passes the one its scripts run under.
    """

    def __init__(self, store: Store, blobs: BlobStore, sessions: Any, *,
                 settings: ArtifactSettings | None = None, hooks: HookPoints | None = None,
                 events: EventPublisher | None = None,
                 allowed_paths: Iterable[str | os.PathLike[str]] = default("runtime.allowed_paths"),
                 confinement: Confinement | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        session_clock = getattr(sessions, "clock", None)
        self.kv = store
        self.blobs = blobs
        self.sessions = sessions
        self.counters = sessions.artifact_counters
        self.clock: Callable[[], float] = clock or (session_clock.now if session_clock
                                                    else time.time)
        self.settings = settings or ArtifactSettings()
        self.hooks = hooks
        self.events = events
        ensure_session_index(store)  # an older store's artifacts join the arts/ index
        move_settings(store, sessions)  # and its per-session settings, their sessions
        self.writer = ArtifactWriter(store, blobs, self.counters, self.clock)
        self.permissions = Permissions(store, hooks=hooks)
        self.files = FileGuard(confinement or Confinement(allowed_paths))

    @classmethod
    def from_runtime(cls, runtime: Any) -> ArtifactManager:
        """The manager a Runtime uses: ``[session]`` settings, blobs under
        ``[session] storage_path`` (default ``<data_dir>/blobs``), the runtime's sessions,
        hooks and events, and the scripts' path confinement (``[runtime] allowed_paths``,
        ``[runtime.security] allow_file_access``, the sandbox level:
        :meth:`Confinement.for_stored_files`) for ``store_file``."""
        config = runtime.config
        settings = ArtifactSettings.from_config(config)
        blobs = BlobStore(runtime.store, config.session.blob_dir,
                          compression=settings.compression,
                          compress_threshold=settings.compression_threshold,
                          grace=settings.gc_grace_seconds)
        return cls(runtime.store, blobs, runtime.sessions, settings=settings,
                   hooks=runtime.hooks, events=runtime.events,
                   confinement=Confinement.for_stored_files(config))

    # -- storing ----------------------------------------------------------------------------

    def store(self, session: Any, name: str, content: Any, *, artifact_type: str | None = None,
              mime_type: str | None = None, tags: Any = None, description: str | None = None,
              custom: dict[str, Any] | None = None, created_by: str | None = None,
              metadata: dict[str, Any] | None = None, as_session: Any = CURRENT,
              collected: bool = False) -> Any:
        """Store ``content`` as the next version of ``name`` in ``session``; return the
        :class:`Artifact` (None when an ``artifact:before_store`` hook skipped it).

        A store is an operation of the session (counted, under its operation limit and
        rate limits), except an automatic collection (``collected``, :mod:`.collectors`):
        that is part of the tool or agent call that produced it.

        ``content``: bytes, str, or a dict/list (stored as JSON, mime ``application/json``,
        read back decoded). ``metadata``: the seed's table (``mime_type``, ``tags``,
        ``description``, ``artifact_type``, ``created_by``, ``custom``; any other key is a
        custom field); the keyword arguments win over it. ``artifact_type`` defaults to
        ``user_input``; ``mime_type`` is detected when not given (:mod:`.mime`).

        Raises:
            ValidationError: a bad name, type, tag, mime type, custom field or content.
            ArtifactTooLarge: over ``[session] max_artifact_size``.
            SessionNotFound / SessionError: no such session, or it is not active.
            ResourceLimitExceeded: over the session's artifact count or bytes limit.
            SecurityViolation: the asking session may not write to ``session``.
            HookCancelled: an ``artifact:before_store`` hook cancelled.
        """
        options = dict(artifact_type=artifact_type, mime_type=mime_type, tags=tags,
                       description=description, custom=custom, created_by=created_by)
        limit = self.settings.max_artifact_size
        return self._store(session, name, lambda: Source.of_value(content, limit, name),
                           metadata, options, as_session, collected=collected)

    def store_stream(self, session: Any, name: str, source: Iterable[bytes] | BinaryIO,
                     **options: Any) -> Any:
        """Like :meth:`store` for a binary file object or an iterable of bytes chunks,
        streamed into the blob store without holding it in memory."""
        metadata, as_session = options.pop("metadata", None), options.pop("as_session", CURRENT)
        return self._store(session, name,
                           lambda: Source.of_stream(source, self.blobs.chunk_size), metadata,
                           check_options(options), as_session)

    def store_file(self, session: Any, path: str | os.PathLike[str], *, name: str | None = None,
                   **options: Any) -> Any:
        """Store the file at ``path`` (under ``[runtime] allowed_paths`` only), streamed;
        ``name`` defaults to the file's name. The custom field ``source_path`` records the
        file's real path.

        Raises as :meth:`store`, and SecurityViolation for a path that resolves outside the
        allowed roots (through ``..`` or a symlink too) or when ``[runtime.security]
        allow_file_access`` is false (:mod:`llmspell.paths`; the message names the path).
        """
        metadata, as_session = options.pop("metadata", None), options.pop("as_session", CURRENT)
        file, real, size = self.files.open(path)

        def source() -> Source:
            return Source.of_file(file, real, size, self.blobs.chunk_size)

        try:
            shown = name if name is not None else os.path.basename(real)
            return self._store(session, shown, source, metadata, check_options(options), as_session,
                               extra_custom={"source_path": real})
        finally:
            file.close()

    # -- reading ----------------------------------------------------------------------------

    def get(self, ref: Any, *, session: Any = None, version: int | None = None,
            as_session: Any = CURRENT) -> Artifact:
        """The artifact ``ref`` names: an id, an :class:`Artifact`, or a name in ``session``
        (its newest version, or ``version``).

        Raises ArtifactNotFound, ValidationError (a bad ref), SecurityViolation.
        """
        artifact = self._find(ref, session, version)
        self.permissions.check(artifact.session_id, self._asker(as_session), READ,
                               f"read {artifact.id}")
        return artifact

    def read(self, ref: Any, **where: Any) -> bytes:
        """The content of the artifact (as :meth:`get` finds it), verified against its hash.

        Raises as :meth:`get`, and IntegrityError (naming the artifact) when the stored
        content does not match its hash: never wrong bytes.
        """
        artifact = self.get(ref, **where)
        return self._content(artifact, lambda: self.blobs.get(artifact.content_hash))

    def value(self, ref: Any, **where: Any) -> Any:
        """The content as stored: the dict/list for JSON content, else bytes."""
        artifact = self.get(ref, **where)
        return from_bytes(artifact, self._content(
            artifact, lambda: self.blobs.get(artifact.content_hash)))

    def open(self, ref: Any, *, verify_first: bool = False, **where: Any) -> BlobReader:
        """A reader of the content in chunks (for large artifacts); see ``BlobStore.open``."""
        artifact = self.get(ref, **where)
        return self._content(artifact, lambda: self.blobs.open(artifact.content_hash,
                                                               verify_first=verify_first))

    def versions(self, session: Any, name: str, *, as_session: Any = CURRENT) -> list[Artifact]:
        """Every stored version of ``name`` in ``session``, oldest first ([] when none)."""
        sid = self._sid(session)
        if not isinstance(name, str) or not name:
            raise ValidationError("name", "must be a non-empty string", got=name)
        self.permissions.check(sid, self._asker(as_session), READ, f"list versions of {name!r}")
        return [a for a in self._scan_name(sid, name_key(name)) if a.name == name]

    def list(self, session: Any, *, as_session: Any = CURRENT,
             **filters: Any) -> builtins.list[Artifact]:
        """The artifacts of ``session`` matching ``filters`` (see :meth:`query`)."""
        return self.query(session=session, as_session=as_session, **filters)

    def query(self, *, session: Any = None, artifact_type: Any = None, tags: Any = None,
              name: Any = None, mime_type: Any = None, created_after: Any = None,
              created_before: Any = None, min_size: Any = None, max_size: Any = None,
              latest: Any = False, sort: Any = "created_at", descending: Any = False,
              limit: Any = None, offset: Any = 0,
              as_session: Any = CURRENT) -> builtins.list[Artifact]:
        """Artifacts matching every filter given (:mod:`.query`), within ``session`` or, with
        none, across the sessions the asking session may read (all, for the host).

        Raises ValidationError (a bad filter), SecurityViolation (``session`` not readable).
        """
        asker = self._asker(as_session)
        sessions: tuple[str, ...] | None = None
        readable = None
        if session is not None:
            sid = self._sid(session)
            self.permissions.check(sid, asker, READ, "list its artifacts")
            sessions = (sid,)
        elif asker is not None:
            readable = frozenset(self.permissions.readable_owners(asker))
        filters = check_filters(
            artifact_type_=artifact_type, tags=tags, name=name, mime_type=mime_type,
            created_after=created_after, created_before=created_before, min_size=min_size,
            max_size=max_size, latest=latest, sessions=sessions, readable=readable)
        return run_query(self.kv, filters, sort=sort, descending=descending, limit=limit,
                         offset=offset)

    # -- deleting ---------------------------------------------------------------------------

    def delete(self, ref: Any, *, session: Any = None, version: int | None = None,
               as_session: Any = CURRENT) -> Artifact | None:
        """Delete one artifact (by id, or a name's newest version or ``version``): its
        record goes and its content loses one reference (``gc`` frees unreferenced content).
        Returns the deleted artifact (None when an ``artifact:delete`` hook skipped it).

        Raises ArtifactNotFound, SecurityViolation, HookCancelled.
        """
        artifact = self._find(ref, session, version)
        asker = self._asker(as_session)
        self.permissions.check(artifact.session_id, asker, WRITE, f"delete {artifact.id}")
        return self._delete(artifact, asker)

    def delete_session(self, session_id: str) -> int:
        """Drop every artifact, grant and setting of a deleted session (its
        ``SessionManager.on_delete`` callback); returns how many artifacts went."""
        return self.delete_session_artifacts(check_session_id(session_id))

    # -- permissions ------------------------------------------------------------------------

    def grant(self, owner: Any, grantee: Any, access: str = READ, *,
              as_session: Any = CURRENT) -> str | None:
        """Let ``grantee`` read (or write, which includes read) ``owner``'s artifacts; returns
        the access held before. Journaled in the owner's journal (``artifact.granted``).

        Raises SecurityViolation when a session other than the owner asks,
        SessionNotFound, ValidationError.
        """
        return self._change_grant(owner, grantee, check_access(access), as_session)

    def revoke(self, owner: Any, grantee: Any, *, as_session: Any = CURRENT) -> bool:
        """Take back ``owner``'s grant to ``grantee``; False when there was none."""
        return self._change_grant(owner, grantee, None, as_session) is not None

    def grants(self, owner: Any) -> dict[str, str]:
        """``{grantee session id: "read" | "write"}`` for ``owner``'s grants."""
        return self.permissions.grants(self._sid(owner, "owner"))

    # -- automatic collection ---------------------------------------------------------------

    def set_auto_collect(self, session: Any, enabled: bool) -> None:
        """Turn automatic collection of tool results and agent outputs on or off for one
        session: its metadata ``auto_collect_artifacts`` (a journaled metadata change,
        ``SessionManager.update_metadata``). It is on by default, and ``[session]
        artifact_auto_collect = false`` turns it off for every session."""
        sid = self._sid(session)
        check_flag(enabled, "enabled")
        self.sessions.update_metadata(sid, {AUTO_COLLECT: enabled})

    def auto_collect(self, session: Any) -> bool:
        """Whether tool results and agent outputs are collected into ``session``."""
        if not self.settings.auto_collect:
            return False
        sid = self._sid(session)
        # On: as this process last wrote or read the session (no store read). The
        # collection's batch holds ``expect`` on that record, so a switch turned off by
        # another process since makes it fail, and the store decides again on the record it
        # reads then (the writer asks ``collecting`` too). The artifact counters' view when
        # they have one: the store that follows reads that view again, decoded once.
        if collecting((self.counters.peek(sid) or self.sessions.peek(sid)).metadata):
            return True
        # Off: read again, since no batch would prove it (another process may have turned
        # it on). One read per call only in a session that does not collect.
        return collecting(self.sessions.get(sid).metadata)

    # -- upkeep -----------------------------------------------------------------------------

    def gc(self, *, dry_run: bool = False, grace: float | None = None) -> ArtifactGcReport:
        """Drop artifacts left by sessions that no longer exist, then remove content no
        artifact references (unreferenced for ``grace`` seconds; default
        ``[session] artifact_gc_grace_seconds``). See ``BlobStore.gc`` for the safety rules.
        """
        swept, removed = self._sweep_orphans(dry_run)
        report: GcReport = self.blobs.gc(dry_run=dry_run, grace=grace)
        return ArtifactGcReport(dry_run, swept, removed, report)

    def stats(self) -> BlobStats:
        """Counts and byte totals of the stored content (logical and after compression)."""
        return self.blobs.stats()

    # -- internals --------------------------------------------------------------------------

    def _find(self, ref: Any, session: Any, version: int | None) -> Artifact:
        if isinstance(ref, Artifact):
            ref = ref.id
        if version is not None:
            check_version(version)
        parsed = parse_id(ref)
        if parsed is not None:
            found = self._record(parsed.session_id, parsed.name_key,
                                 version or parsed.version)
            if found is None:
                raise not_found(ref if version is None else f"{ref} version {version}",
                                "deleted, or never stored")
            return found
        if not isinstance(ref, str) or not ref:
            raise ValidationError("ref", "must be an artifact id, an artifact, or a name",
                                  got=ref)
        if session is None:
            raise ValidationError("ref", f"{ref!r} is not an artifact id "
                                  "('<session>/<name key>/<version>'); to find an artifact "
                                  "by name, give its session too")
        sid = self._sid(session)
        nkey = name_key(ref)
        if version is not None:
            found = self._record(sid, nkey, version)
            if found is None or found.name != ref:
                have = [a.version for a in self._scan_name(sid, nkey) if a.name == ref]
                raise ArtifactNotFound(f"session {sid} has no version {version} of "
                                       f"{ref!r} (versions: {have or 'none'})")
            return found
        for key, raw in self.kv.scan(keys.name_prefix(sid, nkey), limit=2, reverse=True):
            artifact = decode_record(key, raw)  # the newest, or a tombstone above it
            if artifact is not None and artifact.name == ref:
                return artifact
        raise ArtifactNotFound(f"session {sid} has no artifact named {ref!r}")

    def _content(self, artifact: Artifact, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except IntegrityError as exc:
            raise IntegrityError(f"artifact {artifact.id} ({artifact.name!r} version "
                                 f"{artifact.version}): {exc}") from exc
        except ArtifactNotFound as exc:
            raise ArtifactNotFound(f"artifact {artifact.id} ({artifact.name!r}): its content "
                                   f"is gone: {exc}") from exc

    def _asker(self, as_session: Any) -> str | None:
        if as_session is CURRENT:
            current: str | None = self.sessions.current_id()
            return current
        if as_session is None:
            return None
        return self._sid(as_session, "as_session")

    @staticmethod
    def _sid(session: Any, argument: str = "session") -> str:
        if isinstance(session, Session):
            return session.id
        # checked once: a collection checks its session twice a call
        return _checked_once(_VALID_IDS, session,
                             lambda: check_session_id(session, argument=argument))

    def _change_grant(self, owner: Any, grantee: Any, access: str | None,
                      as_session: Any) -> str | None:
        owner_id = self._sid(owner, "owner")
        grantee_id = self._sid(grantee, "grantee")
        asker = self._asker(as_session)
        if asker is not None and asker != owner_id:
            raise SecurityViolation(f"session {asker} may not change who can use the "
                                    f"artifacts of session {owner_id}; only that session "
                                    "(or the host program) can")
        if grantee_id == owner_id:
            raise ValidationError("grantee", "must be another session (a session always "
                                  "has access to its own artifacts)", got=grantee_id)
        if access is not None:
            self.sessions.get(grantee_id)  # SessionNotFound for a grantee that does not exist
        return self._grant_batch(owner_id, grantee_id, access, self.permissions)

    # -- stores -----------------------------------------------------------------------------

    def _store(self, session: Any, name: Any, make_source: Callable[[], Source],
               metadata: Any, options: dict[str, Any], as_session: Any, *,
               extra_custom: dict[str, Any] | None = None,
               collected: bool = False) -> Artifact | None:
        sid = self._sid(session)
        # the same argument twice (a collection's): checked once (~4k instructions)
        asker = sid if as_session is session else self._asker(as_session)
        settings = self.settings
        name = check_name(name, settings)
        self.permissions.check(sid, asker, "write", f"store {name!r}")
        meta = _merge(split_metadata(metadata, settings), options, settings)
        if extra_custom:
            meta.custom.update(extra_custom)
        source = make_source()
        try:
            cid = correlation_id()
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
                                   source.encoding, asker if asker not in (None, sid) else None,
                                   collected)
            limit = settings.max_artifact_size
            source.check_size(limit, name)
            with source.stage(self.blobs, limit, name) as staged:
                artifact = self.writer.store_staged(request, staged, cid)
        finally:
            source.close()
        hooked = hooks is not None and hooks.has(AFTER_STORE)
        if hooked or self._listened("artifact.stored"):  # else no payload is built
            shown = artifact.to_dict()
            if hooked and hooks is not None:
                hooks.after(AFTER_STORE, dict(shown), component="artifacts",
                            correlation_id=cid, session_id=sid)
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
            source = Source.of_value(outcome.get("content"), self.settings.max_artifact_size,
                                     name)
        return name, meta, source

    def _fire_before(self, point: str, data: dict[str, Any], cid: str, sid: str) -> Any:
        """Fire a before-point (``HookRegistry.before``); the data, or None when skipped."""
        hooks = self.hooks
        assert hooks is not None  # callers ask has() first
        data = hooks.before(point, data, component="artifacts", correlation_id=cid,
                            session_id=sid)
        return None if data.__class__ is hooks.Skipped else data

    # -- deletes ----------------------------------------------------------------------------

    def _delete(self, artifact: Artifact, asker: str | None) -> Artifact | None:
        sid = artifact.session_id
        cid = correlation_id()
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

    def _scan_name(self, sid: str, nkey: str) -> builtins.list[Artifact]:
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
        cid = correlation_id()
        views: list[Any] = []

        def entry(kind: str, data: Any) -> tuple[list[Op], dict[str, bytes | None]]:
            fresh = bool(views)
            view = counters.read(owner, fresh=fresh)
            views.append(view)
            ops, expect = self.sessions.journal.entry_ops(owner, kind, data, correlation_id=cid,
                                                          after=view.position, fresh=fresh)
            expect = dict(expect)
            expect.update(view.guard())  # the owner still exists
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
            if self.counters.exists(sid):
                continue
            sessions += 1
            if dry_run:
                artifacts += sum(decode_record(k, raw) is not None
                                 for k, raw in self.kv.scan(keys.session_prefix(sid)))
            else:
                artifacts += self.delete_session_artifacts(sid)

    def delete_session_artifacts(self, session_id: str) -> int:
        """Everything artifacts keep for ``session_id`` (see ``delete_session``)."""
        return self.writer.delete_session(session_id,
                                          list(self.permissions.drop_session(session_id)))

    def _listened(self, kind: str) -> bool:
        """Whether publishing ``kind`` now would reach anyone (a subscription, an emit hook,
        another process through the bus's relay); a bus that cannot tell is listened to."""
        events = self.events
        if events is None:
            return False
        has = getattr(events, "has_subscribers", None)
        if has is None or getattr(events, "relay", None) is not None:
            return True
        return bool(has(kind, "artifacts"))

    def _publish(self, kind: str, data: Any, cid: str, sid: str) -> None:
        """Publish an event with its secrets redacted (names, tags, custom fields...)."""
        if self.events is None:
            return
        self.events.publish(kind, data, correlation_id=cid, session_id=sid, source="artifacts",
                            redact=True)


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
    created_by = options.get("created_by")
    if created_by is not None:  # a collection's is the same text every call
        meta.created_by = _checked_once(
            _VALID_CREATORS, created_by,
            lambda: check_text(created_by, "created_by", MAX_CREATED_BY))
    return meta


def _checked_once(valid: set[str], value: Any, check: Callable[[], str]) -> str:
    """``value`` when it is an exact ``str`` in ``valid`` (checked before: the check's
    outcome depends on the text alone), else ``check()``'s result, remembered in ``valid``
    when it is an exact ``str`` (``valid`` starts afresh past :data:`_VALID_MAX`)."""
    if value.__class__ is str and value in valid:
        return value
    checked = check()
    if checked.__class__ is str:
        if len(valid) >= _VALID_MAX:
            valid.clear()
        valid.add(checked)
    return checked
