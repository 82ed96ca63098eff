"""Checks on what an artifact is stored with: name, type, tags, mime type, custom fields.

Every check names the argument and the rule (``argument 'name': must be at most 255
characters (got str 'xxx...')``). :func:`split_metadata` reads the seed's metadata table
(``{mime_type = ..., tags = {...}, description = ...}``): the fields it knows become the
artifact's own, every other key a custom field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from llmspell.artifacts.model import artifact_type
from llmspell.artifacts.settings import ArtifactSettings
from llmspell.codec import format_path, to_jsonable
from llmspell.errors import ValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]*"
                   r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+\-]+=(?:[A-Za-z0-9!#$&^_.+\-]+|\"[^\"]*\"))*")
MAX_DESCRIPTION = 4096
MAX_CREATED_BY = 256
MAX_MIME = 255

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
    limit = settings.max_name_length
    if not isinstance(name, str) or not name:
        raise ValidationError("name", "must be a non-empty string", got=name)
    if len(name) > limit:
        raise ValidationError("name", f"must be at most {limit} characters ([session] "
                              f"artifact_max_name_length), is {len(name)}", got=name)
    if _CONTROL.search(name):
        raise ValidationError("name", "must not contain control characters (newline, tab, "
                              "NUL, ...)", got=name)
    _check_unicode(name, "name")
    return name


def check_tags(tags: object, settings: ArtifactSettings, *, argument: str = "tags") -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, list | tuple | set | frozenset):
        raise ValidationError(argument, "must be a list of strings", got=tags)
    seen: dict[str, None] = {}
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not tag or _CONTROL.search(tag):
            raise ValidationError(argument, "each tag must be a non-empty string with no "
                                  "control characters", path=f"[{i}]", got=tag)
        if len(tag) > settings.max_tag_length:
            raise ValidationError(argument, f"each tag must be at most "
                                  f"{settings.max_tag_length} characters ([session] "
                                  f"artifact_max_tag_length), is {len(tag)}", path=f"[{i}]",
                                  got=tag)
        _check_unicode(tag, argument)
        seen[tag] = None
    if len(seen) > settings.max_tags:
        raise ValidationError(argument, f"must hold at most {settings.max_tags} tags "
                              "([session] artifact_max_tags)", got=len(seen))
    return list(seen)


def check_mime(mime: object, *, argument: str = "mime_type") -> str:
    if (not isinstance(mime, str) or len(mime) > MAX_MIME
            or not _MIME.fullmatch(mime.strip())):
        raise ValidationError(argument, "must be a media type such as 'application/json' or "
                              "'text/plain; charset=utf-8'", got=mime)
    return mime.strip()


def check_text(value: object, argument: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(argument, "must be a string", got=value)
    if len(value) > limit:
        raise ValidationError(argument, f"must be at most {limit} characters", got=value)
    _check_unicode(value, argument)
    return value


def check_custom(custom: object, *, argument: str = "custom") -> dict[str, Any]:
    """Custom fields: a dict of JSON values (no bytes)."""
    if custom is None:
        return {}
    if not isinstance(custom, dict):
        raise ValidationError(argument, "must be a dict (a Lua table with string keys)",
                              got=custom)
    value, binary = to_jsonable(custom, argument=argument)
    if binary:
        raise ValidationError(argument, "must hold JSON values only (no binary strings)",
                              path=format_path(tuple(binary[0])))
    return dict(value)


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


def _check_unicode(text: str, argument: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(argument, "must be valid Unicode (it has a lone surrogate)",
                              got=text) from None
