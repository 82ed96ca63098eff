"""The tool contract, the registry, ``@tool``, security levels and what a call goes through
(hooks, events, journal, artifacts)."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from llmspell import Runtime
from llmspell.agents.calls import fingerprint
from llmspell.errors import HookCancelled, SecurityViolation, ToolError, ValidationError
from llmspell.events import capture_events
from llmspell.hooks import HookResult
from llmspell.tools import Tool, ToolNotFound, ToolRegistry, tool
from llmspell.tools.builtins import builtin_tools


@tool(category="utility", capabilities=("math",))
def add(a: int, b: int = 0) -> int:
    """Add two integers.

    Longer text that is not the description."""
    return a + b


def test_the_decorator_derives_the_schema_from_type_hints() -> None:
    @tool
    def shout(text: str, times: int = 1, style: Literal["loud", "soft"] = "loud",
              tags: list[str] | None = None) -> str:
        """Repeat text."""
        return text * times

    assert shout.name == "shout" and shout.description == "Repeat text."
    assert shout.parameters == {
        "type": "object", "additionalProperties": False, "required": ["text"],
        "properties": {"text": {"type": "string"},
                       "times": {"type": "integer", "default": 1},
                       "style": {"enum": ["loud", "soft"], "default": "loud"},
                       "tags": {"anyOf": [{"type": "array", "items": {"type": "string"}},
                                          {"type": "null"}], "default": None}}}
    assert shout.call({"text": "ab", "times": 2}) == "abab"
    assert add.description == "Add two integers." and add.category == "utility"


def test_a_hint_with_no_schema_form_is_refused_naming_the_parameter() -> None:
    with pytest.raises(ValidationError, match="parameter 'when'"):
        @tool
        def later(when: complex) -> None:
            """x"""


def test_parameters_are_validated_before_execution_naming_path_and_rule() -> None:
    ran: list[Any] = []

    def fn(params: dict[str, Any], ctx: Any) -> None:
        ran.append(params)

    nested = Tool("nested", "n", fn=fn, parameters={
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
            "size": {"type": "integer", "minimum": 1}}}}}})
    with pytest.raises(ValidationError) as caught:
        nested.call({"items": [{"size": 2}, {"size": 0}]})
    assert caught.value.argument == "params" and caught.value.path == "$.items[1].size"
    assert "minimum of 1" in caught.value.rule
    with pytest.raises(ValidationError, match="'items' is a required property"):
        nested.call({})
    assert ran == []


def test_a_tool_needs_code_a_valid_schema_and_a_name() -> None:
    with pytest.raises(ValidationError, match="argument 'fn'"):
        Tool("nothing", "no code")
    with pytest.raises(ValidationError, match=r"argument 'parameters'.*valid JSON Schema"):
        Tool("bad", "x", fn=lambda p, c: None, parameters={"type": "object",
                                                          "properties": {"a": {"type": 3}}})
    with pytest.raises(ValidationError, match="argument 'name'"):
        Tool("has space", "x", fn=lambda p, c: None)
    with pytest.raises(ValidationError, match="argument 'security_level'"):
        Tool("t", "x", fn=lambda p, c: None, security_level="root")


def test_registry_discovery_by_category_capability_level_and_text() -> None:
    registry = ToolRegistry(builtin_tools())
    registry.register(add)
    assert registry.exists("calculator") and not registry.exists("nope")
    assert {"utility"} <= set(registry.categories())
    assert [t.name for t in registry.discover({"capability": "math"})] == ["add", "calculator"]
    assert all(t.security_level == "safe"
               for t in registry.discover({"security_level": "safe"}))
    assert "hash_calculator" not in [t.name for t in registry.discover({"security_level":
                                                                        "safe"})]
    assert [t.name for t in registry.discover({"text": "UUID"})] == ["uuid_generator"]
    with pytest.raises(ValidationError, match="unknown filter 'colour'"):
        registry.discover({"colour": "red"})
    with pytest.raises(ToolNotFound, match="did you mean 'calculator'"):
        registry.get("calculatr")
    with pytest.raises(ValidationError, match="already registered"):
        registry.register(add)


def test_spec_is_the_provider_tool_definition() -> None:
    spec = add.spec()
    assert (spec.name, spec.description) == ("add", "Add two integers.")
    assert spec.parameters["required"] == ["a"]


def test_invoke_returns_text_result_and_metadata(rt: Runtime) -> None:
    out = rt.tools.invoke("calculator", {"input": "2 + 3 * 4"})
    assert out.result == {"result": 14, "expression": "2 + 3 * 4"}
    assert out.text == '{"result":14,"expression":"2 + 3 * 4"}'
    assert out.metadata["tool"] == "calculator"
    assert out.metadata["fingerprint"] == fingerprint(tool="calculator",
                                                      arguments={"input": "2 + 3 * 4"})


def test_the_same_request_has_the_same_fingerprint(rt: Runtime) -> None:
    def print_of(name: str, params: dict[str, Any]) -> str:
        return str(rt.tools.invoke(name, params).metadata["fingerprint"])

    assert print_of("calculator", {"input": "1", "variables": {"a": 1, "b": 2}}) == print_of(
        "calculator", {"variables": {"b": 2, "a": 1}, "input": "1"})
    assert print_of("calculator", {"input": "1"}) != print_of("calculator", {"input": "2"})


def test_a_tool_above_the_maximum_level_is_refused_naming_the_setting(
        make_rt: Any) -> None:
    rt = make_rt(runtime__security__max_security_level="safe")
    seen: list[Any] = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    with pytest.raises(SecurityViolation, match=r"max_security_level = 'safe'.*'restricted'"):
        rt.tools.invoke("hash_calculator", {"input": "x"})
    assert seen and seen[0]["tool"] == "hash_calculator"
    assert rt.tools.invoke("calculator", {"input": "1"}).result["result"] == 1


def test_registered_tools_call_through_the_service(rt: Runtime) -> None:
    registered = rt.tools.register(Tool("echo", "echo", fn=lambda p, c: p["x"],
                                        parameters={"type": "object",
                                                    "properties": {"x": {}}}))
    with capture_events(rt.events, "tool.*") as events:
        assert registered.call({"x": 5}) == 5
    assert [e.type for e in events] == ["tool.started", "tool.completed"]


def test_hooks_modify_the_parameters_and_the_result(rt: Runtime) -> None:
    rt.hooks.register("tool:before_execution",
                      lambda ctx: HookResult.modified({"input": "10 * 10"}))
    rt.hooks.register("tool:after_execution",
                      lambda ctx: HookResult.modified({**ctx.data, "checked": True}))
    assert rt.tools.invoke("calculator", {"input": "1"}).result == {
        "result": 100, "expression": "10 * 10", "checked": True}


def test_a_hook_can_skip_or_cancel_a_call(rt: Runtime) -> None:
    handle = rt.hooks.register("tool:before_execution",
                               lambda ctx: HookResult.skip(result={"cached": 1}))
    assert rt.tools.invoke("calculator", {"input": "1"}).result == {"cached": 1}
    handle.unregister()
    rt.hooks.register("tool:before_execution", lambda ctx: HookResult.cancel("no tools today"))
    with pytest.raises(HookCancelled, match="no tools today"):
        rt.tools.invoke("calculator", {"input": "1"})


def test_an_error_hook_retry_runs_the_tool_again(rt: Runtime) -> None:
    calls: list[int] = []

    def flaky(params: dict[str, Any], ctx: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ToolError("first try fails")
        return "ok"

    rt.tools.register(Tool("flaky", "f", fn=flaky))
    rt.hooks.register("tool:error", lambda ctx: HookResult.retry(delay=0, attempts=3))
    assert rt.tools.invoke("flaky").result == "ok" and len(calls) == 2


def test_every_call_is_journaled_and_collected_in_the_session(rt: Runtime) -> None:
    session = rt.sessions.create("calc")
    with rt.sessions.current(session):
        rt.tools.invoke("calculator", {"input": "6 * 7"})
        with pytest.raises(ValidationError):
            rt.tools.invoke("calculator", {"input": "6 *"})
    entries = [e.data for e in rt.sessions.journal.read(session.id, kinds="tool")]
    assert [(e["tool"], e["result"]["success"]) for e in entries] == [("calculator", True),
                                                                     ("calculator", False)]
    assert entries[0]["arguments"] == {"input": "6 * 7"}
    assert entries[0]["result"] == {"success": True, "error": None,
                                    "output": {"result": 42, "expression": "6 * 7"}}
    assert entries[0]["fingerprint"] == fingerprint(tool="calculator",
                                                    arguments={"input": "6 * 7"})
    assert entries[1]["error_type"] == "ValidationError" and entries[0]["latency_ms"] >= 0
    assert "at $.input" in entries[1]["result"]["error"]
    found = rt.artifacts.list(session, artifact_type="tool_result")
    assert [(a.name, a.created_by) for a in found] == [("tool_result/calculator",
                                                        "tool:calculator")]
    assert rt.artifacts.value(found[0]) == {"result": 42, "expression": "6 * 7"}


def test_secrets_in_arguments_are_redacted_in_the_journal(rt: Runtime) -> None:
    rt.tools.register(Tool("login", "l", fn=lambda p, c: "ok", parameters={
        "type": "object", "properties": {"user": {}, "password": {}}}))
    session = rt.sessions.create("s")
    rt.tools.invoke("login", {"user": "ann", "password": "hunter2"}, session_id=session.id)
    entry = rt.sessions.journal.read(session.id, kinds="tool.call")[0].data
    assert entry["arguments"] == {"user": "ann", "password": "[REDACTED]"}


def test_a_tool_past_its_timeout_fails_naming_it(rt: Runtime) -> None:
    import threading

    release = threading.Event()
    rt.tools.register(Tool("stuck", "s", fn=lambda p, c: release.wait(30), timeout=0.05))
    try:
        with pytest.raises(ToolError, match="'stuck' did not finish within its timeout"):
            rt.tools.invoke("stuck")
    finally:
        release.set()


def test_an_unavailable_tool_says_why() -> None:
    class Needs(Tool):
        name = "needs"
        description = "needs a program"

        def available(self) -> str | None:
            return "the program 'frobnicate' is not installed"

        def execute(self, params: dict[str, Any], ctx: Any) -> Any:
            return 1

    with Runtime.memory() as rt:
        rt.tools.register(Needs())
        assert rt.tools.get("needs").info()["available"] is False
        with pytest.raises(ToolError, match="'frobnicate' is not installed"):
            rt.tools.invoke("needs")


def test_tools_work_with_sessions_off_and_journal_nothing() -> None:
    with Runtime.memory(session__enabled=False) as rt:
        with capture_events(rt.events, "tool.*") as events:
            assert rt.tools.invoke("calculator", {"input": "1 + 1"}).result["result"] == 2
        assert [e.type for e in events] == ["tool.started", "tool.completed"]
        assert rt.tools.invoke("calculator", {"input": "1"}).metadata["session_id"] is None


def test_a_failed_call_publishes_tool_failed_without_the_arguments(rt: Runtime) -> None:
    with capture_events(rt.events, "tool.*") as events, pytest.raises(ValidationError):
        rt.tools.invoke("calculator", {"input": "1 +", "variables": {"password": 1}})
    failed = events[-1]
    assert failed.type == "tool.failed" and failed.data["error_type"] == "ValidationError"
    assert "arguments" not in failed.data and failed.source == "tools"


def test_discovery_hooks_change_the_filters_and_the_list(rt: Runtime) -> None:
    rt.hooks.register("tool:before_discovery",
                      lambda ctx: HookResult.modified({**ctx.data, "capability": "math"}))
    rt.hooks.register("tool:after_discovery",
                      lambda ctx: HookResult.modified([n for n in ctx.data if n != "nope"]
                                                      + ["nope"]))
    assert [t.name for t in rt.tools.discover({"category": "utility"})] == ["calculator"]


def test_a_discovery_hook_can_answer_instead(rt: Runtime) -> None:
    rt.hooks.register("tool:before_discovery",
                      lambda ctx: HookResult.skip(result=["uuid_generator"]))
    assert [t.name for t in rt.tools.discover()] == ["uuid_generator"]


def test_a_validation_hook_can_fix_or_vouch_for_the_parameters(rt: Runtime) -> None:
    handle = rt.hooks.register(
        "tool:validation", lambda ctx: HookResult.modified({"input": str(ctx.data["input"])}))
    assert rt.tools.invoke("calculator", {"input": 7}).result["result"] == 7
    handle.unregister()
    rt.hooks.register("tool:validation", lambda ctx: HookResult.cancel("inputs are audited"))
    with pytest.raises(HookCancelled, match="inputs are audited"):
        rt.tools.invoke("calculator", {"input": "1"})


def test_session_id_must_be_an_id(rt: Runtime) -> None:
    import pytest

    from llmspell.errors import ValidationError

    session = rt.sessions.create("ids")
    with pytest.raises(ValidationError, match=r"argument 'session_id'.*session\.id"):
        rt.tools.invoke("calculator", {"input": "1"}, session_id=session)  # type: ignore[arg-type]
    assert rt.sessions.journal.read(session.id, kinds="tool.call") == []


@pytest.mark.parametrize("journal_events", [True, False])
def test_the_call_entry_is_written_right_before_its_last_event(
        journal_events: bool) -> None:
    with Runtime.memory(session__journal_events=journal_events) as rt:
        session = rt.sessions.create("calc")
        seen: list[list[str]] = []
        # A subscriber of the last event finds the call journaled already.
        rt.events.subscribe("tool.completed", lambda e: seen.append(
            [x.kind for x in rt.sessions.journal.read(session.id, kinds=["tool", "event"])]))
        rt.tools.invoke("calculator", {"input": "6 * 7"}, session_id=session.id)
        with pytest.raises(ValidationError):
            rt.tools.invoke("calculator", {"input": "6 *"}, session_id=session.id)
        entries = rt.sessions.journal.read(session.id, kinds=["tool", "event"])
        calls = [e for e in entries if e.kind == "tool.call"]
        assert [c.data["result"]["success"] for c in calls] == [True, False]
        assert "tool.call" in seen[0]
        if journal_events:
            kinds = [(e.kind, (e.data.get("type") if e.kind == "event" else None))
                     for e in entries]
            assert kinds == [("event", "tool.started"), ("tool.call", None),
                             ("event", "tool.completed"), ("event", "tool.started"),
                             ("tool.call", None), ("event", "tool.failed")]
            # The entry is written with the call's count (no limit could read it: counted
            # after the call), the event's entry right after it (one commit on SQLite).
            for call in calls:
                after = entries[entries.index(call) + 1]
                assert after.seq == call.seq + 1
            assert rt.sessions.get(session.id).counters.operations == 2
        else:
            assert [e.kind for e in entries] == ["tool.call", "tool.call"]
