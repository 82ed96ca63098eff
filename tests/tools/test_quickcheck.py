"""The quick acceptance test of tool parameters never accepts what jsonschema refuses."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell import Runtime
from llmspell.errors import ValidationError
from llmspell.tools.base import Tool
from llmspell.tools.quickcheck import compile_check

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                    st.floats(-5, 5, allow_nan=False), st.sampled_from(["", "a", "ab", "abc"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)), max_leaves=8)

types = st.sampled_from(["string", "integer", "number", "boolean", "null", "object", "array"])


def schemas() -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.fixed_dictionaries({}, optional={
        "type": st.one_of(types, st.lists(types, min_size=1, max_size=2, unique=True)),
        "enum": st.lists(scalars, min_size=1, max_size=3),
        "const": scalars,
        "minimum": st.integers(-3, 3), "exclusiveMaximum": st.integers(-3, 3),
        "minLength": st.integers(0, 2), "maxLength": st.integers(0, 2),
        "pattern": st.sampled_from(["^a", "b$", "x"]),
        "description": st.just("annotation only")})
    return st.recursive(leaf, lambda inner: st.one_of(
        st.fixed_dictionaries({"type": st.just("object")}, optional={
            "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
            "required": st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True),
            "additionalProperties": st.one_of(st.booleans(), inner),
            "maxProperties": st.integers(0, 2)}),
        st.fixed_dictionaries({"type": st.just("array")}, optional={
            "items": inner, "minItems": st.integers(0, 2), "maxItems": st.integers(0, 2)}),
        st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=2)})),
        max_leaves=5)


@settings(max_examples=400)
@given(schemas(), values)
def test_an_accepted_value_is_valid_to_jsonschema(schema: dict[str, Any], value: Any) -> None:
    check = compile_check(schema)
    assert check is not None  # every generated keyword is in the subset
    if check(value):
        assert jsonschema.Draft202012Validator(schema).is_valid(value), (schema, value)


@settings(max_examples=200)
@given(values)
def test_builtin_tool_schemas_agree_with_jsonschema(value: Any) -> None:
    with Runtime.memory() as rt:
        for tool in rt.tools.list():
            check = compile_check(tool.parameters)
            if check is not None and check(value):
                assert jsonschema.Draft202012Validator(tool.parameters).is_valid(value), (
                    tool.name, value)


@pytest.mark.parametrize("schema", [
    {"oneOf": [{"type": "string"}]}, {"$ref": "#/x"}, {"format": "uri"},
    {"type": "object", "patternProperties": {"^a": {}}}, {"type": "strange"},
    {"enum": [[1]]}, {"const": {"a": 1}}, {"pattern": "("}, {"minimum": "3"},
    {"properties": {"a": {"not": {}}}}, {"anyOf": []}, "not a schema",
])
def test_schemas_outside_the_subset_are_not_compiled(schema: Any) -> None:
    assert compile_check(schema) is None


@pytest.mark.parametrize(("value", "surely"), [
    ({"n": 1}, True), ({"n": True}, False), ({"n": 1.0}, False), ({"n": "1"}, False),
    ({}, False), ({"n": 1, "x": 2}, False), ({"n": 1, "tag": "ab"}, True),
    ({"n": 1, "tag": "b"}, False), ({"n": 1, "tags": ["a", "a"]}, True),
    ({"n": 1, "tags": ["a", 3]}, False),
])
def test_exact_answers(value: Any, surely: bool) -> None:
    schema = {"type": "object", "required": ["n"], "additionalProperties": False,
              "properties": {"n": {"type": "integer", "minimum": 0},
                             "tag": {"type": "string", "pattern": "^a"},
                             "tags": {"type": "array", "items": {"enum": ["a", "b"]}}}}
    check = compile_check(schema)
    assert check is not None
    assert check(value) is surely


def test_a_value_the_quick_check_is_unsure_of_gets_the_full_answer() -> None:
    tool = Tool("quick_int", "takes an integer",
                parameters={"type": "object", "properties": {"n": {"type": "integer"}},
                            "required": ["n"]},
                fn=lambda params, ctx: params["n"])
    assert tool.validate({"n": 2.0}) == {"n": 2.0}  # an integer to JSON Schema
    with pytest.raises(ValidationError) as caught:
        tool.validate({"n": True})
    assert caught.value.path == "$.n" and "is not of type 'integer'" in str(caught.value)
    with pytest.raises(ValidationError, match="'n' is a required property"):
        tool.validate({})
