"""rs-llmspell's event forms: ``Event.get_stats()`` nested shape, publish options
``{language, correlation_id, ttl_seconds}``, received events with ``event_type`` and
``metadata``, ``Event.subscribe(pattern, opts)``, and ``receive``'s 5 s default wait."""

from __future__ import annotations

import time

import pytest

from llmspell.lua import LuaEngine


def test_received_events_carry_rs_fields(engine: LuaEngine) -> None:
    got = engine.run_string("""
        local sub = Event.subscribe("order.*", {language = "lua"})
        Event.publish("order.placed", {n = 3}, {correlation_id = "c-42", language = "python",
                                                ttl_seconds = 60})
        return Event.receive(sub, 100)""")
    assert got["event_type"] == got["type"] == "order.placed" and got["data"] == {"n": 3}
    assert got["language"] == "python" and got["ttl"] == 60
    assert got["metadata"] == {"correlation_id": "c-42", "source": "lua:test.lua", "tags": [],
                               "priority": 0, "ttl": 60}


def test_an_event_past_its_ttl_is_dropped(engine: LuaEngine) -> None:
    got = engine.run_string("""
        local sub = Event.subscribe("tick.*")
        Event.publish("tick.old", {}, {ttl_seconds = 0.05})
        Event.publish("tick.new", {})
        local t = os.clock() while os.clock() - t < 0.1 do end
        local first = Event.receive(sub, 50)
        return {first = first.event_type, second = Event.receive(sub, 0)}""")
    assert got == {"first": "tick.new"}


def test_get_stats_has_rs_shape(engine: LuaEngine) -> None:
    engine.runtime.events.subscribe("x.*")
    stats = engine.run_string("""
        Event.subscribe("a.*") Event.subscribe("b.*", {language = "javascript"})
        Event.publish("a.b", {}) Event.publish("a.c", {})
        return Event.get_stats()""")
    bus, bridge = stats["event_bus_stats"], stats["bridge_stats"]
    assert bus["events_processed"] == engine.runtime.events.stats()["published"] >= 2
    assert bus["rate_limit_violations"] == 0 and bus["buffer_size"] == 10000
    assert bridge["active_subscriptions"] == 3
    assert bridge["subscriptions_by_language"] == {"Lua": 1, "Javascript": 1, "Native": 1}
    languages = sorted(s["language"] for s in engine.run_string(
        "return Event.list_subscriptions()"))
    assert languages == ["javascript", "lua", "native"]


def test_receive_waits_five_seconds_by_default(make_engine) -> None:  # type: ignore[no-untyped-def]
    lua = make_engine(engines__lua__timeout_seconds=0.3)
    started = time.monotonic()
    lua.run_string('return Event.receive(Event.subscribe("none.*"))')
    waited = time.monotonic() - started
    assert 0.2 < waited < 2  # the default 5 s wait, cut short by the wall-time limit


@pytest.mark.parametrize(("code", "words"), [
    ('Event.publish("a.b", {}, {ttl_seconds = -1})', "argument 'opts.ttl_seconds': must be "
                                                     "at least 0"),
    ('Event.publish("a.b", {}, {language = 5})', "argument 'opts.language': must be a string"),
    ('Event.subscribe("a.*", {colour = "red"})', "argument 'opts' at .colour"),
    ('Event.subscribe("a.*", 5)', "argument 'fn': must be a function, an options table or nil"),
])
def test_bad_options(engine: LuaEngine, code: str, words: str) -> None:
    ok, err = engine.run_string(f"return pcall(function() {code} end)")
    assert ok is False and words in err
