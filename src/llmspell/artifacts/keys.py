"""Where artifacts live in the store, and the index keys that keep queries off full scans.

::

    art/<sid>/<name key>/<version, 10 digits>          the record (JSON, Artifact.to_record)
    artt/<type>/<created us>/<sid>/<name key>/<ver>    one per artifact: the type index
    arts/<sid>/<created us>/<sid>/<name key>/<ver>     one per artifact: its session's
                                                       artifacts in creation order
    artg/<tag>/<created us>/<sid>/<name key>/<ver>     one per tag ('/' and '%' escaped)
    artacl/<owner sid>/<grantee sid>                   a grant: {"access": "read"|"write", ...}
    artaclr/<grantee sid>/<owner sid>                  the same grant, seen from the grantee
    artcfg/<sid>                                       older stores only: per-session settings
                                                       ({"auto_collect"}), moved into the
                                                       session's metadata at open (.reindex)

A session's artifacts are the prefix ``art/<sid>/``, and one name's versions the prefix
``art/<sid>/<name key>/``, in version order, so "the latest version" is one reverse scan.
``<created us>`` is the creation time in microseconds (16 digits), so the type and tag
indexes list artifacts across sessions in creation order and a created-before/after filter
is a key range.

Versions are never reused. Deleting the newest version of a name leaves a tombstone record
(``{"deleted": true, "version": n}``) in its place, so the next store of that name still
gets ``n + 1``; the next store removes the tombstone in its own batch. So a name has at most
one tombstone, always its highest key, and listing skips it.

The ``arts/`` index came later (issue 18: a session's ``list(limit=10)`` read every record).
A store written before it gets it on first open (:mod:`.reindex`); the marker key
:data:`SESSION_INDEX_DONE` says it is complete. Its tail repeats the session id so every index
key ends the same way (:func:`record_key_of_index` reads the last three parts).
"""

from __future__ import annotations

import orjson
from blake3 import blake3

from llmspell.artifacts.model import VERSION_DIGITS, Artifact

RECORD_PREFIX = "art/"
TYPE_PREFIX = "artt/"
TAG_PREFIX = "artg/"
SESSION_TIME_PREFIX = "arts/"
#: Every prefix of index keys (doctor --deep checks each key under them points at a record).
INDEX_PREFIXES = (TYPE_PREFIX, TAG_PREFIX, SESSION_TIME_PREFIX)
#: Present once every artifact of the store has its ``arts/`` key.
SESSION_INDEX_DONE = "artmeta/session_index"
ACL_PREFIX = "artacl/"
ACL_REVERSE_PREFIX = "artaclr/"
SETTINGS_PREFIX = "artcfg/"
#: The key ranges a whole-store backup copies for artifacts (records, indexes and their
#: completeness marker, permissions, settings).
STORE_PREFIXES = (RECORD_PREFIX, *INDEX_PREFIXES, SESSION_INDEX_DONE, ACL_PREFIX,
                  ACL_REVERSE_PREFIX, SETTINGS_PREFIX)
_DIGITS = 16
#: Escaped tags longer than this (in UTF-8 bytes) are indexed by a hash, to keep keys short.
_TAG_KEY_MAX = 200


def session_prefix(session_id: str) -> str:
    return f"{RECORD_PREFIX}{session_id}/"


def name_prefix(session_id: str, nkey: str) -> str:
    return f"{RECORD_PREFIX}{session_id}/{nkey}/"


def record_key(session_id: str, nkey: str, version: int) -> str:
    # zfill, not ``{version:0{VERSION_DIGITS}d}`` (the same digits for an int): that nested
    # format spec is built on every call (see journal.entry_key)
    return f"{RECORD_PREFIX}{session_id}/{nkey}/{str(version).zfill(VERSION_DIGITS)}"


def version_of(key: str) -> int:
    return int(key[-VERSION_DIGITS:])


def tombstone(version: int) -> bytes:
    return orjson.dumps({"deleted": True, "version": version})


def micros(timestamp: float) -> int:
    return round(timestamp * 1_000_000)


def tag_token(tag: str) -> str:
    """How ``tag`` appears in index keys: escaped, or hashed when very long."""
    escaped = tag.replace("%", "%25").replace("/", "%2F")
    if len(escaped.encode("utf-8")) > _TAG_KEY_MAX:
        return "#" + str(blake3(tag.encode("utf-8")).hexdigest()[:32])
    return escaped


def type_prefix(artifact_type: str) -> str:
    return f"{TYPE_PREFIX}{artifact_type}/"


def session_time_prefix(session_id: str) -> str:
    return f"{SESSION_TIME_PREFIX}{session_id}/"


def tag_prefix(tag: str) -> str:
    return f"{TAG_PREFIX}{tag_token(tag)}/"


def time_key(prefix: str, timestamp: float) -> str:
    """The first index key of ``prefix`` at or after ``timestamp``."""
    return f"{prefix}{micros(timestamp):0{_DIGITS}d}"


def _tail(artifact: Artifact) -> str:
    # zfill: see record_key
    return (f"{str(micros(artifact.created_at)).zfill(_DIGITS)}/{artifact.session_id}/"
            f"{artifact.name_key}/{str(artifact.version).zfill(VERSION_DIGITS)}")


def session_time_key(artifact: Artifact) -> str:
    """The ``arts/`` index key of ``artifact``."""
    return session_time_prefix(artifact.session_id) + _tail(artifact)


def index_keys(artifact: Artifact) -> list[str]:
    """Every index key of ``artifact``."""
    tail = _tail(artifact)
    keys = [type_prefix(artifact.artifact_type) + tail,
            SESSION_TIME_PREFIX + artifact.session_id + "/" + tail]
    keys.extend(tag_prefix(tag) + tail for tag in artifact.tags)
    return keys


def record_key_of_index(index_key: str) -> str:
    """The record key an index key points at (its last three parts)."""
    sid, nkey, version = index_key.rsplit("/", 3)[1:]
    return f"{RECORD_PREFIX}{sid}/{nkey}/{version}"


def acl_key(owner: str, grantee: str) -> str:
    return f"{ACL_PREFIX}{owner}/{grantee}"


def acl_reverse_key(grantee: str, owner: str) -> str:
    return f"{ACL_REVERSE_PREFIX}{grantee}/{owner}"


def settings_key(session_id: str) -> str:
    return f"{SETTINGS_PREFIX}{session_id}"
