"""The Session record: what a session is, how it is checked on the way in, and its JSON forms.

A :class:`Session` is a plain dataclass. ``to_record``/``from_record`` are the compact form kept
in the store (times as seconds since the epoch; ``encode`` gives its bytes); ``to_dict`` is
the form users see (``--json``, Lua), with ISO 8601 times. Inputs to ``SessionManager.create``
are checked here, each error naming the argument and the rule (names, tags, text and metadata
by :mod:`llmspell.validation`, the rules artifacts use too).
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from llmspell import validation
from llmspell.codec import DECODE_ERRORS, check_size, damaged, unencodable
from llmspell.errors import ValidationError
from llmspell.journal import ID_PATTERN, check_session_id, iso
from llmspell.validation import check_text as check_text  # re-exported for the manager

ACTIVE = "active"
SUSPENDED = "suspended"
COMPLETED = "completed"
FAILED = "failed"
ARCHIVED = "archived"
STATUSES = (ACTIVE, SUSPENDED, COMPLETED, FAILED, ARCHIVED)



#: A random hex digit's 2 low bits as the RFC 9562 variant digit (binary 10xx).
_VARIANT = dict(zip("0123456789abcdef", "89ab" * 4, strict=True))


#: Held, not looked up in their modules per id (72 of new_id's 10.4k instructions; the
#: rest is the system call and the string work).
_time_ns, _urandom = time.time_ns, os.urandom


def new_id() -> str:
    """A new session id: a UUID version 7 (RFC 9562), time-ordered, so the keys of sessions
    created one after another sit side by side in the store (fewer pages touched per write).

    48 bits of milliseconds, the version digit 7, 74 random bits and the variant, spelled
    in hex directly (half the time of building the 128-bit integer first)."""
    ms = "%012x" % (_time_ns() // 1_000_000)
    r = _urandom(10).hex()  # 80 random bits: 74 are used
    return f"{ms[:8]}-{ms[8:]}-7{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:19]}"


#: The form of the ids :func:`new_id` makes: how a scope ``session:<id>`` is told to belong
#: to a session (for backups and the orphan check) rather than be an ordinary scope.
GENERATED_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Longest session tag in UTF-8 bytes (and characters): tags sit whole in index keys.
MAX_TAG = validation.MAX_TAG


@dataclass(slots=True)
class Limits:
    """Per-session ceilings; None means no limit (the ``[session]`` defaults fill them in)."""

    operations: int | None = None
    tokens: int | None = None
    cost: float | None = None
    artifacts: int | None = None
    artifact_bytes: int | None = None
    #: The session's stored footprint in bytes: its ``session:<id>`` state scope (record
    #: bytes) plus its artifacts' bytes.
    memory: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"operations": self.operations, "tokens": self.tokens, "cost": self.cost,
                "artifacts": self.artifacts, "artifact_bytes": self.artifact_bytes,
                "memory": self.memory}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Limits:
        return cls(**(data or {}))


@dataclass(slots=True)
class Counters:
    """What a session has used so far."""

    operations: int = 0
    artifacts: int = 0
    tokens: int = 0
    cost: float = 0.0
    artifact_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"operations": self.operations, "artifacts": self.artifacts,
                "tokens": self.tokens, "cost": self.cost, "artifact_bytes": self.artifact_bytes}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Counters:
        return cls(**(data or {}))

    def copy(self) -> Counters:
        return Counters(self.operations, self.artifacts, self.tokens, self.cost,
                        self.artifact_bytes)


#: Session.encode's constant parts: the encoded forms of Limits() and Counters(), and the
#: objects a default counter holds (every int 0 is one object in CPython; Counters()'s cost is
#: its default's float).
_NO_LIMITS = orjson.Fragment(orjson.dumps(Limits().to_dict()))
_NO_COUNTERS = orjson.Fragment(orjson.dumps(Counters().to_dict()))
_ZERO, _ZERO_COST = 0, Counters().cost

LIMIT_NAMES = ("operations", "tokens", "cost", "artifacts", "artifact_bytes", "memory")


@dataclass(slots=True)
class Session:
    """One session. Times are seconds since the epoch; durations are seconds.

    ``active_seconds`` is the time spent active before the current active stretch, which began
    at ``resumed_at`` (suspended time does not count toward ``max_duration``);
    ``last_activity_at`` drives the idle
    timeout; ``reason`` says why the session was last suspended or failed by a policy or
    by ``fail(reason)``.
    """

    id: str
    name: str
    status: str
    created_at: float
    updated_at: float
    description: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_session_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    max_duration: float | None = None
    max_idle_time: float | None = None
    limits: Limits = field(default_factory=Limits)
    counters: Counters = field(default_factory=Counters)
    last_activity_at: float = 0.0
    active_seconds: float = 0.0
    resumed_at: float | None = None
    reason: str | None = None

    def active_time(self, now: float) -> float:
        """Seconds this session has been active up to ``now`` (what max_duration limits)."""
        if self.status == ACTIVE and self.resumed_at is not None:
            return self.active_seconds + max(0.0, now - self.resumed_at)
        return self.active_seconds

    def may_time_out(self) -> bool:
        """Whether a timeout could apply to the session (active, with an idle or duration
        limit): only then need a reader apply timeouts (``Enforcer.apply_timeouts``)."""
        return self.status == ACTIVE and bool(self.max_idle_time or self.max_duration)

    def to_record(self) -> dict[str, Any]:
        """The compact form kept in the store."""
        return self._record(self.limits.to_dict(), self.counters.to_dict())

    def encode(self) -> bytes:
        """``orjson.dumps(self.to_record())``, the same bytes: limits and counters that are
        the defaults' very objects (no limit is None; no use is the int 0 and the default
        cost's float 0.0, told by identity, so 0 == False == -0.0 cannot pass) go in as
        their constant encoded forms (_NO_LIMITS/_NO_COUNTERS: a new session's record in
        18.6k instructions instead of 24.2k)."""
        lim, ctr = self.limits, self.counters
        return orjson.dumps(self._record(
            _NO_LIMITS if (lim.operations is lim.tokens is lim.cost is lim.artifacts
                           is lim.artifact_bytes is lim.memory is None) else lim.to_dict(),
            _NO_COUNTERS if (ctr.operations is ctr.artifacts is ctr.tokens
                             is ctr.artifact_bytes is _ZERO and ctr.cost is _ZERO_COST)
            else ctr.to_dict()))

    def _record(self, limits: object, counters: object) -> dict[str, Any]:
        """The record with ``limits`` and ``counters`` given in their stored form."""
        # A display of at most 15 constant keys is built in one step, its size known
        # (BUILD_CONST_KEY_MAP); one of 19 adds them one by one, the dict grown twice on the
        # way: the last four are set after (room for them is made already), 9k -> 4k
        # instructions per record.
        record = {
            "id": self.id, "name": self.name, "status": self.status,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "description": self.description, "tags": self.tags, "metadata": self.metadata,
            "parent_session_id": self.parent_session_id, "started_at": self.started_at,
            "ended_at": self.ended_at, "max_duration": self.max_duration,
            "max_idle_time": self.max_idle_time, "limits": limits, "counters": counters,
        }
        record["last_activity_at"] = self.last_activity_at
        record["active_seconds"] = self.active_seconds
        record["resumed_at"] = self.resumed_at
        record["reason"] = self.reason
        return record

    @classmethod
    def decode(cls, raw: bytes, key: str) -> Session:
        """The session stored as ``raw`` under store ``key``.

        Raises:
            CorruptRecord: ``raw`` is not a session record (damaged), naming ``key``.
        """
        try:
            return cls.from_record(orjson.loads(raw))
        except DECODE_ERRORS as exc:
            raise damaged(key, exc) from None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Session:
        """Undo :meth:`to_record` (positional construction: this is the hot read path)."""
        lim, ctr = r["limits"], r["counters"]
        return cls(
            r["id"], r["name"], r["status"], r["created_at"], r["updated_at"],
            r["description"], r["tags"], r["metadata"], r["parent_session_id"],
            r["started_at"], r["ended_at"], r["max_duration"], r["max_idle_time"],
            Limits(lim["operations"], lim["tokens"], lim["cost"], lim["artifacts"],
                   lim["artifact_bytes"], lim.get("memory")),
            Counters(ctr["operations"], ctr["artifacts"], ctr["tokens"], ctr["cost"],
                     ctr["artifact_bytes"]),
            r["last_activity_at"], r["active_seconds"], r["resumed_at"], r["reason"])

    def to_dict(self) -> dict[str, Any]:
        """The form users see: JSON-ready, times in ISO 8601 (UTC)."""
        data = self.to_record()
        for name in ("created_at", "updated_at", "started_at", "ended_at",
                     "last_activity_at", "resumed_at"):
            value = data[name]
            data[name] = iso(value) if value else None
        return data

    def copy(self) -> Session:
        """An independent copy (nothing mutable is shared), without a JSON round trip."""
        lim, ctr, meta = self.limits, self.counters, self.metadata
        return Session(
            self.id, self.name, self.status, self.created_at, self.updated_at,
            self.description, list(self.tags),
            orjson.loads(orjson.dumps(meta)) if meta else {},
            self.parent_session_id, self.started_at, self.ended_at, self.max_duration,
            self.max_idle_time,
            Limits(lim.operations, lim.tokens, lim.cost, lim.artifacts, lim.artifact_bytes,
                   lim.memory),
            ctr.copy(), self.last_activity_at, self.active_seconds, self.resumed_at,
            self.reason)

    def with_counters(self, counters: Counters, now: float) -> Session:
        """This session with ``counters`` and ``updated_at = now``, the rest shared (as
        ``dataclasses.replace`` shares it, at a fraction of its cost: every counted
        operation and artifact write takes this path)."""
        return Session(
            self.id, self.name, self.status, self.created_at, now, self.description,
            self.tags, self.metadata, self.parent_session_id, self.started_at, self.ended_at,
            self.max_duration, self.max_idle_time, self.limits, counters,
            self.last_activity_at, self.active_seconds, self.resumed_at, self.reason)


#: Where :func:`new_record_template` leaves holes: raw bytes JSON never holds (orjson
#: escapes a NUL inside a string), put in by Fragments (typed as what they stand for).
_ID_HOLE: Any = orjson.Fragment(b'"\x00"')
_TIME_HOLE: Any = orjson.Fragment(b"\x00")


def new_record_template(session: Session) -> bytes | None:
    """``session.encode()`` of a new session with holes for what differs between sessions
    created alike: ``template % (id as ASCII bytes, the creation time's JSON)`` with the
    time five times (created_at, updated_at, started_at, last_activity_at, resumed_at; a
    new session's are the one time) gives its bytes (:func:`fill_new_record`). None when
    ``session`` holds a NUL byte of its own (no template then). What the template fixes
    (name, tags, limits, ...) is the caller's to match."""
    raw = replace(session, id=_ID_HOLE, created_at=_TIME_HOLE, updated_at=_TIME_HOLE,
                  started_at=_TIME_HOLE, last_activity_at=_TIME_HOLE,
                  resumed_at=_TIME_HOLE).encode()
    if raw.count(b"\x00") != 6:
        return None
    return raw.replace(b"%", b"%%").replace(b"\x00", b"%b")


def fill_new_record(template: bytes, session_id: str, now: float) -> bytes:
    """The record of a new session (id ``session_id``, created ``now``) from its
    :func:`new_record_template`: the bytes ``encode`` gives, in half its instructions
    (16k -> 7k: no dict of 19 fields built and encoded). The bytes are a copy of exactly
    their length (bytes formatting trims its buffer), not an orjson result's block: a
    cache keeps them as they are (``codec.compact`` would copy them again)."""
    t = orjson.dumps(now)
    return template % (session_id.encode(), t, t, t, t, t)


# -- checks on the way in -----------------------------------------------------------------------


def check_name(name: object) -> str:
    """A session name: optional (``""``), otherwise :func:`llmspell.validation.check_name`."""
    return validation.check_name(name, required=False)


def check_tags(tags: object, argument: str = "tags") -> list[str]:
    """Session tags (:func:`llmspell.validation.check_tags`), each at most ``MAX_TAG`` bytes
    in UTF-8 too: the session tag index keeps a tag whole inside its key."""
    return validation.check_tags(tags, argument=argument, max_bytes=MAX_TAG)


def check_metadata(metadata: object, max_bytes: int | None = None) -> dict[str, Any]:
    """Session metadata as stored: a dict of JSON values (no bytes) encoding to at most
    ``max_bytes`` (ValueTooLarge otherwise, before anything is written)."""
    value = validation.check_fields(metadata, "metadata", max_bytes)
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:  # a lone surrogate in a string
        raise unencodable(value, "metadata") from None
    check_size(encoded, max_bytes, argument="metadata")
    return value


def check_seconds(value: object, argument: str) -> float | None:
    """A positive duration in seconds, or None (0 also means none)."""
    if value is None:
        return None
    if (value.__class__ is float or value.__class__ is int) and 0 <= value < math.inf:
        return float(value) or None  # the common case (a bool's class is bool, not int)
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0):
        raise ValidationError(argument, "must be a number of seconds >= 0 (0 or nil: none)",
                              got=value)
    return float(value) or None


def check_limits(limits: object) -> Limits:
    """A Limits from a dict such as ``{"tokens": 10000, "max_cost": 2.5}``."""
    if limits is None:
        return Limits()
    if isinstance(limits, Limits):
        return limits
    if not isinstance(limits, dict):
        raise ValidationError("limits", "must be a dict of " + ", ".join(LIMIT_NAMES),
                              got=limits)
    found: dict[str, Any] = {}
    for key, value in limits.items():
        name = key.removeprefix("max_") if isinstance(key, str) else key
        if name not in LIMIT_NAMES:
            raise ValidationError("limits", "keys must be " + ", ".join(LIMIT_NAMES)
                                  + " (a max_ prefix is accepted)", path=f".{key}", got=key)
        number_ok = isinstance(value, int | float) if name == "cost" else isinstance(value, int)
        if value is not None and (isinstance(value, bool) or not number_ok or value < 0):
            kind = "a number" if name == "cost" else "an integer"
            raise ValidationError("limits", f"must be {kind} >= 0 or nil", path=f".{key}",
                                  got=value)
        found[name] = value if value else None  # 0 means no limit, as in [session]
    return Limits(**found)


def session_ref_id(session: object) -> str:
    """The id of a Session, or ``session`` itself when it is a valid id string.

    Raises:
        ValidationError: neither (the argument is named ``session``).
    """
    if isinstance(session, Session):
        return session.id
    if type(session) is str and ID_PATTERN.fullmatch(session):
        return session
    return check_session_id(session, argument="session")
