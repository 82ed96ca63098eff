"""json_processor, data_validation and csv_analyzer: main uses and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import ValidationError

PEOPLE = {"people": [{"name": "ann", "age": 41}, {"name": "bob", "age": 25}]}
CSV = "name,age,city\nann,41,Paris\nbob,25,Oslo\ncid,33,Paris\n"


def call(rt: Runtime, tool: str, **params: Any) -> Any:
    return rt.tools.invoke(tool, params).result


def test_json_processor_queries_with_jmespath(rt: Runtime) -> None:
    assert call(rt, "json_processor", input=PEOPLE,
                query="people[?age > `30`].name")["result"] == ["ann"]
    assert call(rt, "json_processor", input='{"a": {"b": [1, 2, 3]}}',
                query="length(a.b)")["result"] == 3
    assert call(rt, "json_processor", operation="format", input={"a": 1})["result"] == (
        '{\n  "a": 1\n}')
    with pytest.raises(ValidationError, match=r"\$.query.*not a valid JMESPath"):
        call(rt, "json_processor", input=PEOPLE, query="people[?")
    with pytest.raises(ValidationError, match=r"\$.input.*not valid JSON"):
        call(rt, "json_processor", input="{nope", query="a")


def test_json_processor_validate(rt: Runtime) -> None:
    out = call(rt, "json_processor", operation="validate", input={"a": "x"},
               schema={"type": "object", "properties": {"a": {"type": "integer"}}})
    assert out["valid"] is False and out["errors"][0]["path"] == "$.a"


def test_data_validation_with_a_schema_and_with_rules(rt: Runtime) -> None:
    schema = {"schema": {"type": "array", "items": {"type": "string"}}}
    assert call(rt, "data_validation", input=["a", "b"], rules=schema)["valid"] is True
    bad = call(rt, "data_validation", input=["a", 2], rules=schema)
    assert bad["errors"] == [{"path": "$[1]", "message": "2 is not of type 'string'"}]
    out = call(rt, "data_validation", input={"age": -1}, rules=[
        {"field": "age", "type": "integer", "min": 0}, {"field": "name", "required": True}])
    assert out["valid"] is False and out["error_count"] == 2
    with pytest.raises(ValidationError, match=r"\$.rules\[0\].colour.*unknown rule key"):
        call(rt, "data_validation", input={}, rules=[{"field": "a", "colour": "red"}])
    with pytest.raises(ValidationError, match=r"\$.schema.type.*not a valid JSON Schema"):
        call(rt, "data_validation", input={}, rules={"schema": {"type": "colour"}})


def test_csv_analyzer_statistics_filter_and_convert(rt: Runtime) -> None:
    stats = call(rt, "csv_analyzer", input=CSV)
    age = stats["columns"][1]
    assert stats["rows"] == 3 and (age["type"], age["min"], age["max"]) == ("number", 25, 41)
    assert stats["columns"][2]["top"][0] == ["Paris", 2] or stats["columns"][2]["top"][0] == (
        "Paris", 2)
    rows = call(rt, "csv_analyzer", operation="filter", input=CSV,
                options={"where": {"city": "Paris"}})
    assert [r["name"] for r in rows["rows"]] == ["ann", "cid"]
    tsv = call(rt, "csv_analyzer", operation="convert", input=CSV, options={"format": "tsv"})
    assert tsv["output"].splitlines()[1] == "ann\t41\tParis"


def test_csv_analyzer_refusals(rt: Runtime) -> None:
    with pytest.raises(ValidationError, match=r"\$.options.where.town.*no column 'town'"):
        call(rt, "csv_analyzer", operation="filter", input=CSV, options={"where": {"town": 1}})
    with pytest.raises(ValidationError, match="row 2 has more fields than the header"):
        call(rt, "csv_analyzer", input="a,b\n1,2,3\n")
