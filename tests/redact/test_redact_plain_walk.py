"""Redactor.redact's walk for values with nothing to hide (strings judged together, short
plain ones remembered) gives what the careful path gives: the same value, a fresh copy, for
every value, with and without extra patterns, the first time and again."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.redact import HINTS, REDACTED, Redactor
from strategies import examples, scalars, text, values


class Careful(Redactor):
    """Every text and value takes the slow path (no cheap test says "nothing here")."""

    def might_hold_secret(self, text: str) -> bool:
        return True


class Name(str):
    """A string subclass, as an enum's value would be."""


# Hint words, near misses, and pieces that join across two strings ("token" + "s").
FRAGMENTS = [*HINTS, *(h[:-1] for h in HINTS), *(h.upper() for h in HINTS), "tokens", "s",
             "S", "TOKEN", "N", "input_tokens", "=", ": ", " ", "\n", "\x00", "abc123",
             "hunter2", "sk-abcdefghijklmnopqrstuv12", "AKIAABCDEFGHIJKLMNOP",
             "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab", "Bearer abcdef123456", "é", "İ", "K",
             "ſk-", "bench", "demo", "stop"]
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=6).map("".join) | text(12)
KEYS = ["agent", "model", "usage", "input_tokens", "password", "api_key", "token", "n", "",
        "max_tokens", "aws_secret_access_key"]
leaves = (scalars(binary=True, max_size=8) | texts | texts.map(Name)
          | st.tuples(texts, st.integers()))
data = values(leaves, keys=st.sampled_from(KEYS) | text(6), max_leaves=12)
keyed = st.dictionaries(st.sampled_from(KEYS) | st.integers(0, 3).map(str) | st.just(None)
                        | st.integers(0, 3), data, max_size=5)
EXTRA = [r"^tok-\d+$", r"s\x00t", "secretive"]


def _same(value: Any, rules: list[str]) -> None:
    fast, careful = Redactor(rules), Careful(rules)
    expected = careful.redact(value)
    for _ in range(2):  # the second time, short plain strings are known
        got = fast.redact(value)
        assert got == expected
        assert repr(got) == repr(expected)  # same types too (tuples as lists, subclasses)


@settings(max_examples=examples(400))
@given(data | keyed)
def test_values_redact_as_on_the_careful_path(value: Any) -> None:
    _same(value, [])


@settings(max_examples=examples(200))
@given(data | keyed)
def test_values_redact_as_on_the_careful_path_with_extra_patterns(value: Any) -> None:
    _same(value, EXTRA)


def test_strings_judged_together_do_not_join_into_a_hint() -> None:
    # "token" + "s" would be a dead "tokens" if joined without a separator; "tok-1" then
    # "23" would match an anchored pattern.
    for value in (["api_token", "s"], {"a": "x token", "b": "s=abc"}, ["sk", "-" + "a" * 30]):
        _same(value, [])
    _same(["tok-1", "23", "tok-7"], [r"^tok-\d+$"])


def test_a_plain_copy_is_a_fresh_copy() -> None:
    r = Redactor()
    value = {"agent": "bench", "usage": {"input_tokens": 6}, "items": ("a", ["b"])}
    for _ in range(2):
        out = r.redact(value)
        assert out == {"agent": "bench", "usage": {"input_tokens": 6}, "items": ["a", ["b"]]}
        out["usage"]["input_tokens"] = 7
        out["items"][1].append("x")
        assert value == {"agent": "bench", "usage": {"input_tokens": 6}, "items": ("a", ["b"])}


def test_secret_names_and_shapes_are_still_hidden_after_plain_values() -> None:
    r = Redactor()
    r.redact({"agent": "bench", "model": "demo"})
    assert r.redact({"agent": "bench", "password": "demo"}) == {"agent": "bench",
                                                                 "password": REDACTED}
    assert r.redact({"agent": "bench", "token": ["demo", 1]}) == {"agent": "bench",
                                                                   "token": [REDACTED, 1]}
    key = "sk-" + "a1B2" * 8
    assert r.redact({"agent": "bench", "m": key}) == {"agent": "bench", "m": REDACTED}
    assert r.redact({"agent": Name("bench")}) == {"agent": "bench"}


def test_remembered_strings_are_plain_and_bounded() -> None:
    r = Redactor()
    for i in range(5000):
        r.redact({"n": f"name-{i}", "long": "x" * 500, "secret": f"password={i}"})
        r.redact({"n": f"name-{i}", "long": "y" * 500})
    assert 0 < len(r._plain) <= 4096
    assert all(len(s) <= 128 and not r.might_hold_secret(s) for s in r._plain)
