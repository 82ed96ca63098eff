"""A value from Lua cannot be larger in Python than the Lua memory limit (issue 11, item 3).

Strings are counted while the converter copies them, each reference in full, so a table that
holds one string many times is refused with ValueTooLarge (naming the path) long before Python
has copied it, and nothing is written. Sizes are small so the tests stay fast.
"""

from __future__ import annotations

import pytest

from backends import MakeEngine
from llmspell.errors import ScriptError, ValueTooLarge

LIMIT = {"engines__lua__max_memory_bytes": 4 * 2**20}


def test_shared_references_count_in_full_and_nothing_is_written(make_engine: MakeEngine) -> None:
    engine = make_engine(**LIMIT)
    with pytest.raises(ScriptError, match=r"ValueTooLarge: argument 'value' at \$\[\d+\]: holds "
                                          r"more than 4,194,304 bytes of strings") as caught:
        engine.run_string('local s = ("x"):rep(2^19) local t = {} '
                          'for i = 1, 100 do t[i] = s end State.save("global", "k", t)', "m.lua")
    assert isinstance(caught.value.__cause__, ValueTooLarge)
    assert engine.run_string('return State.exists("global", "k")') is False


def test_nested_tables_are_counted_together(make_engine: MakeEngine) -> None:
    engine = make_engine(**LIMIT)
    ok, message = engine.run_string(
        'local s = ("y"):rep(2^18) local t = {} '
        'for i = 1, 20 do t["k" .. i] = {a = s, b = {s}} end '
        'return pcall(State.save, "global", "nested", t)')
    assert ok is False and "ValueTooLarge" in message and "at $.k" in message


def test_a_value_within_the_limit_still_passes(make_engine: MakeEngine) -> None:
    engine = make_engine(**LIMIT)
    engine.run_string('local s = ("z"):rep(1000) local t = {} for i = 1, 100 do t[i] = s end '
                      'State.save("global", "ok", t)')
    assert engine.run_string('return #State.load("global", "ok")') == 100


def test_without_a_memory_limit_there_is_no_count(make_engine: MakeEngine) -> None:
    engine = make_engine(engines__lua__max_memory_bytes=0)
    assert engine.run_string('local s = ("x"):rep(2^16) local t = {} '
                             'for i = 1, 100 do t[i] = s end return #JSON.stringify(t)') > 2**22


def test_session_metadata_has_the_value_size_cap_and_a_refusal_writes_nothing(
        make_engine: MakeEngine) -> None:
    engine = make_engine(state__max_value_bytes=10_000)
    runtime = engine.runtime
    before = dict(runtime.store.scan(""))
    with pytest.raises(ScriptError, match=r"ValueTooLarge: argument 'metadata': must encode to "
                                          r"at most 10,000 bytes, encodes to (at least )?20,\d{3}"):
        engine.run_string('Session.create({name = "big", metadata = {blob = ("m"):rep(20000)}})')
    assert dict(runtime.store.scan("")) == before
    engine.run_string('Session.create({name = "small", metadata = {note = ("m"):rep(100)}})')
