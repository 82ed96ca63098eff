"""Value encoding round trips and refusals; redaction of secrets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from llmspell.codec import decode, encode, format_path
from llmspell.errors import CyclicValue, InvalidValue, ValidationError, ValueTooLarge
from llmspell.redact import REDACTED, Redactor
from strategies import values

VALUES = values()


@given(VALUES)
def test_encode_decode_is_identity(value: Any) -> None:
    assert decode(encode(value)) == value


@given(VALUES)
def test_encoded_form_is_plain_json(value: Any) -> None:
    import json

    json.loads(encode(value))


def test_tuples_come_back_as_lists() -> None:
    assert decode(encode({"t": (1, 2)})) == {"t": [1, 2]}


@pytest.mark.parametrize(
    ("value", "path", "rule"),
    [
        ({"a": float("nan")}, "$.a", "finite"),
        ({"a": [1, float("inf")]}, "$.a[1]", "finite"),
        ({"a": {1: "x"}}, "$.a", "keys must be str"),
        ({"a": [object()]}, "$.a[0]", "must be None, bool"),
        ({"n": 2**64}, "$.n", "64 bits"),
        ({"s": {1, 2}}, "$.s", "must be None, bool"),
    ],
)
def test_bad_values_name_the_path(value: Any, path: str, rule: str) -> None:
    with pytest.raises(InvalidValue) as info:
        encode(value, argument="data")
    assert info.value.path == path
    assert rule in str(info.value)
    assert "argument 'data'" in str(info.value)


def test_cycles_are_refused_with_the_path_where_they_close() -> None:
    inner: dict[str, Any] = {}
    inner["loop"] = [1, inner]
    with pytest.raises(CyclicValue) as info:
        encode({"outer": inner})
    assert info.value.path == "$.outer.loop[1]"


def test_shared_but_acyclic_values_are_fine() -> None:
    shared = [1, 2]
    assert decode(encode({"a": shared, "b": shared})) == {"a": [1, 2], "b": [1, 2]}


def test_size_limit() -> None:
    encode("x" * 100, max_bytes=200)
    with pytest.raises(ValueTooLarge, match="at most 50 bytes"):
        encode("x" * 100, max_bytes=50)


def test_format_path() -> None:
    assert format_path(()) == "$"
    assert format_path(("a", 0, "b")) == "$.a[0].b"


def test_redacts_by_field_name_and_by_shape() -> None:
    redactor = Redactor()
    data = {
        "api_key": "abc",
        "OPENAI_API_KEY": "xyz",
        "password": "hunter2",
        "tokens": 512,  # a count, not a secret
        "note": "key sk-abcdefghijklmnopqrstuvwx and AKIAABCDEFGHIJKLMNOP here",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9",
        "gh": ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
        "dsn": "host=db password=s3cret user=app",
    }
    out = redactor.redact(data)
    assert out["api_key"] == out["OPENAI_API_KEY"] == out["password"] == REDACTED
    assert out["tokens"] == 512
    assert out["note"] == f"key {REDACTED} and {REDACTED} here"
    assert out["jwt"] == REDACTED
    assert out["gh"] == [REDACTED]
    assert out["dsn"] == f"host=db password={REDACTED} user=app"
    assert data["api_key"] == "abc"  # the original is untouched
    assert redactor.contains_secret(data)
    assert not redactor.contains_secret({"name": "report", "tokens": 3})


def test_custom_patterns() -> None:
    redactor = Redactor([r"ACME-\d{6}"])
    assert redactor.redact_text("id ACME-123456 ok") == f"id {REDACTED} ok"
    with pytest.raises(ValidationError, match="regular expressions"):
        Redactor(["("])
