"""The rules for names, tags, free text and custom fields, shared by sessions and artifacts.

One function per rule; each refusal is a ValidationError naming the argument, the path inside
the value and the rule (``argument 'tags' at [2]: each tag must be ...``). The rules:

- **name**: a string of at most ``max_length`` characters (255 unless configured), with no
  control characters (a name is shown one per line in listings and logs) and valid Unicode
  (no lone surrogates, which cannot be stored); empty only where a name is optional;
- **tag**: a string of 1 to ``max_length`` characters (128 unless configured), no control
  characters, valid Unicode; ``max_bytes`` also bounds its UTF-8 length where the tag is kept
  verbatim inside a store key (session tag indexes; artifact indexes hash long tags);
- **tags**: None or a list/tuple/set of tags (not a single string, not a dict), at most
  ``max_tags`` (64 unless configured) once duplicates are dropped (first occurrence kept);
- **text** (descriptions, reasons): a string of at most ``max_length`` characters (4096),
  valid Unicode; newlines are fine;
- **fields** (session metadata, artifact custom fields): a dict of JSON values, no bytes;
- **lists of texts** (metadata keys to remove, event sources, script arguments, field names,
  entry kinds, patterns, hook points): a list, tuple, set or other iterable of strings, not a
  single string, bytes or a dict, and not a set where the order means something (fields to
  split into, a script's arguments); where a lone string is taken as a list of one, the
  function says so; a bad item is named by its index;
- **flags**: True or False (not 1, not "yes"); **callbacks**: a function, or None;
- **limit and offset** of a list, query or read: a ``limit`` is None or an integer >= 0, and
  0 means no limit, as None does (as the CLI's ``--limit 0``); an ``offset`` is an integer
  >= 0;
- **glob lists** (state scope selections): a list of non-empty glob strings; a single string
  is a list of one;
- **options**: a table of options (or filter fields, or URL parameters) may hold only known
  keys; an unknown one is reported in one wording everywhere, with a did-you-mean:
  ``argument 'opts' at .sorce: unknown option 'sorce' (did you mean 'source'?); known:
  source, correlation_id``.

docs/sessions.md and docs/artifacts.md say which rule won where sessions and artifacts used
to differ.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from llmspell.codec import format_path, to_jsonable
from llmspell.errors import ValidationError

MAX_NAME = 255
MAX_TAG = 128
MAX_TAGS = 64
MAX_TEXT = 4096

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_name(name: object, *, argument: str = "name", max_length: int = MAX_NAME,
               setting: str = "", required: bool = True) -> str:
    """``name`` if it is a valid name (see the module docstring).

    Args:
        max_length: the most characters; ``setting`` names the config key that sets it.
        required: False allows the empty string (an optional name).
    """
    if name.__class__ is str and name.isascii() and name.isprintable() and (
            0 < len(name) <= max_length or (not name and not required)):
        return name  # the common case: printable ASCII has no control character, no surrogate
    if not isinstance(name, str) or (required and not name):
        rule = "must be a non-empty string" if required else "must be a string"
        raise ValidationError(argument, rule, got=name)
    if len(name) > max_length:
        raise ValidationError(argument, f"must be at most {max_length} characters"
                              f"{_set_by(setting)}, is {len(name)}", got=name)
    if _CONTROL.search(name):
        raise ValidationError(argument, "must not contain control characters (newline, tab, "
                              "NUL, ...)", got=name)
    _check_unicode(name, argument)
    return name


def _plain_tags(tags: Iterable[object], max_length: int, max_bytes: int | None) -> bool:
    """Whether every tag is a common valid tag: printable ASCII within the limits (one char
    is one byte)."""
    # (no min(): the limits compared inline, ~0.5k instructions a call)
    limit = max_length if max_bytes is None or max_bytes >= max_length else max_bytes
    for tag in tags:
        if not (isinstance(tag, str) and tag.isascii() and tag.isprintable()
                and 0 < len(tag) <= limit):
            return False
    return True


def check_tag(tag: object, *, argument: str = "tags", path: str = "",
              max_length: int = MAX_TAG, max_bytes: int | None = None,
              setting: str = "") -> str:
    """``tag`` if it is a valid tag; ``path`` locates it in the argument (``[2]``)."""
    if _plain_tags((tag,), max_length, max_bytes):
        return tag  # type: ignore[return-value]  # the common case: a str
    if not isinstance(tag, str) or not tag or _CONTROL.search(tag):
        raise ValidationError(argument, "each tag must be a non-empty string with no control "
                              "characters", path=path, got=tag)
    if len(tag) > max_length:
        raise ValidationError(argument, f"each tag must be at most {max_length} characters"
                              f"{_set_by(setting)}, is {len(tag)}", path=path, got=tag)
    _check_unicode(tag, argument, path)
    if max_bytes is not None and len(tag.encode("utf-8")) > max_bytes:
        raise ValidationError(argument, f"each tag must be at most {max_bytes} bytes in UTF-8 "
                              "(it is kept whole in an index key)", path=path, got=tag)
    return tag


def check_tags(tags: object, *, argument: str = "tags", max_length: int = MAX_TAG,
               max_bytes: int | None = None, max_tags: int = MAX_TAGS,
               settings: tuple[str, str] = ("", "")) -> list[str]:
    """``tags`` as a list without duplicates (first occurrence kept); None is no tags.
    ``settings`` names the config keys of ``max_length`` and ``max_tags``."""
    if (tags.__class__ is list and len(tags) <= max_tags
            and _plain_tags(tags, max_length, max_bytes)
            and (len(tags) < 2 or len(set(tags)) == len(tags))):
        return list(tags)  # the common case, checked first: a few distinct plain tags
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, list | tuple | set | frozenset):
        raise ValidationError(argument, "must be a list of strings (one tag is ['tag'])",
                              got=tags)
    seen: dict[str, None] = {}
    for i, tag in enumerate(tags):
        if not _plain_tags((tag,), max_length, max_bytes):  # else check_tag's path, message
            check_tag(tag, argument=argument, path=f"[{i}]", max_length=max_length,
                      max_bytes=max_bytes, setting=settings[0])
        seen[tag] = None
    if len(seen) > max_tags:
        raise ValidationError(argument, f"must hold at most {max_tags} tags"
                              f"{_set_by(settings[1])}", got=len(seen))
    return list(seen)


def check_text(value: object, argument: str, max_length: int = MAX_TEXT) -> str:
    """``value`` if it is a string of at most ``max_length`` characters, valid Unicode."""
    if not isinstance(value, str):
        raise ValidationError(argument, "must be a string", got=value)
    if len(value) > max_length:
        raise ValidationError(argument, f"must be at most {max_length} characters, is "
                              f"{len(value)}", got=value)
    _check_unicode(value, argument)
    return value


def check_fields(fields: object, argument: str, max_bytes: int | None = None) -> dict[str, Any]:
    """``fields`` (None: none) as a JSON-ready dict; no bytes anywhere inside. With
    ``max_bytes``, a dict counted over it while it is checked is refused (ValueTooLarge)
    before it is copied or encoded (:func:`llmspell.codec.to_jsonable`)."""
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise ValidationError(argument, "must be a dict (a Lua table with string keys)",
                              got=fields)
    value, binary = to_jsonable(fields, argument=argument, max_bytes=max_bytes)
    if binary:
        raise ValidationError(argument, "must hold JSON values only (no binary strings)",
                              path=format_path(tuple(binary[0])))
    return dict(value)


def listlike(value: object) -> TypeGuard[Iterable[Any]]:
    """Whether ``value`` may be taken as a list of items: an iterable that is not a string,
    bytes or a mapping (each of which iterates, but is one value, not a list)."""
    return isinstance(value, Iterable) and not isinstance(
        value, str | bytes | bytearray | Mapping)


def check_texts(value: object, argument: str, what: str, *, path: str = "",
                non_empty: bool = False, one: bool = False, ordered: bool = False) -> list[str]:
    """``value`` as a list of strings (see "lists of texts" in the module docstring).

    Args:
        what: what the items are, for the message (``"metadata keys"``).
        path: where ``value`` sits inside ``argument`` (``[2].secret_fields``); a bad item's
            index is appended to it.
        non_empty: refuse an empty string as an item.
        one: a lone string is a list of one item (otherwise it is refused: iterating it would
            take each character for an item).
        ordered: the order of the items means something (fields to split into, a script's
            arguments): a set, which has none, is refused.
    """
    if isinstance(value, str) and one:
        value = [value]
    if not listlike(value):
        raise ValidationError(argument, f"must be a list of {what}", path=path, got=value)
    if ordered and isinstance(value, set | frozenset):
        raise ValidationError(argument, f"must be a list of {what}, in order (a set has no "
                              "order)", path=path, got=value)
    items = list(value)
    for i, item in enumerate(items):
        if not isinstance(item, str) or (non_empty and not item):
            kind = "a non-empty string" if non_empty else "a string"
            raise ValidationError(argument, f"must be a list of {what}: each item {kind}",
                                  path=f"{path}[{i}]", got=item)
    return items


def check_flag(value: object, argument: str, *, path: str = "") -> bool:
    """``value`` if it is True or False."""
    if value is True or value is False:
        return value
    raise ValidationError(argument, "must be true or false", path=path, got=value)


def check_callback(fn: Any, argument: str) -> Any:
    """``fn`` if it is callable or None (no callback)."""
    if fn is None or callable(fn):
        return fn
    raise ValidationError(argument, "must be a function or None", got=fn)


def check_limit(limit: object, argument: str = "limit") -> int | None:
    """The ``limit`` of a list, query or read as the most items to return, or None for no
    limit (given as None or 0)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValidationError(argument, "must be an integer >= 0 (0 or none: no limit)",
                              got=limit)
    return limit or None


