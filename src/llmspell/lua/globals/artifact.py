"""``Artifact``: store, find, read, query and delete artifacts from Lua (DESIGN.md 10, 13).

The seed's calls work as written::

    local id = Artifact.store(session.id, "analysis.json", {summary = "..."},
                              {mime_type = "application/json", tags = {"quarterly"}})
    local artifact = Artifact.get(session.id, id)          -- fields + content
    local content = Artifact.getContent(session.id, id)    -- the table back
    local found = Artifact.list(session.id, {artifact_type = "UserInput", tags = {"finance"}})
    local file_id = Artifact.storeFile(session.id, "reports/q4.pdf", {description = "Q4"})

``store(session, name, content[, metadata])`` (content: a string, binary string or table;
metadata: ``mime_type``, ``tags``, ``description``, ``artifact_type``, ``created_by``,
``custom``, any other key a custom field) returns the artifact's id as an id handle:
``tostring``, ``..``, string methods and any Python call (``State.save``,
``JSON.stringify``) see our id string, and it carries rs-llmspell's id fields
``content_hash``, ``session_id`` and ``sequence`` (here the version
under its name); the ``id`` of ``get``/``list``/``query``/``versions`` entries is the same
handle, so ``entry.id == stored`` holds. rs-llmspell's
``store(session, type, name, content[, metadata])`` works too, as does
``storeFile(session, path, type[, metadata])`` (under the ``full`` sandbox it reads any
readable path, as ``io.open`` does there; under ``safe`` only the allowed roots).
``get(session, ref[, version])`` returns the artifact's fields (``id``, ``name``,
``version``, ``artifact_type``, ``mime_type``, ``size``, ``tags``, ``custom``,
``created_at``, ...) plus ``content`` and ``metadata`` (the fields
again, rs-llmspell's shape); ``getContent(session, ref[, version])`` just the content (a
table for content stored as a table, else a string). ``ref`` is an id, an artifact table,
rs-llmspell's id table ``{content_hash, session_id[, sequence]}``, or a name in ``session``
(its newest version). ``list(session[, filter])``,
``query{session=, artifact_type=, tags=, name=, mime_type=, created_after=, created_before=,
min_size=, max_size=, latest=, sort=, descending=, limit=, offset=}``,
``versions(session, name)``, ``delete(session, ref[, version])``,
``grant(owner, grantee[, "read"|"write"])``, ``revoke(owner, grantee)``, ``grants(owner)``,
``setAutoCollect(session, enabled)``. A session is a handle or an id string, and it is the
session asking (for permissions); ``query`` asks as the current session. Errors are Lua
errors starting with the class name (``SecurityViolation: storeFile: ...``).

The Lua half is ``llmspell/lua/scripts/artifact.lua``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.errors import ArtifactNotFound, ValidationError
from llmspell.lua import checks
from llmspell.validation import check_known_keys

if TYPE_CHECKING:
    from llmspell.artifacts import Artifact
    from llmspell.lua.engine import LuaEngine

FILTER_KEYS = ("artifact_type", "type", "tags", "tag", "name", "name_pattern", "mime_type",
               "created_after", "created_before", "min_size", "max_size", "latest", "sort",
               "descending", "limit", "offset")
QUERY_KEYS = (*FILTER_KEYS, "session", "session_id")

def artifact_table(artifact: Artifact | None) -> dict[str, Any] | None:
    """An artifact's fields for Lua (None values left out, so they read as nil)."""
    if artifact is None:
        return None
    return {k: v for k, v in artifact.to_dict().items() if v is not None}


def id_table(artifact: Artifact | None) -> dict[str, Any] | None:
    """What ``store`` returns: our id, name and version, and rs-llmspell's id fields
    (``content_hash``, ``session_id``, ``sequence``: here the version under its name)."""
    if artifact is None:
        return None
    return {"id": artifact.id, "name": artifact.name, "version": artifact.version,
            "content_hash": artifact.content_hash, "session_id": artifact.session_id,
            "sequence": artifact.version}


