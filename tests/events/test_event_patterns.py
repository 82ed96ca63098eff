"""Glob patterns over event type segments, and the rule for event type names."""

from __future__ import annotations

import pytest

from llmspell.errors import ValidationError
from llmspell.events import EventBus, compile_pattern, validate_type

CASES = [
    # pattern, event type, matches
    ("*.error", "agent.error", True),
    ("*.error", "tool.error", True),
    ("*.error", "a.b.error", False),
    ("*.error", "error", False),
    ("*.error", "agent.errors", False),
    ("session.*", "session.created", True),
    ("session.*", "session", False),
    ("session.*", "session.a.b", False),
    ("session.*", "sessions.created", False),
    ("agent.*.done", "agent.writer.done", True),
    ("agent.*.done", "agent.done", False),
    ("agent.*.done", "agent.a.b.done", False),
    ("**", "x", True),
    ("**", "a.b.c.d", True),
    ("agent.**", "agent", True),
    ("agent.**", "agent.x", True),
    ("agent.**", "agent.x.y", True),
    ("agent.**", "agents.x", False),
    ("**.done", "done", True),
    ("**.done", "agent.x.done", True),
    ("**.done", "agent.done.later", False),
    ("a.**.b", "a.b", True),
    ("a.**.b", "a.x.y.b", True),
    ("a.**.b", "a.x.y.c", False),
    ("a.**.**.b", "a.x.b", True),
    ("**.x.**", "x", True),
    ("**.x.**", "p.x.q", True),
    ("**.x.**", "p.y.q", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("session.created", "session.created", True),
    ("session.created", "session.created.x", False),
    ("hook.circuit_*", "hook.circuit_opened", True),
    ("hook.circuit_*", "hook.circuit_", True),
    ("hook.circuit_*", "hook.error", False),
    ("a+b.(x)", "a+b.(x)", True),  # regex characters are literal
    ("a+b.(x)", "aab.x", False),
]


@pytest.mark.parametrize(("pattern", "event_type", "expected"), CASES)
def test_pattern_matching(pattern: str, event_type: str, expected: bool) -> None:
    assert compile_pattern(pattern)(event_type) is expected


@pytest.mark.parametrize(("pattern", "event_type", "expected"), CASES)
def test_the_bus_delivers_by_the_same_rules(pattern: str, event_type: str, expected: bool) -> None:
    bus = EventBus()
    got = []
    bus.subscribe(pattern, got.append)
    bus.publish(event_type)
    bus.publish(event_type)  # the second publish comes from the cached route
    assert len(got) == (2 if expected else 0)


@pytest.mark.parametrize("pattern", ["", "a..b", ".a", "a.", "a b", "a.**x", 7, None])
def test_a_bad_pattern_is_refused_with_the_rule(pattern: object) -> None:
    with pytest.raises(ValidationError) as caught:
        EventBus().subscribe(pattern)  # type: ignore[arg-type]
    assert "pattern" in str(caught.value) and "'*.error'" in str(caught.value)


@pytest.mark.parametrize("event_type", ["", "a..b", ".a", "a.", "a b", "a.*", "**", 3, None])
def test_a_bad_event_type_is_refused_with_the_rule(event_type: object) -> None:
    with pytest.raises(ValidationError) as caught:
        EventBus().publish(event_type)  # type: ignore[arg-type]
    assert "argument 'type'" in str(caught.value)
    assert "dot-separated non-empty segments" in str(caught.value)


def test_valid_event_types() -> None:
    for name in ["session.created", "a", "agent.writer-1.done", "custom.my_event:v2"]:
        assert validate_type(name) == name
