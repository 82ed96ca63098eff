"""State scopes and keys: which strings are valid, and where each value lives in the store.

A scope is ``global`` or ``<kind>:<id>`` with kind one of agent, workflow, step, session,
custom, user, tool (``step:<workflow>:<step>`` names both parts). A scope id may hold any
character but ``/``, NUL and line breaks, so the store key of a value is unambiguous::

    state/<scope>/<key>     the record of one value (see llmspell.state.records)
    chg/<seq, 20 digits>    one change-log entry per change: {"s": scope, "k": key, "o": op}
    chg~seq                 the store-wide change sequence, as decimal text (it sorts right
                            after the last change-log entry: see SEQ_KEY)

A key is 1-256 characters of valid UTF-8 text with no NUL or line break, no ``..`` and not
starting with ``__``; a key may contain ``/`` (the scope cannot, so the first ``/`` after the
scope ends it). Scope and key together must fit the store's key limit.
"""

from __future__ import annotations

import difflib
from typing import Any

from llmspell.errors import InvalidKey, InvalidScope
from llmspell.storage.base import MAX_KEY_BYTES
from llmspell.validation import did_you_mean, utf8_size

KINDS = ("agent", "workflow", "step", "session", "custom", "user", "tool")
SCOPE_FORMS = ("global, agent:<id>, workflow:<id>, step:<workflow>:<step>, session:<id>, "
               "custom:<name>, user:<id>, tool:<id>")

GLOBAL = "global"
STATE_PREFIX = "state/"
#: The store-wide change sequence. Named to sort right after ``chg/<20 digits>`` (``~`` is
#: after every digit) and outside that prefix: on SQLite it lives on the same B-tree page as
#: the change log's tail, so a state write dirties two pages (the record's and the log's), not
#: three (docs/state.md, "What a write costs").
SEQ_KEY = "chg~seq"
#: Where stores written before kept the sequence; read only while SEQ_KEY is absent, never
#: written (:class:`llmspell.state.commit.Sequence`).
LEGACY_SEQ_KEY = "meta/state_seq"
CHANGE_PREFIX = "chg/"

MAX_KEY_CHARS = 256
MAX_SCOPE_CHARS = 200
_MAX_SCOPE_BYTES = MAX_KEY_BYTES - len(STATE_PREFIX) - 2  # room for "/" and a 1-byte key

#: scope -> key -> store key, for pairs already checked. Cleared when full: a dict lookup is
#: far cheaper than re-checking the rules on every call. By scope, then key: two lookups of
#: strings (their hashes cached) cost less than building and hashing a tuple (~0.75k
#: instructions a call); a caller looks up ``_KEYS[scope][key]`` and catches KeyError and
#: TypeError (an unhashable argument), then calls :func:`store_key`.
_KEYS: dict[str, dict[str, str]] = {}
_KEYS_HELD = [0]  # how many store keys _KEYS holds
_NONE: dict[str, str] = {}  # a scope not in _KEYS: no keys
_SCOPES: dict[str, str] = {}
_SCRIPT_SCOPES: dict[str, str] = {}
_CACHE_MAX = 65536
#: How close a word must be to ``global`` or a kind to be read as a misspelling of it.
_NEAR_MISS = 0.75


def check_scope(scope: Any, *, argument: str = "scope") -> str:
    """Return ``scope`` if it is a valid scope string.

    Raises:
        InvalidScope: not a str, an unknown kind (named, with the valid forms listed), an
            empty id, or an id with ``/``, NUL or a line break.
    """
    if type(scope) is str and scope in _SCOPES:
        return scope
    _check_scope(scope, argument)
    if len(_SCOPES) >= _CACHE_MAX:
        _SCOPES.clear()
    _SCOPES[scope] = STATE_PREFIX + scope + "/"
    return scope


