"""Every documented error: a clear message naming the argument and the rule, store unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backends import EMBEDDED, Backend
from llmspell.errors import (
    CyclicValue,
    InvalidKey,
    InvalidScope,
    InvalidValue,
    ValidationError,
    ValueTooLarge,
)
from llmspell.state import StateManager, check_key, check_scope, store_key


def snapshot(state: StateManager) -> list[tuple[str, bytes]]:
    return list(state.store.scan())


@pytest.mark.parametrize("scope", ["global", "agent:gpt-4", "workflow:processing",
                                   "step:wf:s1", "step:wf:a:b", "session:9f1c", "custom:x y",
                                   "user:42", "tool:calc", "agent:a:b", "agent:ünï"])
def test_valid_scopes(scope: str) -> None:
    assert check_scope(scope) == scope


@pytest.mark.parametrize(("scope", "words"), [
    ("", "unknown scope ''"),
    ("Global", "lower-case"),
    ("bogus:x", "unknown scope kind 'bogus'"),
    ("Agent:x", "lower-case"),
    ("agents", "unknown scope 'agents'"),
    ("agent:", "must not be empty"),
    ("step:wf", "step:<workflow>:<step>"),
    ("step:wf:", "step:<workflow>:<step>"),
    ("agent:a/b", "'/'"),
    ("agent:a\nb", "line break"),
    ("agent:a\x00b", "NUL"),
    ("agent:" + "x" * 300, "at most 200 characters"),
    ("agent:\ud800", "lone surrogate"),
    (b"agent:\xff", "valid UTF-8"),
    (7, "must be a scope string"),
    (None, "must be a scope string"),
])
def test_bad_scopes_name_the_rule(scope: Any, words: str) -> None:
    with pytest.raises(InvalidScope) as info:
        check_scope(scope)
    assert words in str(info.value)
    assert str(info.value).startswith("argument 'scope'")


def test_an_unknown_scope_lists_the_valid_forms() -> None:
    with pytest.raises(InvalidScope) as info:
        check_scope("team:red")
    for form in ("global", "agent:<id>", "workflow:<id>", "step:<workflow>:<step>",
                 "session:<id>", "custom:<name>", "user:<id>", "tool:<id>"):
        assert form in str(info.value)


@pytest.mark.parametrize(("key", "words"), [
    ("", "must not be empty"),
    ("x" * 257, "at most 256 characters"),
    ("a\x00b", "NUL"),
    ("a\nb", "line break"),
    ("a\rb", "line break"),
    ("a..b", "'..'"),
    ("__meta", "'__'"),
    ("bad\udc80", "lone surrogate"),
    (b"\xff\xfe", "valid UTF-8 text (byte 0 is not)"),
    (b"ok", "must be a str, not bytes"),
    (1, "must be a str"),
])
def test_bad_keys_name_the_rule(key: Any, words: str) -> None:
    with pytest.raises(InvalidKey) as info:
        check_key(key)
    assert words in str(info.value)
    assert str(info.value).startswith("argument 'key'")


def test_good_keys() -> None:
    for key in ["a", "x" * 256, "a/b/c", "_single", "a.b", "ключ", "🙂"]:
        assert store_key("global", key) == f"state/global/{key}"


def test_scope_and_key_must_fit_the_store_key_limit() -> None:
    with pytest.raises(InvalidKey, match="scope and key together must be at most"):
        store_key("agent:" + "x" * 190, "🙂" * 100)  # 100 chars, 400 bytes


OPERATIONS: list[tuple[str, Callable[[StateManager, Any, Any], Any]]] = [
    ("save", lambda s, scope, key: s.save(scope, key, 1)),
    ("load", lambda s, scope, key: s.load(scope, key)),
    ("delete", lambda s, scope, key: s.delete(scope, key)),
    ("exists", lambda s, scope, key: s.exists(scope, key)),
    ("compare_and_set", lambda s, scope, key: s.compare_and_set(scope, key, None, 1)),
    ("transaction", lambda s, scope, key: _in_transaction(s, scope, key)),
    ("save_many", lambda s, scope, key: s.save_many([("global", "ok", 1), (scope, key, 1)])),
]


def _in_transaction(state: StateManager, scope: Any, key: Any) -> None:
    with state.transaction():
        state.save("global", "ok", 1)
        state.save(scope, key, 1)


@pytest.mark.parametrize(("name", "operation"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
def test_every_operation_checks_scope_and_key(state: StateManager, name: str,
                                              operation: Callable[..., Any]) -> None:
    state.save("global", "before", 1)
    before = snapshot(state)
    with pytest.raises(InvalidScope, match="unknown scope kind 'nope'"):
        operation(state, "nope:x", "k")
    with pytest.raises(InvalidKey, match=r"'\.\.'"):
        operation(state, "global", "../etc")
    with pytest.raises(InvalidKey, match="valid UTF-8"):
        operation(state, "global", b"\xff")
    assert snapshot(state) == before


def test_list_and_clear_check_the_scope(state: StateManager) -> None:
    with pytest.raises(InvalidScope):
        state.list_keys("nope")
    with pytest.raises(InvalidScope):
        state.clear_scope("agent:")
    with pytest.raises(InvalidKey, match="prefix"):
        state.list_keys("global", "a\nb")


@pytest.mark.parametrize("backend", EMBEDDED, indirect=True)
def test_a_cyclic_value_names_the_path(backend: Backend) -> None:
    state = backend.state_manager()
    state.save("global", "v", "old")
    before = snapshot(state)
    value: dict[str, Any] = {"a": {"b": []}}
    value["a"]["b"].append(value)
    with pytest.raises(CyclicValue) as info:
        state.save("global", "v", value)
    assert "$.a.b[0]" in str(info.value)
    assert "cycle" in str(info.value)
    assert snapshot(state) == before


@pytest.mark.parametrize(("value", "words"), [
    ({"a": float("nan")}, "$.a: floats must be finite"),
    ([1, 2**64], "$[1]: integers must fit in 64 bits"),
    ({1: "x"}, "dict keys must be str"),
    ({"s": {1, 2}}, "$.s: must be None, bool"),
    ({"t": "bad \ud800"}, "$.t: strings must be valid UTF-8"),
    (object(), "must be None, bool"),
])
def test_values_that_cannot_be_stored(memory_state: StateManager, value: Any,
                                      words: str) -> None:
    with pytest.raises(InvalidValue) as info:
        memory_state.save("global", "v", value)
    assert words in str(info.value)
    assert snapshot(memory_state) == []


@pytest.mark.parametrize("backend", EMBEDDED, indirect=True)
def test_an_oversize_value_names_scope_key_and_limit(backend: Backend) -> None:
    state = backend.state_manager(max_value_bytes=100)
    state.save("agent:a", "big", "x" * 90)
    before = snapshot(state)
    with pytest.raises(ValueTooLarge) as info:
        state.save("agent:a", "big", "x" * 200)
    message = str(info.value)
    assert "agent:a/big" in message and "100 bytes" in message and "202" in message
    assert "max_value_bytes" in message
    assert snapshot(state) == before
    assert state.load("agent:a", "big") == "x" * 90


def test_constructor_arguments_are_checked(memory_state: StateManager) -> None:
    with pytest.raises(ValidationError, match="max_value_bytes"):
        StateManager(memory_state.store, max_value_bytes=0)
    with pytest.raises(ValidationError, match="store"):
        StateManager("sqlite:///x.db")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="schema_version"):
        memory_state.save("global", "k", 1, schema_version=0)
    with pytest.raises(ValidationError, match="items"):
        memory_state.save_many("global")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"\$\[0\]"):
        memory_state.save_many([("global", "k")])
    with pytest.raises(ValidationError, match="contributor"):
        memory_state.add_contributor(42)  # type: ignore[arg-type]
