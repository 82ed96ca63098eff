"""The journal's text of an entry's data (``Journal._data_json``): its shortcuts (plain JSON
encoded without the fallback, the checked fields told by their order) give the bytes of the
general encoding and check, and values orjson refuses still take the general call."""

from __future__ import annotations

import datetime
import enum
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.errors import InvalidValue
from llmspell.journal import Draft, Journal, _fallback
from llmspell.storage.memory import MemoryStore
from strategies import examples, scalars, text, values

JOURNAL = Journal(MemoryStore())
KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3"


def general(data: Any, redacted: tuple[str, ...] = ()) -> bytes:
    """The data's text as the journal made it before its shortcuts."""
    text = orjson.dumps(data, default=_fallback, option=orjson.OPT_NON_STR_KEYS)
    if len(text) <= 2:
        return text
    checked = text
    if redacted and isinstance(data, dict):
        if not data.keys() - redacted:
            return text
        checked = orjson.dumps({k: v for k, v in data.items() if k not in redacted},
                               default=_fallback, option=orjson.OPT_NON_STR_KEYS)
    redactor = JOURNAL.redactor
    if redactor.might_hold_secret_json(checked.decode("utf-8")):
        text = orjson.dumps(redactor.redact(orjson.loads(text)))
    return text


class Name(str):
    pass


class Colour(enum.StrEnum):
    RED = "red"


# Values plain orjson refuses (the general call encodes them: keys that are not strings, a
# set, bytes) or encodes as the general call does (a str subclass, an enum, a date, a tuple).
ODD: list[Any] = [
    {1: "a", None: "b", 2.5: "c"}, {Name("k"): 1}, {Colour.RED: 1}, {"c": Colour.RED},
    {"s": {3}, "f": frozenset()}, {"b": b"\x00\x01", "m": bytearray(b"x")},
    {datetime.date(2020, 1, 2): datetime.datetime(2020, 1, 2, 3, 4, 5)}, {"t": (1, "x")},
    [{"nested": {7: [b"ab", {Name("token"): "hunter2hunter2"}]}}], {"o": object},
    {"api_key": "hunter2hunter2", 3: b"x"}, {"text": f"use {KEY}"}, {}, [], "", 0,
]


@pytest.mark.parametrize("data", ODD, ids=range(len(ODD)))
def test_odd_values_are_encoded_as_the_general_call_does(data: Any) -> None:
    assert JOURNAL._data_json(data) == general(data)


def test_values_neither_encoding_takes_are_refused_naming_the_path() -> None:
    for data, path, words in (({"big": 2**70}, "$.big", "integers must fit in 64 bits"),
                              ({"bad": "\ud800"}, "$.bad", "lone surrogate"),
                              ({"t": {(1, 2): 0}}, "$.t", "dict keys must be str")):
        with pytest.raises(TypeError):
            general(data)  # what orjson alone says
        with pytest.raises(InvalidValue, match=words) as info:
            JOURNAL._data_json(data)
        assert (info.value.argument, info.value.path) == ("data", path)


@settings(max_examples=examples(200))
@given(values(scalars() | st.sampled_from([KEY, "Bearer abcdef123456", "x"]),
              keys=st.sampled_from(["n", "password", "input_tokens", "api_key"]) | text(6)))
def test_any_value_is_encoded_as_the_general_call_does(data: Any) -> None:
    assert JOURNAL._data_json(data) == general(data)


@pytest.mark.parametrize("redacted", [
    ("a", "b", "c"), ("c", "b", "a"), ("a", "b"), ("b",), ("a", "b", "c", "d"), ("a", "b", "x"),
    ("x",), ()])
@pytest.mark.parametrize("c", ["plain", KEY, {"token": "hunter2hunter2"}])
def test_checked_fields_in_any_order_skip_the_check_only_when_all_are_named(
        redacted: tuple[str, ...], c: Any) -> None:
    data = {"a": 1, "b": "text", "c": c}
    assert JOURNAL._data_json(data, redacted) == general(data, redacted)


@pytest.mark.parametrize("data", [*ODD, {"a": 1, "b": [KEY, 2.5, None]}, {"n": "x", "m": {}}],
                         ids=range(len(ODD) + 2))
def test_an_entry_whose_fields_are_all_checked_is_its_data_within(data: Any) -> None:
    """Journal.encode writes an entry whose every field is named checked in one encoding:
    the bytes of the entry around its data's text made apart (a value plain orjson refuses
    takes the general call)."""
    redacted = tuple(data) if isinstance(data, dict) else ()
    entry = JOURNAL.encode(3, 1.5, Draft("k.x", data, "c1", redacted))  # type: ignore[arg-type]
    assert entry == orjson.dumps({"seq": 3, "ts": 1.5, "kind": "k.x", "cid": "c1",
                                  "data": orjson.Fragment(general(data, redacted))})


@settings(max_examples=examples(200))
@given(values(scalars() | st.sampled_from([KEY, "x"]), keys=text(6)))
def test_any_entry_whose_fields_are_all_checked_is_its_data_within(data: Any) -> None:
    redacted = tuple(data) if isinstance(data, dict) else ()
    entry = JOURNAL.encode(1, 2.0, Draft("k.x", data, None, redacted))
    assert entry == orjson.dumps({"seq": 1, "ts": 2.0, "kind": "k.x", "cid": None,
                                  "data": orjson.Fragment(general(data, redacted))})