def _check_scope(scope: Any, argument: str) -> None:
    if not isinstance(scope, str):
        if isinstance(scope, bytes):
            raise InvalidScope(argument, _bytes_rule(scope), got=scope)
        raise InvalidScope(argument, f"must be a scope string: {SCOPE_FORMS}", got=scope)
    if scope == GLOBAL:
        return
    kind, sep, ident = scope.partition(":")
    if not sep:
        hint = (" (scopes are lower-case)" if scope.lower() == GLOBAL
                else did_you_mean(scope, [GLOBAL]))
        raise InvalidScope(argument, f"unknown scope {scope!r}{hint}: expected {SCOPE_FORMS}",
                           got=scope)
    if kind not in KINDS:
        hint = " (scope kinds are lower-case)" if kind.lower() in KINDS else ""
        hint = hint or did_you_mean(kind, KINDS)
        raise InvalidScope(argument, f"unknown scope kind {kind!r}{hint}: expected "
                           f"{SCOPE_FORMS}", got=scope)
    if not ident:
        raise InvalidScope(argument, f"the id after '{kind}:' must not be empty", got=scope)
    if kind == "step":
        workflow, sep, step = ident.partition(":")
        if not (workflow and sep and step):
            raise InvalidScope(argument, "a step scope is step:<workflow>:<step>, both parts "
                               "non-empty", got=scope)
    for char, name in (("/", "'/'"), ("\x00", "NUL"), ("\n", "a line break"),
                       ("\r", "a line break")):
        if char in ident:
            raise InvalidScope(argument, f"a scope id must not contain {name} (it would make "
                               "the store layout ambiguous)", got=scope)
    if len(scope) > MAX_SCOPE_CHARS:
        raise InvalidScope(argument, f"must be at most {MAX_SCOPE_CHARS} characters, is "
                           f"{len(scope)}", got=scope)
    size = utf8_size(scope, argument, error=InvalidScope)
    if size > _MAX_SCOPE_BYTES:
        raise InvalidScope(argument, f"must be at most {_MAX_SCOPE_BYTES} bytes in UTF-8, is "
                           f"{size}", got=scope)


def script_scope(scope: Any, *, argument: str = "scope") -> str:
    """The scope a script means by ``scope``, read as rs-llmspell reads it: a valid scope is
    itself; any other string (``system``, ``cache``, ``agent_1``, ``session``, ``x:y``) names
    the custom scope ``custom:<string>``, unless it looks like a misspelling of ``global`` or
    of a kind (``globl``, ``Global``, ``agnet:x``), which is refused with a did-you-mean.

    Raises:
        InvalidScope: not a string, empty, a near miss of ``global`` or a kind, a known kind
            with a bad id (``agent:``), or a custom name the store cannot hold.
    """
    if type(scope) is str:
        found = _SCRIPT_SCOPES.get(scope)
        if found is not None:
            return found
    try:
        meant = check_scope(scope, argument=argument)
    except InvalidScope:
        if not isinstance(scope, str) or not scope or _near_miss(scope):
            raise
        meant = check_scope("custom:" + scope, argument=argument)
    if len(_SCRIPT_SCOPES) >= _CACHE_MAX:
        _SCRIPT_SCOPES.clear()
    _SCRIPT_SCOPES[scope] = meant
    return meant


def _near_miss(scope: str) -> bool:
    """True when ``scope`` (not a valid scope) is better read as a mistake than as a name."""
    kind, sep, _ = scope.partition(":")
    if not sep:
        return difflib.get_close_matches(scope.lower(), [GLOBAL], cutoff=_NEAR_MISS) != []
    lowered = kind.lower()
    return lowered in KINDS or difflib.get_close_matches(lowered, KINDS,
                                                         cutoff=_NEAR_MISS) != []


