"""Subscription patterns: globs over the dot-separated segments of an event type.

``*`` matches exactly one segment, ``**`` any number of segments (zero included), anything else
is a literal segment, in which a ``*`` stands for any characters but a dot. So ``*.error``
matches ``agent.error`` and ``tool.error`` but not ``a.b.error``; ``session.*`` matches
``session.created``; ``agent.*.done`` matches ``agent.writer.done``; ``agent.**`` matches
``agent``, ``agent.x`` and ``agent.x.y``; ``hook.circuit_*`` matches ``hook.circuit_opened``;
``**`` matches everything. A pattern is compiled once into a predicate; the bus caches which
subscriptions match each event type, so matching runs once per type, not per event.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from llmspell.errors import ValidationError

_RULE = (
    "must be dot-separated non-empty segments, each a name (where '*' stands for any "
    "characters), '*' (one segment) or '**' (any number of segments); for example "
    "'*.error', 'session.*', 'agent.*.done', 'hook.circuit_*' or '**'"
)
_ONE = r"[^.]+"


def compile_pattern(pattern: object) -> Callable[[str], bool]:
    """Compile ``pattern`` into ``matches(event_type) -> bool``.

    Raises:
        ValidationError: an empty pattern or segment, whitespace, or ``**`` inside a name.
    """
    if not isinstance(pattern, str) or not pattern or any(ch.isspace() for ch in pattern):
        raise ValidationError("pattern", _RULE, got=pattern)
    segments = pattern.split(".")
    for segment in segments:
        if not segment or ("**" in segment and segment != "**"):
            raise ValidationError("pattern", _RULE, path=f"segment '{segment}'", got=pattern)
    if "*" not in pattern:
        return pattern.__eq__
    # Consecutive '**' mean the same as one.
    segments = [
        s for i, s in enumerate(segments) if not (s == "**" and segments[i - 1 : i] == ["**"])
    ]
    if segments == ["**"]:
        return _everything
    fullmatch = re.compile(_regex(segments)).fullmatch
    return lambda event_type: fullmatch(event_type) is not None


def _regex(segments: list[str]) -> str:
    """Each segment brings its leading dot, except right after a leading ``**`` (which ends
    with one); a later ``**`` is zero or more dot-led segments."""
    out = []
    for i, segment in enumerate(segments):
        if segment == "**":
            out.append(rf"(?:{_ONE}\.)*" if i == 0 else rf"(?:\.{_ONE})*")
            continue
        lead = "" if i == 0 or (i == 1 and segments[0] == "**") else r"\."
        out.append(lead + (_ONE if segment == "*" else _name(segment)))
    return "".join(out)


def _name(segment: str) -> str:
    """A literal segment, where ``*`` is any run of characters but a dot."""
    return "[^.]*".join(re.escape(part) for part in segment.split("*"))


def _everything(event_type: str) -> bool:
    return True
