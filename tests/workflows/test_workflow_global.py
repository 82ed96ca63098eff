"""The ``Workflow`` Lua global: rs-llmspell's shapes, Lua functions in every kind (parallel ones
run on the script's thread), hooks from Lua, errors catchable with pcall, resume from a
script."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine
from llmspell.runtime import Runtime


def lua(rt: Runtime, code: str) -> Any:
    with LuaEngine(rt, script_name="wf.lua") as engine:
        return engine.run_string(code)


def test_the_issue_s_sequential_workflow_runs_as_written(mem: Runtime) -> None:
    out = lua(mem, """
    local workflow = Workflow.sequential({
        name = "id_pipeline",
        description = "make an id, then use it",
        error_strategy = "fail_fast",
        steps = {
            {name = "generate_id", type = "tool", tool = "uuid_generator", input = {}},
            {name = "label", type = "tool", tool = "text_manipulator",
             input = {operation = "uppercase", input = "{{step:generate_id:output.uuid}}"}},
        },
    })
    local result = workflow:execute()
    return {result.success, result.status, result.output.result, workflow.type, workflow.name,
            #result.step_results, result.data.steps_executed}
    """)
    assert out[:2] == [True, "completed"] and len(out[2]) == 36 and out[2] == out[2].upper()
    assert out[3:] == ["sequential", "id_pipeline", 2, 2]


def test_lua_functions_run_in_every_kind_and_parallel_ones_stay_on_the_lua_thread(
        mem: Runtime) -> None:
    out = lua(mem, """
    local hits = 0
    Hook.register("workflow:after_step", function(ctx) hits = hits + 1 end)
    local inner = Workflow.sequential({name = "inner", steps = {
        {name = "double", type = "function", fn = function(input) return input * 2 end,
         input = "{{loop:value}}"}}})
    local par = Workflow.parallel({name = "par", max_concurrency = 3, steps = {
        {name = "a", type = "function", fn = function() Utils.sleep(0.02) return "A" end},
        {name = "b", type = "function", fn = function() Utils.sleep(0.02) return "B" end},
        {name = "c", type = "function", fn = function() return "C" end},
        {name = "calc", tool = "calculator", input = {input = "2 + 3"}},
    }})
    local p = par:execute()
    local cond = Workflow.conditional({name = "cond", branches = {
        {condition = function(view) return view.outputs.pick == "left" end,
         steps = {{name = "left", type = "function", fn = function() return "went left" end}}},
    }, default = {{name = "right", type = "function", fn = function() return "went right" end}}})
    local c = cond:execute()
    local loop = Workflow.loop({name = "lp", collection = {1, 2, 3}, body = {
        {name = "nested", type = "workflow", workflow = inner}}})
    local l = loop:execute()
    return {p.output.a .. p.output.b .. p.output.c, p.output.calc.result, c.output,
            l.output[1], l.output[3], hits}
    """)
    assert out == ["ABC", 5, "went right", 2, 6, 4 + 1 + 6]


def test_an_agent_step_on_a_scripted_provider(mem: Runtime) -> None:
    out = lua(mem, """
    local agent = Agent.create({name = "poet", model = "scripted/demo",
                                replies = {"roses are red"}})
    local flow = Workflow.sequential({name = "ask", steps = {
        {name = "ask", type = "agent", agent = "poet", input = "a poem"},
        {name = "count", type = "tool", tool = "text_manipulator",
         input = {operation = "uppercase", input = "{{step:ask:output}}"}}}})
    return flow:execute().output.result
    """)
    assert out == "ROSES ARE RED"


def test_handle_methods_of_rs_llmspell(mem: Runtime) -> None:
    out = lua(mem, """
    local before, after = 0, 0
    local flow = Workflow.sequential({name = "m", steps = {
        {name = "read", type = "function", fn = function(input, ctx) return ctx.shared.seed end},
        {name = "use", tool = "calculator", input = {input = "{{shared:seed}} * 2"}}}})
    flow:setState("seed", 21)
    flow:onBeforeExecute(function(info) before = before + 1 end)
    flow:onAfterExecute(function(result) after = after + 1 end)
    local r = flow:execute()
    local info, metrics, check = flow:getInfo(), flow:getMetrics(), flow:validate()
    local found = Workflow.get("m")
    local listed = Workflow.list()
    local run = Workflow.run(r.run_id)
    local runs = Workflow.runs({status = "completed"})
    return {r.output.result, flow:getState("seed"), before, after, info.type,
            metrics.execution.total_executions, check.valid, found.id == flow.id, #listed,
            run.status, #runs, #Workflow.types(), flow:emit("noted", {x = 1}).success}
    """)
    assert out == [42, 21, 1, 1, "sequential", 1, True, True, 1, "completed", 1, 4, True]


def test_errors_are_lua_errors_catchable_with_pcall(mem: Runtime) -> None:
    out = lua(mem, """
    local ok1, e1 = pcall(Workflow.sequential, {name = "x", steps = {{name = "s"}}})
    local ok2, e2 = pcall(Workflow.loop, {name = "x", body = {{name = "s", tool = "t"}}})
    local ok3, e3 = pcall(Workflow.resume, "no-such-run")
    local flow = Workflow.sequential({name = "boom", steps = {
        {name = "s", type = "function", fn = function() error("kaboom") end}}})
    local r = flow:execute()
    local ok4, e4 = pcall(flow.execute)
    return {ok1, e1, ok2, e2, ok3, e3, r.success, r.error.message, ok4, e4}
    """)
    assert out[0] is False and "ValidationError" in out[1] and "$.steps[1].type" in out[1]
    assert out[2] is False and "exactly one of range" in out[3]
    assert out[4] is False and "WorkflowError" in out[5] and "no-such-run" in out[5]
    assert out[6] is False and "kaboom" in out[7]
    assert out[8] is False and "workflow:execute" in out[9]


def test_a_failing_workflow_calls_the_default_error_handler_and_debug_logs(
        mem: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", "llmspell.workflows"):
        out = lua(mem, """
        local seen
        Workflow.setDefaultErrorHandler(function(result) seen = result.error.location end)
        Workflow.enableDebug(true)
        local flow = Workflow.sequential({name = "bad", error_strategy = "continue", steps = {
            {name = "ok", tool = "calculator", input = {input = "1+1"}}}})
        flow:execute()
        local broken = Workflow.sequential({name = "worse", steps = {
            {name = "div", tool = "calculator", input = {input = "1 +"}}}})
        broken:execute()
        return {seen, Workflow.isDebugEnabled()}
        """)
    assert out == ["div", True]
    assert any("workflow bad step ok: completed" in r.getMessage() for r in caplog.records)


def test_a_script_resumes_its_interrupted_run(mem: Runtime) -> None:
    setup = """
    calls = calls or 0
    flow = Workflow.sequential({name = "again", steps = {
        {name = "one", type = "function", fn = function() calls = calls + 1 return calls end},
        {name = "two", type = "function", fn = function(input)
            if State.load("global", "broken") then error("not yet") end
            return input + 100 end, input = "{{step:one:output}}"}}})
    """
    with LuaEngine(mem, script_name="first.lua") as engine:
        engine.run_string('State.save("global", "broken", true)')
        run_id = engine.run_string(setup + "return flow:execute().run_id")
    assert mem.workflows.run(run_id)["status"] == "failed"
    assert mem.workflows.get("again") is None  # gone with the script that defined it
    with LuaEngine(mem, script_name="second.lua") as engine:
        engine.run_string('State.delete("global", "broken")')
        out = engine.run_string(setup + f'local r = Workflow.resume("{run_id}") '
                                "return {r.output, calls, r.metadata.replayed_steps}")
    assert out == [101, 0, 1]  # step one was served from the record, not run again


def test_workflow_cancel_from_lua(mem: Runtime) -> None:
    out = lua(mem, """
    local flow
    flow = Workflow.sequential({name = "c", steps = {
        {name = "one", type = "function", fn = function(input, ctx)
            return Workflow.cancel(ctx.run_id).status end},
        {name = "two", type = "function", fn = function() return "never" end}}})
    local r = flow:execute()
    return {r.status, r.steps_ran[1], #r.steps_ran}
    """)
    assert out == ["cancelled", "one", 1]


def test_a_closed_script_s_workflows_are_removed_but_runs_stay(mem: Runtime) -> None:
    lua(mem, """Workflow.sequential({name = "temp", steps = {
        {name = "s", tool = "calculator", input = {input = "1"}}}}):execute()""")
    assert mem.workflows.list() == [] and len(mem.workflows.runs()) == 1
    with pytest.raises(ScriptError, match="argument 'workflow'"):
        lua(mem, 'return Workflow.get(3)')


def test_a_lua_step_that_overran_its_timeout_says_it_finished(mem: Runtime) -> None:
    out = lua(mem, """
    finished = false
    local par = Workflow.parallel({name = "overran", steps = {
        {name = "slow", type = "function", timeout_ms = 100,
         fn = function() Utils.sleep(0.5) finished = true return "done" end},
        {name = "quick", type = "function", fn = function() return "quick" end},
    }})
    local r = par:execute()
    return {r.success, r.error and r.error.message, finished}
    """)
    assert out[0] is False
    assert "took longer than its timeout of 0.1 s" in out[1]
    assert "abandoned" not in out[1] and "ran to the end" in out[1]
    assert out[2] is True
