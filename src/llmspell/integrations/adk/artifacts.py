"""ADK's ``BaseArtifactService`` on llmspell's artifact store.

A session-scoped ADK artifact is a llmspell artifact of the llmspell session that holds the
ADK session (the same one :class:`~.sessions.LLMSpellSessionService` uses); a ``user:``
artifact belongs to a llmspell session kept for that app and user. Content is stored once per
store (BLAKE3, deduplicated, compressed when it pays) and verified on read, like every llmspell
artifact. ADK's version ``n`` is the n-th stored version (oldest is 0). A save into a session
an idle timeout suspended resumes it first (llmspell stores artifacts into active sessions
only).

What is stored: ``inline_data`` as its bytes with its mime type; ``text`` as UTF-8 text
(``text/plain``); any other part (``file_data`` references) as the part's JSON. The custom
field ``adk_part`` records which, ``adk_metadata`` holds ``custom_metadata``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from google.adk.artifacts.base_artifact_service import ArtifactVersion, BaseArtifactService
from google.genai import types
from typing_extensions import override

from llmspell.errors import ValidationError
from llmspell.integrations.threads import ForeignSessions, check_foreign_id, encode_segment
from llmspell.sessions.model import SUSPENDED

if TYPE_CHECKING:
    from llmspell.runtime import Runtime

USER_PREFIX = "user:"


class LLMSpellArtifactService(BaseArtifactService):
    """ADK artifacts, versioned, in a llmspell Runtime's artifact store.

    Args:
        runtime: the Runtime (state, sessions and artifacts enabled).
    """

    def __init__(self, runtime: Runtime) -> None:
        if not runtime.config.state.enabled or not runtime.config.session.enabled:
            raise ValidationError("runtime", "must have [state] and [session] enabled: "
                                  "ADK artifacts belong to llmspell sessions")
        self.runtime = runtime
        self.sessions = ForeignSessions(runtime, "adk")

    @override
    async def save_artifact(self, *, app_name: str, user_id: str, filename: str,
                            artifact: types.Part | dict[str, Any],
                            session_id: str | None = None,
                            custom_metadata: dict[str, Any] | None = None) -> int:
        return await asyncio.to_thread(self.save_artifact_sync, app_name=app_name,
                                       user_id=user_id, filename=filename, artifact=artifact,
                                       session_id=session_id, custom_metadata=custom_metadata)

    @override
    async def load_artifact(self, *, app_name: str, user_id: str, filename: str,
                            session_id: str | None = None,
                            version: int | None = None) -> types.Part | None:
        return await asyncio.to_thread(self.load_artifact_sync, app_name=app_name,
                                       user_id=user_id, filename=filename,
                                       session_id=session_id, version=version)

    @override
    async def list_artifact_keys(self, *, app_name: str, user_id: str,
                                 session_id: str | None = None) -> list[str]:
        return await asyncio.to_thread(self.list_artifact_keys_sync, app_name=app_name,
                                       user_id=user_id, session_id=session_id)

    @override
    async def delete_artifact(self, *, app_name: str, user_id: str, filename: str,
                              session_id: str | None = None) -> None:
        await asyncio.to_thread(self.delete_artifact_sync, app_name=app_name, user_id=user_id,
                                filename=filename, session_id=session_id)

    @override
    async def list_versions(self, *, app_name: str, user_id: str, filename: str,
                            session_id: str | None = None) -> list[int]:
        found = await self.list_artifact_versions(app_name=app_name, user_id=user_id,
                                                  filename=filename, session_id=session_id)
        return [v.version for v in found]

    @override
    async def list_artifact_versions(self, *, app_name: str, user_id: str, filename: str,
                                     session_id: str | None = None) -> list[ArtifactVersion]:
        return await asyncio.to_thread(self.list_artifact_versions_sync, app_name=app_name,
                                       user_id=user_id, filename=filename,
                                       session_id=session_id)

    @override
    async def get_artifact_version(self, *, app_name: str, user_id: str, filename: str,
                                   session_id: str | None = None,
                                   version: int | None = None) -> ArtifactVersion | None:
        found = await self.list_artifact_versions(app_name=app_name, user_id=user_id,
                                                  filename=filename, session_id=session_id)
        return _pick(found, version)

    # -- synchronous ------------------------------------------------------------------------

    def save_artifact_sync(self, *, app_name: str, user_id: str, filename: str,
                           artifact: types.Part | dict[str, Any], session_id: str | None = None,
                           custom_metadata: dict[str, Any] | None = None) -> int:
        """Store the next version of ``filename``; returns its ADK version (0 first)."""
        sid = self._owner(app_name, user_id, filename, session_id, create=True)
        assert sid is not None
        if isinstance(artifact, dict):
            artifact = types.Part.model_validate(artifact)
        if not isinstance(artifact, types.Part):
            raise ValidationError("artifact", "must be a google.genai types.Part or a dict",
                                  got=artifact)
        if custom_metadata is not None and not isinstance(custom_metadata, dict):
            raise ValidationError("custom_metadata", "must be a dict or None",
                                  got=custom_metadata)
        content: Any
        if artifact.inline_data is not None and artifact.inline_data.data is not None:
            kind, content = "inline_data", artifact.inline_data.data
            mime = artifact.inline_data.mime_type or "application/octet-stream"
        elif artifact.text is not None:
            kind, content, mime = "text", artifact.text, "text/plain"
        elif artifact.file_data is not None:
            kind, content = "part", artifact.model_dump(mode="json", exclude_none=True)
            mime = "application/json"
        else:
            raise ValidationError("artifact", "must hold inline_data, text or file_data",
                                  got=artifact)
        custom: dict[str, Any] = {"adk_part": kind}
        if custom_metadata:
            custom["adk_metadata"] = custom_metadata
        if kind == "part" and artifact.file_data is not None:
            custom["adk_file_mime"] = artifact.file_data.mime_type
        if self.runtime.sessions.get(sid).status == SUSPENDED:
            self.runtime.sessions.resume(sid)  # an idle timeout suspended it; it is in use
        artifacts = self.runtime.artifacts
        artifacts.store(sid, filename, content, mime_type=mime, custom=custom,
                        artifact_type="adk_artifact", created_by="adk")
        return len(artifacts.versions(sid, filename)) - 1

    def load_artifact_sync(self, *, app_name: str, user_id: str, filename: str,
                           session_id: str | None = None,
                           version: int | None = None) -> types.Part | None:
        """The part stored as ``version`` (the newest when None); None when there is none."""
        found = self._stored(app_name, user_id, filename, session_id)
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise ValidationError("version", "must be an int or None", got=version)
        if not found or (version is not None and not 0 <= version < len(found)):
            return None
        chosen = found[-1 if version is None else version]
        content = self.runtime.artifacts.value(chosen.id)
        kind = chosen.custom.get("adk_part")
        if kind == "inline_data":
            return types.Part.from_bytes(data=content, mime_type=chosen.mime_type)
        if kind == "text":
            return types.Part.from_text(text=content.decode("utf-8"))
        return types.Part.model_validate(content)

    def list_artifact_keys_sync(self, *, app_name: str, user_id: str,
                                session_id: str | None = None) -> list[str]:
        """The names of the session's artifacts and of the user's ``user:`` ones, sorted."""
        check_foreign_id(app_name, "app_name")
        check_foreign_id(user_id, "user_id")
        names: set[str] = set()
        owners = [_user_owner(app_name, user_id)]
        if session_id is not None:
            owners.append(_session_owner(app_name, user_id,
                                         check_foreign_id(session_id, "session_id")))
        for owner in owners:
            sid = self.sessions.find(owner)
            if sid is not None and self.runtime.sessions.exists(sid):
                names.update(a.name for a in self.runtime.artifacts.list(sid, latest=True))
        return sorted(names)

    def delete_artifact_sync(self, *, app_name: str, user_id: str, filename: str,
                             session_id: str | None = None) -> None:
        """Delete every version of ``filename`` (nothing when there is none)."""
        for artifact in self._stored(app_name, user_id, filename, session_id):
            self.runtime.artifacts.delete(artifact.id)

    def list_artifact_versions_sync(self, *, app_name: str, user_id: str, filename: str,
                                    session_id: str | None = None) -> list[ArtifactVersion]:
        """Every version of ``filename`` with its metadata, oldest (0) first."""
        found = self._stored(app_name, user_id, filename, session_id)
        return [ArtifactVersion(
            version=n, canonical_uri=f"llmspell://artifacts/{a.id}",
            custom_metadata=dict(a.custom.get("adk_metadata") or {}),
            create_time=a.created_at,
            mime_type=a.custom.get("adk_file_mime") if a.custom.get("adk_part") == "part"
            else a.mime_type) for n, a in enumerate(found)]

    # -- internals ------------------------------------------------------------------------

    def _stored(self, app_name: str, user_id: str, filename: str,
                session_id: str | None) -> list[Any]:
        sid = self._owner(app_name, user_id, filename, session_id, create=False)
        if sid is None or not self.runtime.sessions.exists(sid):
            return []
        return list(self.runtime.artifacts.versions(sid, filename))

    def _owner(self, app_name: str, user_id: str, filename: str, session_id: str | None, *,
               create: bool) -> str | None:
        check_foreign_id(app_name, "app_name")
        check_foreign_id(user_id, "user_id")
        check_foreign_id(filename, "filename")
        if filename.startswith(USER_PREFIX):
            owner = _user_owner(app_name, user_id)
        else:
            if session_id is None:
                raise ValidationError("session_id", "is required for a session-scoped "
                                      "artifact (a filename without the 'user:' prefix)")
            owner = _session_owner(app_name, user_id,
                                   check_foreign_id(session_id, "session_id"))
        if not create:
            return self.sessions.find(owner)
        return self.sessions.ensure(owner, metadata={"app_name": app_name,
                                                     "user_id": user_id})


def _session_owner(app_name: str, user_id: str, session_id: str) -> str:
    """The same foreign id the session service gives this ADK session."""
    return "/".join(encode_segment(p) for p in (app_name, user_id, session_id.strip()))


def _user_owner(app_name: str, user_id: str) -> str:
    return f"{encode_segment(app_name)}/{encode_segment(user_id)}"


def _pick(found: list[ArtifactVersion], version: int | None) -> ArtifactVersion | None:
    if not found:
        return None
    if version is None:
        return found[-1]
    return found[version] if isinstance(version, int) and 0 <= version < len(found) else None