def _filters(value: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    found = checks.mapping(value, "filter")
    check_known_keys(found, allowed, "filter", noun="field")
    out: dict[str, Any] = {}
    kind = found.get("artifact_type", found.get("type"))
    if kind is not None:
        out["artifact_type"] = kind
    tags = checks.as_list(found.get("tags"))
    tags = [] if tags is None else ([tags] if isinstance(tags, str) else tags)
    if "tag" in found:
        tags = [*tags, found["tag"]]
    if tags:
        out["tags"] = tags
    name = found.get("name", found.get("name_pattern"))
    if name is not None:
        out["name"] = name
    for key in ("mime_type", "created_after", "created_before", "min_size", "max_size",
                "latest", "sort", "descending", "limit", "offset"):
        if found.get(key) is not None:
            out[key] = found[key]
    session = found.get("session", found.get("session_id"))
    if session is not None:
        out["session"] = checks.handle_id(session)
    return out


def _metadata(value: Any) -> dict[str, Any] | None:
    if value is None or value == {}:
        return None
    metadata = checks.mapping(value, "metadata")
    if "tags" in metadata:
        metadata["tags"] = checks.as_list(metadata["tags"])
    return metadata


def install(engine: LuaEngine) -> None:
    runtime = engine.runtime

    def manager() -> Any:
        return runtime.artifacts

    def store(session: Any, name: Any, content: Any, metadata: Any = None,
              kind: Any = None) -> dict[str, Any] | None:
        found = manager().store(session, name, content, artifact_type=kind,
                                metadata=_metadata(metadata), as_session=session)
        return id_table(found)

    def store_file(session: Any, path: Any, metadata: Any = None,
                   kind: Any = None) -> dict[str, Any] | None:
        found = manager().store_file(session, checks.text(path, "path"), artifact_type=kind,
                                     metadata=_metadata(metadata), as_session=session)
        return id_table(found)

    def resolve(session: Any, ref: Any) -> Any:
        """``ref``, or the id rs-llmspell's id table ``{content_hash, session_id, sequence}``
        names: the artifact of that session with that content hash (and, when given, that
        version: our ``sequence``)."""
        if not isinstance(ref, dict):
            return ref
        known = ("content_hash", "session_id", "sequence")
        check_known_keys(ref, known, "ref", noun="field")
        digest = checks.text(ref.get("content_hash"), "ref.content_hash", empty=False)
        owner = checks.text(ref.get("session_id", session), "ref.session_id", empty=False)
        sequence = ref.get("sequence")
        for artifact in manager().list(owner, as_session=session):
            if artifact.content_hash == digest and sequence in (None, artifact.version):
                return artifact.id
        raise ArtifactNotFound(f"session {owner} has no artifact with content_hash {digest!r}"
                               + ("" if sequence is None else f" and sequence {sequence}"))

    def get(session: Any, ref: Any, version: Any = None) -> dict[str, Any] | None:
        artifacts = manager()
        found = artifacts.get(resolve(session, ref), session=session, version=version,
                              as_session=session)
        table = artifact_table(found)
        assert table is not None
        table["metadata"] = dict(table)
        table["content"] = artifacts.value(found, as_session=session)
        return table

    def get_content(session: Any, ref: Any, version: Any = None) -> Any:
        return manager().value(resolve(session, ref), session=session, version=version,
                               as_session=session)

    def list_(session: Any = None, filter_: Any = None) -> list[dict[str, Any] | None]:
        if session is None or session == "":  # rs-llmspell: the current session
            session = runtime.sessions.current_id()
            if session is None:
                raise ValidationError("session", "Artifact.list needs a session (a handle or "
                                      "an id), or a current session (Session.setCurrent)")
        options = _filters(filter_, FILTER_KEYS)
        return [artifact_table(a) for a in manager().list(session, as_session=session,
                                                          **options)]

    def query(filter_: Any = None) -> list[dict[str, Any] | None]:
        return [artifact_table(a) for a in manager().query(**_filters(filter_, QUERY_KEYS))]

    def versions(session: Any, name: Any) -> list[dict[str, Any] | None]:
        return [artifact_table(a) for a in manager().versions(session, name,
                                                              as_session=session)]

    def delete(session: Any, ref: Any, version: Any = None) -> bool:
        return manager().delete(resolve(session, ref), session=session, version=version,
                                as_session=session) is not None

    def grant(owner: Any, grantee: Any, access: Any = None) -> Any:
        return manager().grant(owner, grantee, "read" if access is None else access)

    def revoke(owner: Any, grantee: Any) -> bool:
        return bool(manager().revoke(owner, grantee))

    def grants(owner: Any) -> dict[str, str]:
        return dict(manager().grants(owner))

    def set_auto_collect(session: Any, enabled: Any) -> None:
        manager().set_auto_collect(session, enabled)

    functions: dict[str, Callable[..., Any]] = {
        "store": store, "storeFile": store_file, "get": get, "getContent": get_content,
        "list": list_, "query": query, "versions": versions, "delete": delete,
        "grant": grant, "revoke": revoke, "grants": grants,
        "setAutoCollect": set_auto_collect}
    engine.install_global("Artifact", functions, "artifact.lua",
                          unavailable=runtime.unavailable("artifacts"))
