"""What an artifact is: its identity, its metadata record, and the string id that names it.

An artifact is one version of a named piece of content in a session. Its identity is
``{session_id, name, version, content_hash}``; its string id is
``<session_id>/<name key>/<version>``, where the name key is the first 16 hex digits of the
BLAKE3 hash of the name (so any name, of any length or alphabet, gives a short, fixed-size
id and store key). The id locates the record directly: reading an artifact by id is one
store read. Storing the same name again creates the next version; version numbers are never
reused, even after a delete (see :mod:`.keys` for the tombstone that guarantees it).

:class:`Artifact` is the metadata record; ``to_record``/``from_record`` are the JSON kept in
the store (readable with the ``sqlite3`` shell), ``to_dict`` the form users see (``--json``,
Lua) with ISO 8601 times.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from blake3 import blake3

from llmspell.codec import DECODE_ERRORS, damaged, unencodable
from llmspell.errors import ArtifactNotFound, ValidationError
from llmspell.journal import iso

AGENT_OUTPUT = "agent_output"
TOOL_RESULT = "tool_result"
USER_INPUT = "user_input"
SYSTEM_GENERATED = "system_generated"
#: The built-in artifact types; any other name matching CUSTOM_TYPE is a custom type.
TYPES = (AGENT_OUTPUT, TOOL_RESULT, USER_INPUT, SYSTEM_GENERATED)
#: rs-llmspell's spellings of the built-in types (CamelCase) and a few others we accept.
TYPE_ALIASES = {
    "agentoutput": AGENT_OUTPUT, "toolresult": TOOL_RESULT, "userinput": USER_INPUT,
    "systemgenerated": SYSTEM_GENERATED,
}
_CANONICAL = frozenset(TYPES)
CUSTOM_TYPE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
#: JSON content (a table/dict/list stored as JSON and given back decoded).
JSON_ENCODING = "json"

NAME_KEY_DIGITS = 16
VERSION_DIGITS = 10
_MAX_VERSION = 10**VERSION_DIGITS - 1
_ID = re.compile(r"^(?P<sid>[A-Za-z0-9._:\-]{1,128})/(?P<nk>[0-9a-f]{16})/(?P<v>[1-9][0-9]{0,9})$")


def artifact_type(value: object, *, argument: str = "artifact_type") -> str:
    """The canonical artifact type for ``value``.

    The built-in types in any case, with or without underscores (``UserInput``,
    ``user_input``, ``USER_INPUT``), map to their snake_case names; any other name of 1-64
    characters from ``A-Z a-z 0-9 _ . : -`` is a custom type, kept as written.
    """
    if value.__class__ is str and value in _CANONICAL:
        return value  # a built-in type as spelled here (a collection's): ~6k instructions
    if not isinstance(value, str) or not CUSTOM_TYPE.fullmatch(value):
        raise ValidationError(argument, "must be agent_output, tool_result, user_input, "
                              "system_generated (or their CamelCase forms), or a custom type "
                              "name of 1-64 characters from A-Z a-z 0-9 _ . : -", got=value)
    folded = value.replace("_", "").replace("-", "").lower()
    return TYPE_ALIASES.get(folded, value)


@functools.lru_cache(maxsize=4096)
def name_key(name: str) -> str:
    """The fixed-size key of an artifact name: 16 hex digits of its BLAKE3 hash (a store
    asks for it several times: the record key, the id, the index keys)."""
    return str(blake3(name.encode("utf-8")).hexdigest()[:NAME_KEY_DIGITS])


def format_id(session_id: str, nkey: str, version: int) -> str:
    return f"{session_id}/{nkey}/{version}"


@dataclass(frozen=True, slots=True)
class ArtifactId:
    """A parsed artifact id: the session, the name key and the version."""

    session_id: str
    name_key: str
    version: int

    def __str__(self) -> str:
        return format_id(self.session_id, self.name_key, self.version)


def parse_id(text: object) -> ArtifactId | None:
    """The :class:`ArtifactId` that ``text`` spells, or None when it is not an id."""
    if not isinstance(text, str):
        return None
    found = _ID.match(text)  # its session part is ID_PATTERN's alphabet and length
    if found is None:
        return None
    return ArtifactId(found["sid"], found["nk"], int(found["v"]))


def check_version(value: object, *, argument: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_VERSION:
        raise ValidationError(argument, "must be a version number (an int >= 1)", got=value)
    return value


@dataclass(slots=True)
class Artifact:
    """One stored version of a named artifact and everything known about it.

    ``size`` is the content's length in bytes; ``stored_size`` what its blob takes after
    compression (``compression``: zstd, lz4 or none) when it was stored (a blob shared by
    several artifacts is stored once). ``custom`` holds the caller's own fields.
    ``previous_version`` is the version of the same name that was the newest when this one
    was stored (None for the first). ``encoding`` is ``"json"`` when the content was given as
    a table/dict/list (it is then given back decoded), else None.
    """

    session_id: str
    name: str
    version: int
    content_hash: str
    artifact_type: str
    mime_type: str
    size: int
    stored_size: int
    compression: str
    created_at: float
    tags: list[str] = field(default_factory=list)
    description: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None
    previous_version: int | None = None
    encoding: str | None = None

    @property
    def name_key(self) -> str:
        return name_key(self.name)

    @property
    def id(self) -> str:
        """The string id: ``<session_id>/<name key>/<version>``."""
        return format_id(self.session_id, self.name_key, self.version)

    @property
    def previous_id(self) -> str | None:
        if self.previous_version is None:
            return None
        return format_id(self.session_id, self.name_key, self.previous_version)

    def to_record(self) -> dict[str, Any]:
        """The JSON form kept in the store."""
        return {
            "session_id": self.session_id, "name": self.name, "version": self.version,
            "hash": self.content_hash, "type": self.artifact_type, "mime": self.mime_type,
            "size": self.size, "stored": self.stored_size, "codec": self.compression,
            "created_at": self.created_at, "tags": self.tags,
            "description": self.description, "custom": self.custom,
            "created_by": self.created_by, "previous": self.previous_version,
            "encoding": self.encoding,
        }

    def encode(self) -> bytes:
        """The stored record; InvalidValue naming ``custom`` when a custom field holds a
        string orjson cannot encode (a lone surrogate: every other field was checked by its
        rule, which refuses one)."""
        try:
            return orjson.dumps(self.to_record())
        except orjson.JSONEncodeError:
            raise unencodable(self.custom, "custom") from None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Artifact:
        """Undo :meth:`to_record`."""
        return cls(
            record["session_id"], record["name"], record["version"], record["hash"],
            record["type"], record["mime"], record["size"], record["stored"], record["codec"],
            record["created_at"], record["tags"], record["description"], record["custom"],
            record["created_by"], record["previous"], record["encoding"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The form users see: JSON-ready, ``created_at`` in ISO 8601 (UTC)."""
        return {
            "id": self.id, "session_id": self.session_id, "name": self.name,
            "version": self.version, "content_hash": self.content_hash,
            "artifact_type": self.artifact_type, "mime_type": self.mime_type,
            "size": self.size, "stored_size": self.stored_size,
            "compression": self.compression, "tags": list(self.tags),
            "description": self.description, "custom": self.custom,
            "created_at": iso(self.created_at), "created_by": self.created_by,
            "previous_version": self.previous_version, "previous_id": self.previous_id,
            "encoding": self.encoding,
        }


def decode_record(key: str, raw: bytes) -> Artifact | None:
    """The artifact stored under ``key``, or None for a tombstone (see :mod:`.keys`).

    Raises CorruptRecord (naming ``key``) when the record is not one this module wrote.
    """
    try:
        record = orjson.loads(raw)
        if record.get("deleted"):
            return None
        return Artifact.from_record(record)
    except DECODE_ERRORS as exc:
        raise damaged(key, exc) from None


def not_found(ref: object, detail: str = "") -> ArtifactNotFound:
    return ArtifactNotFound(f"no artifact {ref!r}" + (f" ({detail})" if detail else ""))
