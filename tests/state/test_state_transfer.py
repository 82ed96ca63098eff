"""Export to JSON lines and import back: an exact copy, all or nothing."""

from __future__ import annotations

import orjson
import pytest

from llmspell.errors import ValidationError
from llmspell.state import StateManager
from llmspell.state.transfer import export_lines, import_lines
from llmspell.storage import open_store


def fresh() -> StateManager:
    return StateManager(open_store("memory://"))


def test_export_then_import_is_an_exact_copy(state: StateManager) -> None:
    state.save("agent:gpt-4", "history", [{"role": "user", "content": "hi"}])
    state.save("agent:gpt-4", "avatar", {"png": b"\x89PNG\x00\xff", "size": [1, 2]})
    state.save("global", "raw", b"\x00")
    state.save("workflow:w", "n", 1, schema_version=3)
    lines = list(export_lines(state))
    assert len(lines) == 4
    copy = fresh()
    assert import_lines(copy, lines) == 4
    for scope in state.scopes():
        for key in state.list_keys(scope):
            a, b = state.get_record(scope, key), copy.get_record(scope, key)
            assert a is not None and b is not None
            assert (b.value, b.schema_version, b.created_at, b.updated_at) == \
                (a.value, a.schema_version, a.created_at, a.updated_at)
    assert list(export_lines(copy)) == lines


def test_an_export_line_is_plain_json(memory_state: StateManager) -> None:
    memory_state.save("agent:a", "blob", {"data": b"\x01\x02"})
    (line,) = export_lines(memory_state)
    data = orjson.loads(line)
    assert data["scope"] == "agent:a" and data["key"] == "blob"
    assert data["value"] == {"data": "AQI="} and data["binary"] == [["data"]]
    assert data["schema_version"] == 1
    assert set(data) == {"scope", "key", "value", "binary", "schema_version", "created_at",
                         "updated_at"}


def test_export_include_globs(memory_state: StateManager) -> None:
    memory_state.save_many({"agent:a": {"k": 1}, "agent:b": {"k": 2}, "workflow:w": {"k": 3},
                            "global": {"k": 4}})
    scopes = [orjson.loads(x)["scope"] for x in export_lines(memory_state, ["agent:*"])]
    assert scopes == ["agent:a", "agent:b"]
    scopes = [orjson.loads(x)["scope"] for x in export_lines(memory_state,
                                                               ["global", "workflow:*"])]
    assert scopes == ["global", "workflow:w"]


@pytest.mark.parametrize(("line", "words"), [
    ("not json", "is not JSON"),
    ("[1]", "must be a JSON object"),
    ('{"scope": "global", "key": "k"}', "missing field 'value'"),
    ('{"scope": "global", "key": "k", "value": 1, "seq": 3}', "unknown field 'seq'"),
    ('{"scope": "nope", "key": "k", "value": 1}', "unknown scope 'nope'"),
    ('{"scope": "global", "key": "__k", "value": 1}', "'__'"),
    ('{"scope": "global", "key": "k", "value": {"a": 1}, "binary": [["b"]]}', "not in the value"),
    ('{"scope": "global", "key": "k", "value": "%%", "binary": [[]]}', "not base64"),
    ('{"scope": "global", "key": "k", "value": 1, "created_at": "yesterday"}', "Unix seconds"),
    ('{"scope": "global", "key": "k", "value": 1, "schema_version": 0}', "schema_version"),
])
def test_a_bad_line_is_named_and_nothing_is_imported(line: str, words: str) -> None:
    target = fresh()
    good = '{"scope": "global", "key": "good", "value": 1}'
    with pytest.raises(ValidationError) as info:
        import_lines(target, [good, "", good, line, good])
    assert "line 4: " in str(info.value)
    assert words in str(info.value)
    assert list(target.store.scan()) == []
