"""Public functions given a value of the wrong type (a dict, a list, a number, an object) raise
llmspell's own error naming the argument: never a TypeError, AttributeError or KeyError from
inside, which is what a lookup in a cache or a table keyed by the argument used to raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmspell.errors import LLMSpellError, ValidationError
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime

WRONG = [5, -1, 1.5, True, b"x", {}, {"a": 1}, [], [1], object(), float("nan")]


def calls(rt: Runtime) -> dict[str, Callable[[Any], Any]]:
    """Each public call with one argument to be replaced by a wrong value."""
    rt.providers.add("scripted", ScriptedProvider("scripted", ["hi"] * 100))
    agent = rt.agents.create("typed", "scripted/x")
    hooks, events, tools, providers = rt.hooks, rt.events, rt.tools, rt.providers
    session = rt.sessions.create("typed")
    return {
        "hooks.before(point)": lambda w: hooks.before(w, {}),
        "hooks.after(point)": lambda w: hooks.after(w, {}),
        "hooks.decide(point)": lambda w: hooks.decide(w, {}),
        "hooks.fire(point)": lambda w: hooks.fire(w, {}),
        "hooks.fire(metadata)": lambda w: hooks.fire("agent:before_execution", {},
                                                     metadata=w),
        "hooks.run(point)": lambda w: hooks.run(w, {}, lambda d: d),
        "hooks.run(after)": lambda w: hooks.run("agent:before_execution", {}, lambda d: d,
                                                after=w),
        "hooks.run(metadata)": lambda w: hooks.run("agent:before_execution", {},
                                                   lambda d: d, metadata=w),
        "hooks.has(point)": lambda w: hooks.has(w),
        "hooks.get(hook_id)": lambda w: hooks.get(w),
        "hooks.unregister(hook)": lambda w: hooks.unregister(w),
        "hooks.enable(hook)": lambda w: hooks.enable(w),
        "hooks.disable(hook)": lambda w: hooks.disable(w),
        "hooks.list(where)": lambda w: hooks.list(where=w),
        "hooks.builtin(name)": lambda w: hooks.builtin(w),
        "hooks.enable_builtin(name)": lambda w: hooks.enable_builtin(w),
        "events.publish(type)": lambda w: events.publish(w, {}),
        "events.publish(source)": lambda w: events.publish("typed.test", {}, source=w),
        "events.has_subscribers(type)": lambda w: events.has_subscribers(w),
        "events.has_subscribers(source)": lambda w: events.has_subscribers("a.b", w),
        "events.subscription(id)": lambda w: events.subscription(w),
        "events.receive(id)": lambda w: events.receive(w, timeout=0),
        "events.unsubscribe(subscription)": lambda w: events.unsubscribe(w),
        "events.subscription_stats(sub)": lambda w: events.subscription_stats(w),
        "providers.add(name)": lambda w: providers.add(w, ScriptedProvider("s", [])),
        "providers.add(provider)": lambda w: providers.add("other", w),
        "providers.settings(name)": lambda w: providers.settings(w),
        "providers.provider(name)": lambda w: providers.provider(w),
        "providers.build(name)": lambda w: providers.build(w),
        "providers.price(name)": lambda w: providers.price(w, "gpt-4o"),
        "providers.price(model)": lambda w: providers.price("openai", w),
        "agent.add_tool(tool)": lambda w: agent.add_tool(w),
        "agent.invoke_tool(name)": lambda w: agent.invoke_tool(w),
        "agent.transition(operation)": lambda w: agent.transition(w),
        "agent.transition(reason)": lambda w: agent.transition("pause", w),
        "tools.discover(filters)": lambda w: tools.discover(w),
        "tools.specs(names)": lambda w: tools.specs(w),
        "tools.unregister(name)": lambda w: tools.unregister(w),
        "journal.append(kind)": lambda w: rt.sessions.journal.append(session.id, w),
        "sessions.list(created_after)": lambda w: rt.sessions.list(created_after=w),
        "journal.read(since)": lambda w: rt.sessions.journal.read(session.id, since=w),
    }


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: f"{type(w).__name__}-{w!r}"[:20]
                         if type(w) is not object else "object")
def test_a_wrong_type_is_our_error_naming_the_argument(rt: Runtime, wrong: Any) -> None:
    for name, call in calls(rt).items():
        try:
            call(wrong)
        except ValidationError as exc:
            assert exc.argument, name
        except LLMSpellError:
            pass  # another of ours: an agent that cannot make this move, say
        except Exception as exc:
            pytest.fail(f"{name} with {wrong!r} raised {type(exc).__name__}: {exc}")
    assert rt.agents.get("typed") is not None  # the wrong values left the runtime working


def test_what_the_checks_let_through_still_works(rt: Runtime) -> None:
    got: list[Any] = []
    rt.hooks.register("custom:typed", lambda ctx: got.append(ctx.data))
    assert rt.hooks.fire("custom:typed", 1, metadata={"a": 1}).data == 1 and got == [1]
    assert rt.hooks.has("custom:typed") and rt.hooks.builtin("metrics") is None
    sub = rt.events.subscribe("typed.*")
    assert rt.events.publish("typed.one", {}, source="me") is not None
    assert rt.events.subscription_stats(sub)["pending"] == 1
    assert rt.events.unsubscribe(sub.id)
    rt.providers.add("extra", ScriptedProvider("extra", ["ok"]))
    agent = rt.agents.create("extra", "extra/x")
    agent.add_tool({"name": "echo", "fn": lambda args: args})
    assert agent.invoke_tool("echo", {"a": 1}) == {"a": 1}
    assert rt.sessions.list(created_after=0, created_before=10**12) == []


FLAGS_AND_CALLBACKS = [1, 0, "yes", None, [], {}]


def test_flags_take_only_true_or_false_and_callbacks_only_functions(rt: Runtime) -> None:
    session = rt.sessions.create("flags")
    backups = rt.backups
    flags: dict[str, Callable[[Any], Any]] = {
        "backup(incremental)": lambda w: backups.backup(incremental=w),
        "backup(safety)": lambda w: backups.backup(safety=w),
        "restore(verify)": lambda w: backups.restore("nope", verify=w),
        "restore(dry_run)": lambda w: backups.restore("nope", dry_run=w),
        "verify_backup(chain)": lambda w: backups.verify_backup("nope", chain=w),
        "artifacts.query(latest)": lambda w: rt.artifacts.query(latest=w),
        "artifacts.query(descending)": lambda w: rt.artifacts.query(descending=w),
        "artifacts.set_auto_collect(enabled)": lambda w: rt.artifacts.set_auto_collect(
            session, w),
        "sessions.create(save)": lambda w: rt.sessions.create("x", save=w),
        "blobs.put(ref)": lambda w: rt.artifacts.blobs.put(b"x", ref=w),
    }
    for call in flags.values():
        for wrong in FLAGS_AND_CALLBACKS:
            with pytest.raises(ValidationError, match="must be true or false"):
                call(wrong)
    for wrong in (1, "f", {}):
        for call in (lambda w: backups.backup(progress=w),
                     lambda w: backups.verify_backup("nope", progress=w),
                     lambda w: backups.restore("nope", progress=w)):
            with pytest.raises(ValidationError, match="argument 'progress': must be a "
                                                      "function or None"):
                call(wrong)
    assert backups.list_backups() == []  # nothing was written by the refused calls


def test_store_and_workflow_arguments_of_the_wrong_type(rt: Runtime) -> None:
    for wrong in (5, None, {"a": b"x"}, "key"):
        with pytest.raises(ValidationError, match="argument 'ops'"):
            rt.store.batch(wrong)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="argument 'keys'"):
            rt.store.get_many(wrong)  # type: ignore[arg-type]
    flow = rt.workflows.sequential({"name": "f", "steps": [{"name": "s", "fn": lambda i, c: 1}]})
    with pytest.raises(ValidationError, match="argument 'which'"):
        flow.on({}, print)  # type: ignore[arg-type]


def test_values_json_cannot_hold_are_named_where_they_are(rt: Runtime) -> None:
    # A lone surrogate (no store can hold one) or a key no JSON has raised orjson's TypeError
    # from inside; now the argument and the path, before anything is written.
    session = rt.sessions.create("values")
    loop: list[Any] = []
    loop.append(loop)
    cases: list[tuple[Callable[[], Any], str, str, str]] = [
        (lambda: rt.sessions.create("x", metadata={"a": ["ok", "\ud800"]}), "metadata",
         "$.a[1]", "lone surrogate"),
        (lambda: rt.sessions.update_metadata(session, {"b": {"c": "\udfff"}}), "metadata",
         "$.b.c", "lone surrogate"),
        (lambda: rt.artifacts.store(session, "n", "text", custom={"k": "\ud800"}), "custom",
         "$.k", "lone surrogate"),
        (lambda: rt.artifacts.store(session, "n", {"k": ["\ud800"]}), "content", "$.k[0]",
         "lone surrogate"),
        (lambda: rt.sessions.journal.append(session.id, "user.note", {"a": {("t",): 1}}),
         "data", "$.a", "dict keys must be str"),
        (lambda: rt.sessions.journal.append(session.id, "user.note", {"a": "\ud800"}), "data",
         "$.a", "lone surrogate"),
        (lambda: rt.sessions.journal.append(session.id, "user.note", {"a": loop}), "data",
         "$.a[0]", "must not contain itself"),
    ]
    entries = len(rt.sessions.journal.read(session.id))
    for call, argument, path, words in cases:
        with pytest.raises(ValidationError) as info:
            call()
        assert (info.value.argument, info.value.path) == (argument, path), words
        assert words in str(info.value)
    assert len(rt.sessions.journal.read(session.id)) == entries  # nothing was written
    assert rt.sessions.get(session.id).metadata == {} and rt.artifacts.list(session) == []