def check_key(key: Any, *, argument: str = "key") -> str:
    """Return ``key`` if it is a valid key (the rules are in the module docstring).

    Raises:
        InvalidKey: naming the rule that was broken.
    """
    if not isinstance(key, str):
        if isinstance(key, bytes):
            raise InvalidKey(argument, _bytes_rule(key), got=key)
        raise InvalidKey(argument, "must be a str", got=key)
    if not key:
        raise InvalidKey(argument, "must not be empty", got=key)
    if len(key) > MAX_KEY_CHARS:
        raise InvalidKey(argument, f"must be at most {MAX_KEY_CHARS} characters, is {len(key)}",
                         got=key)
    for char, name in (("\x00", "NUL"), ("\n", "a line break"), ("\r", "a line break")):
        if char in key:
            raise InvalidKey(argument, f"must not contain {name}", got=key)
    if ".." in key:
        raise InvalidKey(argument, "must not contain '..'", got=key)
    if key.startswith("__"):
        raise InvalidKey(argument, "must not start with '__' (reserved)", got=key)
    utf8_size(key, argument, error=InvalidKey)
    return key


def store_key(scope: Any, key: Any) -> str:
    """The store key of ``key`` in ``scope``, both checked: ``state/<scope>/<key>``.

    Raises:
        InvalidScope, InvalidKey: as :func:`check_scope` and :func:`check_key`.
    """
    if type(scope) is str and type(key) is str:
        found = _KEYS.get(scope, _NONE).get(key)
        if found is not None:
            return found
    check_scope(scope)
    check_key(key)
    full = STATE_PREFIX + scope + "/" + key
    size = len(full.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise InvalidKey("key", f"scope and key together must be at most "
                         f"{MAX_KEY_BYTES - len(STATE_PREFIX) - 1} bytes in UTF-8, are "
                         f"{size - len(STATE_PREFIX) - 1} (non-ASCII characters take 2-4 "
                         "bytes each)", got=key)
    if _KEYS_HELD[0] >= _CACHE_MAX:
        _KEYS.clear()
        _KEYS_HELD[0] = 0
    _KEYS.setdefault(scope, {})[key] = full
    _KEYS_HELD[0] += 1
    return full


def check_prefix(prefix: Any) -> str:
    """Return ``prefix`` if it can start a key (any length up to a key's, no NUL or break).

    Raises:
        InvalidKey: naming the argument ``prefix``.
    """
    if not isinstance(prefix, str):
        raise InvalidKey("prefix", "must be a str", got=prefix)
    if len(prefix) > MAX_KEY_CHARS or any(c in prefix for c in "\x00\n\r"):
        raise InvalidKey("prefix", f"must be at most {MAX_KEY_CHARS} characters with no NUL "
                         "or line break", got=prefix)
    return prefix


def scope_prefix(scope: Any) -> str:
    """``state/<scope>/``: the store prefix of every value in ``scope`` (checked)."""
    check_scope(scope)
    return _SCOPES.get(scope) or STATE_PREFIX + scope + "/"


def split_store_key(full: str) -> tuple[str, str]:
    """``state/<scope>/<key>`` -> ``(scope, key)``."""
    scope, _, key = full[len(STATE_PREFIX):].partition("/")
    return scope, key


def after_scope(scope: str) -> str:
    """A store key greater than every key of ``scope`` and smaller than the next scope's.

    ``/`` + 1 is ``0``: ``state/<scope>0`` sorts after ``state/<scope>/...`` and before
    ``state/<scope>0.../...`` (a longer scope). Used to skip from one scope to the next.
    """
    return STATE_PREFIX + scope + "0"


def change_key(seq: int) -> str:
    """The change-log key of change ``seq``: ``chg/`` and 20 digits, so they sort by number."""
    return CHANGE_PREFIX + str(seq).zfill(20)  # f"{seq:020d}", faster


def scope_kind(scope: str) -> str:
    """``agent:gpt-4`` -> ``agent``; ``global`` -> ``global``."""
    return scope.partition(":")[0]


def _bytes_rule(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"must be valid UTF-8 text (byte {exc.start} is not)"
    return "must be a str, not bytes"
