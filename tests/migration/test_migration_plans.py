"""Plans and transforms: what is accepted, what each transform does, what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ValidationError
from llmspell.state.migration import MigrationPlan
from llmspell.state.migration.transforms import (
    CHANGED,
    SKIPPED,
    UNCHANGED,
    TransformFailed,
    compile_steps,
    to_bool,
    to_float,
    to_int,
    to_str,
)

SEED = {"from_version": 1, "to_version": 2, "transformations": [
    {"field": "old_field", "transform": "copy", "to": "new_field"},
    {"field": "deprecated", "transform": "remove"}]}


def run(transform: dict[str, Any], value: Any) -> tuple[Any, int]:
    plan = MigrationPlan.from_spec({"from_version": 1, "to_version": 2,
                                    "transformations": [transform]})
    (step,) = compile_steps(plan.transformations)
    return step(value, {"scope": "global", "key": "k", "version": 1})


def test_the_seed_plan_is_accepted_and_has_a_stable_derived_id() -> None:
    plan = MigrationPlan.from_spec(SEED)
    assert (plan.from_version, plan.to_version, plan.scope) == (1, 2, None)
    assert [t.kind for t in plan.transformations] == ["copy", "remove"]
    assert plan.id == MigrationPlan.from_spec(dict(SEED)).id
    assert plan.id.startswith("v1-v2-")
    other = MigrationPlan.from_spec({**SEED, "scope": "agent:*"})
    assert other.id != plan.id
    assert MigrationPlan.from_spec({**SEED, "name": "m002_profile"}).id == "m002_profile"


@pytest.mark.parametrize(("spec", "argument", "words"), [
    ({**SEED, "from_version": 0}, "from_version", "integer >= 1"),
    ({**SEED, "to_version": 1}, "to_version", "must differ"),
    ({**SEED, "transformations": [{"field": "a", "transform": "copyy"}]},
     "transformations[0].transform", "must be one of copy"),
    ({**SEED, "transformations": [{"field": "a", "transform": "copy"}]},
     "transformations[0].to", "field name"),
    ({**SEED, "transformations": [{"field": "a", "transform": "convert", "to": "date"}]},
     "transformations[0].to", "int, float, str, bool"),
    ({**SEED, "transformations": [{"field": "a", "transform": "remove", "to": "b"}]},
     "transformations[0]", "unknown remove transform field 'to'; known: transform, field"),
    ({**SEED, "transformations": [{"transform": "custom"}]}, "transformations[0].fn",
     "must be a function"),
    ({**SEED, "transformations": [{"transform": "split", "field": "a", "into": []}]},
     "transformations[0].into", "non-empty list"),
    ({**SEED, "transformations": [{"transform": "default", "field": "a"}]},
     "transformations[0].value", "is required"),
    ({**SEED, "sope": "agent:*"}, "plan", "unknown field 'sope' (did you mean 'scope'?)"),
    ({**SEED, "validate_after": {"types": {"a": "date"}}}, "validate_after.types",
     "must be one of string"),
    ({**SEED, "name": "has space"}, "name", "letters, digits"),
])
def test_bad_plans_are_refused_naming_the_key(spec: dict[str, Any], argument: str,
                                               words: str) -> None:
    with pytest.raises(ValidationError) as info:
        MigrationPlan.from_spec(spec)
    assert info.value.argument == argument
    assert words in str(info.value)


def test_copy_rename_default_remove() -> None:
    assert run({"field": "a", "transform": "copy", "to": "b"}, {"a": [1]}) == (
        {"a": [1], "b": [1]}, CHANGED)
    value, _ = run({"field": "a", "transform": "copy", "to": "b"}, {"a": {"x": 1}})
    value["b"]["x"] = 2
    assert value["a"] == {"x": 1}  # a copy, not a shared table
    assert run({"field": "a", "transform": "rename", "to": "b"}, {"a": 1}) == ({"b": 1},
                                                                               CHANGED)
    assert run({"field": "a", "transform": "default", "value": 0}, {}) == ({"a": 0}, CHANGED)
    assert run({"field": "a", "transform": "default", "value": 0}, {"a": 5}) == ({"a": 5},
                                                                                 UNCHANGED)
    assert run({"field": "a", "transform": "remove"}, {"a": 1, "b": 2}) == ({"b": 2}, CHANGED)


@pytest.mark.parametrize("transform", [
    {"field": "a", "transform": "copy", "to": "b"},
    {"field": "a", "transform": "rename", "to": "b"},
    {"field": "a", "transform": "remove"},
    {"field": "a", "transform": "convert", "to": "int"},
    {"field": "a", "transform": "split", "into": ["x", "y"]},
    {"fields": ["a", "b"], "transform": "merge", "to": "c"},
    {"field": "a", "transform": "custom", "fn": lambda v, ctx: 1},
])
@pytest.mark.parametrize("value", [{"other": 1}, "text", 42, None, [1, 2]])
def test_a_field_transform_skips_values_without_the_field(transform: dict[str, Any],
                                                          value: Any) -> None:
    assert run(transform, value) == (value, SKIPPED)


def test_default_skips_only_values_that_are_not_tables() -> None:
    assert run({"field": "a", "transform": "default", "value": 1}, "text") == ("text", SKIPPED)


def test_split_and_merge() -> None:
    split = {"field": "name", "transform": "split", "into": ["first", "last"]}
    assert run(split, {"name": "Ada King Lovelace"}) == (
        {"first": "Ada", "last": "King Lovelace"}, CHANGED)
    assert run(split, {"name": "Ada"}) == ({"first": "Ada", "last": None}, CHANGED)
    assert run({**split, "keep": True, "separator": ","}, {"name": "a,b"}) == (
        {"name": "a,b", "first": "a", "last": "b"}, CHANGED)
    with pytest.raises(TransformFailed, match="must be a string to split"):
        run(split, {"name": 5})
    merge = {"fields": ["first", "last"], "transform": "merge", "to": "name"}
    assert run(merge, {"first": "Ada", "last": "Lovelace"}) == ({"name": "Ada Lovelace"},
                                                                CHANGED)
    assert run(merge, {"first": "Ada", "n": 1}) == ({"n": 1, "name": "Ada"}, CHANGED)
    assert run({**merge, "separator": "-", "keep": True}, {"first": 1, "last": True}) == (
        {"first": 1, "last": True, "name": "1-true"}, CHANGED)


def test_conversions() -> None:
    assert [to_int(" 42 "), to_int(3.0), to_int(True)] == [42, 3, 1]
    assert [to_float("2.5"), to_float(2)] == [2.5, 2.0]
    assert [to_str(3), to_str(2.5), to_str(False), to_str("x")] == ["3", "2.5", "false", "x"]
    assert [to_bool("Yes"), to_bool("off"), to_bool(0), to_bool(2)] == [True, False, False, True]
    for bad, convert in (("4.5", to_int), (4.5, to_int), ("nan", to_float), ("1e999", to_float),
                         ("maybe", to_bool), (None, to_str), ([1], to_str), ({}, to_int)):
        with pytest.raises(TransformFailed, match="cannot convert"):
            convert(bad)
    assert run({"field": "n", "transform": "convert", "to": "int"}, {"n": 5}) == ({"n": 5},
                                                                                  UNCHANGED)
    assert run({"field": "n", "transform": "convert", "type": "str"}, {"n": 5}) == (
        {"n": "5"}, CHANGED)


def test_custom_on_a_field_and_on_the_whole_value() -> None:
    seen: list[Any] = []

    def upper(value: Any, ctx: dict[str, Any]) -> Any:
        seen.append(ctx)
        return value.upper()

    assert run({"field": "a", "transform": "custom", "fn": upper}, {"a": "x"}) == (
        {"a": "X"}, CHANGED)
    assert seen[0]["key"] == "k" and "a" in seen[0]["value"]  # the whole value, too
    assert run({"transform": "custom", "fn": lambda v, ctx: None}, "same") == ("same",
                                                                               UNCHANGED)
    assert run({"transform": "custom", "fn": lambda v, ctx: {"wrapped": v}}, 3) == (
        {"wrapped": 3}, CHANGED)
