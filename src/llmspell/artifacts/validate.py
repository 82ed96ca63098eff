"""Checks on what an artifact is stored with: name, type, tags, mime type, custom fields, and
the ``[session]`` settings (:class:`ArtifactSettings`) that set their limits.

The keys live in ``[session]`` (the seeds put ``artifact_compression`` there) and are declared
in :mod:`llmspell.config_schema`; ``ArtifactSettings()`` gives the defaults, so an
:class:`~llmspell.artifacts.manager.ArtifactManager` can also be built without a Config.

The name, tag, text and custom-field rules are :mod:`llmspell.validation`'s (shared with
sessions); this module binds them to the ``[session] artifact_*`` limits.

Every check names the argument and the rule (``argument 'name': must be at most 255
characters (got str 'xxx...')``). :func:`split_metadata` reads the seed's metadata table
(``{mime_type = ..., tags = {...}, description = ...}``): the fields it knows become the
artifact's own, every other key a custom field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from llmspell import validation
from llmspell.artifacts.model import artifact_type
from llmspell.errors import ValidationError
from llmspell.settings import from_config, setting
from llmspell.validation import check_text

_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*"
                   r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+\-]+=(?:[A-Za-z0-9!#$&^_.+\-]+|\"[^\"]*\"))*")
MAX_DESCRIPTION = validation.MAX_TEXT
MAX_CREATED_BY = 256
MAX_MIME = 255


@dataclass(frozen=True)
class ArtifactSettings:
    """Artifact behaviour. A zero size limit means none. Each field defaults to the schema
    default of the ``[session]`` key it is read from.

    Args:
        max_artifact_size: largest content, in bytes, one artifact may hold.
        max_name_length: longest artifact name, in characters.
        max_tag_length: longest tag, in characters.
        max_tags: most tags on one artifact.
        auto_collect: store tool results and agent outputs in the current session.
        compression: ``zstd``, ``lz4`` or ``none`` for content above ``compression_threshold``
            (``[session] artifact_compression_algorithm``, or ``none`` when
            ``artifact_compression = false``).
        compression_threshold: content larger than this many bytes is compressed when that
            saves space.
        gc_grace_seconds: how long unreferenced content is kept before ``gc`` may remove it.
    """

    max_artifact_size: int = setting("session.max_artifact_size")
    max_name_length: int = setting("session.artifact_max_name_length")
    max_tag_length: int = setting("session.artifact_max_tag_length")
    max_tags: int = setting("session.artifact_max_tags")
    auto_collect: bool = setting("session.artifact_auto_collect")
    compression: str = setting("session.artifact_compression_algorithm")
    compression_threshold: int = setting("session.compression_threshold")
    gc_grace_seconds: float = setting("session.artifact_gc_grace_seconds")

    @classmethod
    def from_config(cls, config: Any) -> ArtifactSettings:
        """Read ``[session]`` from a :class:`~llmspell.config.Config`."""
        if config.setting("session.artifact_compression"):
            return from_config(cls, config)
        return from_config(cls, config, compression="none")


#: The session metadata key that turns automatic collection off for one session (``false``).
AUTO_COLLECT = "auto_collect_artifacts"


def collecting(metadata: dict[str, Any]) -> bool:
    """Whether a session of this metadata takes automatic collections: the one rule for the
    per-session switch (``[session] artifact_auto_collect`` is the global one)."""
    return metadata.get(AUTO_COLLECT, True) is not False


class CollectionOff(Exception):
    """A collection's retry read its session's record and found the switch off (another
    process turned it off since this one decided): nothing is stored. The collector drops
    the collection quietly."""


#: Metadata keys with a meaning of their own; any other key is a custom field.
KNOWN_KEYS = ("artifact_type", "type", "mime_type", "content_type", "tags", "description",
              "created_by", "custom")


@dataclass
class Metadata:
    """The checked metadata of one store. None: not given (a default or detection applies)."""

    artifact_type: str | None = None
    mime_type: str | None = None
    tags: list[str] = field(default_factory=list)
    description: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None


def check_name(name: object, settings: ArtifactSettings) -> str:
    """An artifact name: required, ``[session] artifact_max_name_length`` characters at most
    (:func:`llmspell.validation.check_name`)."""
    return validation.check_name(name, max_length=settings.max_name_length,
                                 setting="[session] artifact_max_name_length")


def check_tags(tags: object, settings: ArtifactSettings, *, argument: str = "tags") -> list[str]:
    """An artifact's tags, with the ``[session] artifact_max_tag_length`` and
    ``artifact_max_tags`` limits (:func:`llmspell.validation.check_tags`; long tags are
    hashed in index keys, so there is no byte limit)."""
    return validation.check_tags(tags, argument=argument, max_length=settings.max_tag_length,
                                 max_tags=settings.max_tags,
                                 settings=("[session] artifact_max_tag_length",
                                           "[session] artifact_max_tags"))


def check_mime(mime: object, *, argument: str = "mime_type") -> str:
    if (not isinstance(mime, str) or len(mime) > MAX_MIME
            or not _MIME.fullmatch(mime.strip())):
        raise ValidationError(argument, "must be a media type such as 'application/json' or "
                              "'text/plain; charset=utf-8'", got=mime)
    return mime.strip()


def check_custom(custom: object, *, argument: str = "custom") -> dict[str, Any]:
    """Custom fields: a dict of JSON values (no bytes)."""
    return validation.check_fields(custom, argument)


def split_metadata(metadata: object, settings: ArtifactSettings) -> Metadata:
    """The seed's metadata table, checked: known fields apart, every other key custom."""
    if metadata is None or metadata == {}:
        return Metadata()
    if not isinstance(metadata, dict):
        raise ValidationError("metadata", "must be a table/dict such as {mime_type = "
                              "'application/json', tags = {'finance'}, description = '...'}",
                              got=metadata)
    found = Metadata()
    kind = metadata.get("artifact_type", metadata.get("type"))
    if kind is not None:
        found.artifact_type = artifact_type(kind, argument="metadata.artifact_type")
    mime = metadata.get("mime_type", metadata.get("content_type"))
    if mime is not None:
        found.mime_type = check_mime(mime, argument="metadata.mime_type")
    found.tags = check_tags(metadata.get("tags"), settings, argument="metadata.tags")
    if metadata.get("description") is not None:
        found.description = check_text(metadata["description"], "metadata.description",
                                       MAX_DESCRIPTION)
    if metadata.get("created_by") is not None:
        found.created_by = check_text(metadata["created_by"], "metadata.created_by",
                                      MAX_CREATED_BY)
    custom = check_custom(metadata.get("custom"), argument="metadata.custom")
    others = {k: v for k, v in metadata.items() if k not in KNOWN_KEYS}
    custom.update(check_custom(others, argument="metadata"))
    found.custom = custom
    return found