def check_offset(offset: object, argument: str = "offset") -> int:
    """The ``offset`` of a list or query: how many matches to skip, an integer >= 0."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError(argument, "must be an integer >= 0", got=offset)
    return offset


def check_globs(patterns: object, argument: str) -> list[str] | None:
    """``patterns`` as a list of non-empty glob strings; None stays None (no selection).

    A single string is one glob (``"agent:*"`` is ``["agent:*"]``); any other iterable of
    strings (list, tuple, set) is accepted, but not a dict (the Lua globals turn an empty Lua
    table into a list before they call the core).

    Raises:
        ValidationError: naming ``argument`` and, for a bad item, its index.
    """
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = [patterns]
    if isinstance(patterns, bytes | dict) or not isinstance(patterns, Iterable):
        raise ValidationError(argument, "must be a glob or a list of globs such as "
                              "['agent:*', 'workflow:*']", got=patterns)
    globs = list(patterns)
    for i, glob in enumerate(globs):
        if not isinstance(glob, str) or not glob:
            raise ValidationError(argument, "each glob must be a non-empty string",
                                  path=f"[{i}]", got=glob)
    return globs


_QUEUE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:")


def check_queue_name(name: object, argument: str = "queue") -> str:
    """A job queue's name (``llmspell worker``): 1-64 of letters, digits and ``_ . - :``."""
    if isinstance(name, str) and 0 < len(name) <= 64 and set(name) <= _QUEUE_CHARS:
        return name
    raise ValidationError(argument, "must be a queue name: 1-64 of A-Z a-z 0-9 _ . - :",
                          got=name)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the candidate closest to ``word``, or ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_option(argument: str, key: object, known: Iterable[str], *, noun: str = "option",
                   path: str = "", got: Any = ...) -> ValidationError:
    """The error for an unknown ``key`` in the table passed as ``argument`` (one wording for
    every options table; ``noun`` says what a key is: option, field, query parameter;
    ``path`` locates the table inside the argument, e.g. ``[2]``)."""
    listed = list(known)
    hint = did_you_mean(key, listed) if isinstance(key, str) else ""
    return ValidationError(argument, f"unknown {noun} {key!r}{hint}; known: "
                           f"{', '.join(listed) or 'none'}", path=f"{path}.{key}", got=got)


def check_known_keys(table: Mapping[Any, Any], known: Iterable[str], argument: str, *,
                     noun: str = "option", path: str = "") -> None:
    """Raise :func:`unknown_option` for the first key of ``table`` (in sorted order) that is
    not in ``known``."""
    allowed = tuple(known)
    unknown = sorted((key for key in table if key not in allowed), key=str)
    if unknown:
        raise unknown_option(argument, unknown[0], allowed, noun=noun, path=path)


def _set_by(setting: str) -> str:
    return f" ({setting})" if setting else ""


def utf8_size(text: str, argument: str, *, path: str = "",
              error: type[ValidationError] = ValidationError) -> int:
    """The size of ``text`` in UTF-8; ``error`` (naming ``argument`` and the character) when
    it holds a lone surrogate, which no store can hold. The one rule for keys, scopes, names
    and text."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise error(argument, f"must be valid UTF-8 (position {exc.start} is a lone "
                    "surrogate)", path=path, got=text) from None


def _check_unicode(text: str, argument: str, path: str = "") -> None:
    utf8_size(text, argument, path=path)
