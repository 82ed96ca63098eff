"""The fast paths of llmspell.redact give the same result as the careful path: the usage
counts of LLM calls (``input_tokens``, ``max_tokens``...) no longer send text and values down
the slow path, a value with nothing to hide is judged on its JSON text in one pass, and the
journal applies ``[state] redact_patterns`` to each string (not to the JSON text, where
``^...$`` and escaped characters would not match)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.journal import Journal
from llmspell.redact import REDACTED, Redactor
from llmspell.storage.memory import MemoryStore
from strategies import examples, scalars, values

R = Redactor()


class Careful(Redactor):
    """Every text and value takes the slow path (no cheap test says "nothing here")."""

    def might_hold_secret(self, text: str) -> bool:
        return True


CAREFUL = Careful()

# Fragments around the word "token(s)" in the cases that split words differently.
NAMES = ["input_tokens", "max_tokens", "tokens", "TOKENS", "MAX_TOKENS", "Tokens", "tokenS",
         "max_tokenS", "api_token", "tokens_token", "tokenstoken", "tokens2", "tokens_key",
         "my tokens", "next_page_token", "TOKEN", "apiToken", "github_tokens", "toKens"]
FRAGMENTS = [*NAMES, "=", ": ", " ", "\n", '"', "abc123", "hunter2", "password", "x",
             "sk-abcdefghijklmnopqrstuv12", "Bearer abcdef123456", "{", "}", ",", "é", "İ"]

texts = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)
fields = values(scalars(binary=False) | texts, keys=st.sampled_from([*NAMES, "n", "password"]),
                max_leaves=12)


def test_usage_counts_need_no_careful_look() -> None:
    usage = '{"usage":{"input_tokens":6,"output_tokens":2,"total_tokens":8},"max_tokens":null}'
    assert not R.might_hold_secret(usage)
    assert not R.might_hold_secret("MAX_TOKENS=4096 and prompt_tokens: 12")


def test_a_token_that_is_a_last_word_still_counts() -> None:
    for text in ("api_token=abc123", "tokens_token: 'x'", "my_tokenS=abc", "TOKEN=x",
                 '{"tokens": 1, "auth_token": "abc"}'):
        assert R.might_hold_secret(text), text
    assert R.redact_text("tokens_token=abc123") == f"tokens_token={REDACTED}"
    assert R.redact({"max_tokens": 5, "api_token": "abc"}) == {"max_tokens": 5,
                                                                "api_token": REDACTED}


@settings(max_examples=examples(300))
@given(texts)
def test_text_redacts_as_on_the_careful_path(text: str) -> None:
    assert R.redact_text(text) == CAREFUL.redact_text(text)


@settings(max_examples=examples(300))
@given(fields)
def test_values_redact_as_on_the_careful_path(value: Any) -> None:
    assert R.redact(value) == CAREFUL.redact(value)


def test_a_value_with_nothing_to_hide_comes_back_as_a_copy() -> None:
    value = {"usage": {"input_tokens": 6}, "items": ("a", ["b"]), 3: "c"}
    out = R.redact(value)
    assert out == {"usage": {"input_tokens": 6}, "items": ["a", ["b"]], 3: "c"}
    out["usage"]["input_tokens"] = 7
    assert value["usage"]["input_tokens"] == 6
    out["items"][1].append("x")  # a container inside a tuple is copied too
    assert value["items"] == ("a", ["b"])


def test_values_json_cannot_hold_take_the_walk() -> None:
    value = {"blob": b"password=x", "n": 2**70, "s": {1, 2}, "password": "hunter2"}
    assert R.redact(value) == {"blob": b"password=x", "n": 2**70, "s": {1, 2},
                               "password": REDACTED}


def test_the_journal_applies_extra_patterns_to_each_string() -> None:
    journal = Journal(MemoryStore(), redact_patterns=[r"^tok-\d+$", r"a\nb"])
    journal.append("s1", "note", {"ref": "tok-123", "other": "a\nb", "kept": "tok-1 x"})
    (entry,) = journal.read("s1")
    assert entry.data == {"ref": REDACTED, "other": REDACTED, "kept": "tok-1 x"}
