"""One rule for "a list of texts" (llmspell.validation.check_texts) and every public function
that takes one: a lone string is never split into characters, a dict is not a list, a value
that is not a list at all is a ValidationError (never a TypeError), and a bad item is named by
its index."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ValidationError
from llmspell.hooks.builtin import CostTracker
from llmspell.providers.scripted import ScriptedProvider
from llmspell.redact import REDACTED, Redactor
from llmspell.replay.recording import record_run
from llmspell.runtime import Runtime
from llmspell.state.migration import MigrationPlan
from llmspell.validation import check_texts


def refused(call: Any, argument: str, words: str, path: str = "") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.argument == argument
    assert words in str(info.value)
    assert info.value.path == path
    return info.value


@pytest.mark.parametrize("value", [["a", "b"], ("a", "b"), iter(["a", "b"]),
                                   {"a": None, "b": None}.keys()])
def test_lists_tuples_and_other_iterables_of_strings_are_taken_in_order(value: Any) -> None:
    assert check_texts(value, "names", "names") == ["a", "b"]


def test_a_set_is_taken_where_order_means_nothing_and_refused_where_it_does() -> None:
    assert sorted(check_texts({"b", "a"}, "names", "names")) == ["a", "b"]
    refused(lambda: check_texts({"a"}, "into", "field names", ordered=True), "into",
            "must be a list of field names, in order (a set has no order)")


@pytest.mark.parametrize("value", ["ab", b"ab", bytearray(b"ab"), {"a": 1}, 5, None, 1.5])
def test_what_is_not_a_list_is_refused_whole(value: Any) -> None:
    refused(lambda: check_texts(value, "names", "source names"), "names",
            "must be a list of source names")


def test_a_lone_string_is_a_list_of_one_only_where_asked() -> None:
    assert check_texts("state", "kinds", "kinds", one=True) == ["state"]
    assert check_texts(["a"], "kinds", "kinds", one=True) == ["a"]


def test_a_bad_item_is_named_by_its_index_inside_the_path() -> None:
    refused(lambda: check_texts(["a", 2], "names", "names"), "names",
            "must be a list of names: each item a string", "[1]")
    refused(lambda: check_texts(["a", ""], "tools", "paths", path="[1].secret_fields",
                                non_empty=True),
            "tools", "each item a non-empty string", "[1].secret_fields[1]")
    assert check_texts(["", "a"], "names", "names") == ["", "a"]  # empty allowed by default


# -- the public functions that take a list of texts ----------------------------------------


def test_update_metadata_remove(rt: Runtime) -> None:
    session = rt.sessions.create("texts", metadata={"a": 1, "b": 2})
    for bad in ("a", 5, {"a": 1}):
        refused(lambda bad=bad: rt.sessions.update_metadata(session, remove=bad), "remove",
                "must be a list of metadata keys")
    refused(lambda: rt.sessions.update_metadata(session, remove=["a", 1]), "remove",
            "each item a string", "[1]")
    assert rt.sessions.get(session.id).metadata == {"a": 1, "b": 2}  # nothing changed
    rt.sessions.update_metadata(session, remove=("a",))
    assert rt.sessions.get(session.id).metadata == {"b": 2}


def test_subscribe_exclude_sources(rt: Runtime) -> None:
    for bad in ("agents", {"agents": 1}, 5):
        refused(lambda bad=bad: rt.events.subscribe("*", exclude_sources=bad),
                "exclude_sources", "must be a list of source names")
    refused(lambda: rt.events.subscribe("*", exclude_sources=["a", None]), "exclude_sources",
            "each item a string", "[1]")
    sub = rt.events.subscribe("test.*", exclude_sources={"quiet"})
    rt.events.publish("test.one", {}, source="quiet")
    rt.events.publish("test.two", {}, source="loud")
    first = sub.receive(timeout=1)
    assert first is not None and first.type == "test.two"
    assert sub.receive(timeout=0) is None


def test_record_run_args(rt: Runtime) -> None:
    for bad in (5, "one", {"a": 1}):  # 5 raised TypeError before
        refused(lambda bad=bad: record_run(rt, "return 1", name="t.lua", args=bad), "args",
                "must be a list of script arguments")
    refused(lambda: record_run(rt, "return 1", name="t.lua", args={"x"}), "args",
            "in order (a set has no order)")
    refused(lambda: record_run(rt, "return 1", name="t.lua", args=["x", 2]), "args",
            "each item a string", "[1]")
    done = record_run(rt, "return #ARGS", name="t.lua", args=("x", "y"))
    assert done.error is None


def test_an_agent_tools_secret_fields(rt: Runtime) -> None:
    rt.providers.add("scripted", ScriptedProvider("scripted"))

    def tool(**_: Any) -> str:
        return "ok"

    for bad in (5, {"auth": 1}, "auth"):  # 5 raised TypeError before; a dict passed its keys
        refused(lambda bad=bad: rt.agents.create(
            "t", "scripted/x", tools=[{"name": "t", "fn": tool, "secret_fields": bad}]),
            "tools", "must be a list of dotted argument paths", "[1].secret_fields")
    refused(lambda: rt.agents.create(
        "t", "scripted/x", tools=[{"name": "t", "fn": tool, "secret_fields": ["a", ""]}]),
        "tools", "each item a non-empty string", "[1].secret_fields[1]")


def test_migration_field_lists() -> None:
    base = {"from_version": 1, "to_version": 2}

    def plan(transform: dict[str, Any] | None = None, **extra: Any) -> Any:
        return lambda: MigrationPlan.from_spec(
            {**base, "transformations": [transform or {"transform": "remove", "field": "x"}],
             **extra})

    split = {"transform": "split", "field": "name"}
    refused(plan({**split, "into": {"first", "last"}}), "transformations[0].into",
            "in order (a set has no order)")
    refused(plan({**split, "into": ["first", ""]}), "transformations[0].into",
            "each item a non-empty string", "[1]")
    refused(plan({**split, "into": []}), "transformations[0].into", "non-empty list")
    refused(plan(validate_after={"required": "name"}), "validate_after.required",
            "must be a list of field names")
    refused(plan(validate_after={"required": ["name", 3]}), "validate_after.required",
            "each item a non-empty string", "[1]")


def test_journal_kinds(rt: Runtime) -> None:
    session = rt.sessions.create("kinds")
    journal = rt.sessions.journal
    assert [e.kind for e in journal.read(session.id, kinds="session.created")] == [
        "session.created"]
    assert journal.read(session.id, kinds=["state"]) == []
    refused(lambda: journal.read(session.id, kinds=5), "kinds", "must be a list of entry kinds")
    refused(lambda: journal.read(session.id, kinds=["state", ""]), "kinds",
            "each item a non-empty string", "[1]")


def test_redaction_patterns() -> None:
    # A lone pattern is one pattern: before, each of its characters became one.
    assert Redactor(r"ACME-\d{6}").redact_text("id ACME-123456 ok") == f"id {REDACTED} ok"
    assert Redactor("ACME").redact_text("a cat") == "a cat"
    refused(lambda: Redactor(["ok", 5]), "patterns", "each item a string", "[1]")
    refused(lambda: Redactor({"a": 1}), "patterns", "must be a list of regular expressions")


def test_cost_tracker_points() -> None:
    assert CostTracker("agent:after_execution").points == {"agent:after_execution"}
    refused(lambda: CostTracker(5), "points",  # type: ignore[arg-type]
            "must be a list of hook points")
    refused(lambda: CostTracker(["agent:after_execution", None]), "points",  # type: ignore[list-item]
            "each item a string", "[1]")
