-- workflows.lua: the four kinds of workflow, durable (docs/workflows.md).
-- Run with: llmspell run examples/workflows.lua
-- Works offline: the agent runs on the scripted provider (canned replies).

local writer = Agent.get("writer") or Agent.create({
    name = "writer", model = "scripted/demo",
    replies = {"Durable workflows resume where they stopped.",
               "Durable workflows resume where they stopped."},
})

-- 1. Sequential: a tool, the agent, a Lua function; each step's output feeds the next
--    through {{step:NAME:output}} references (rs-llmspell's form).
local summary = Workflow.sequential({
    name = "summary",
    description = "make an id, ask the agent, measure the answer",
    error_strategy = "fail_fast",
    steps = {
        {name = "generate_id", type = "tool", tool = "uuid_generator", input = {}},
        {name = "write", type = "agent", agent = "writer", input = "One line on durability."},
        {name = "measure", type = "function", input = "{{step:write:output}}",
         fn = function(text, ctx)
             return {words = select(2, text:gsub("%S+", "")), id = ctx.outputs.generate_id.uuid}
         end},
    },
})
local result = summary:execute()
print("sequential:", result.status, result.output.words .. " words", #result.output.id == 36)

-- 2. Parallel: three branches at most two at a time; a nested workflow is a step too.
local checks = Workflow.parallel({
    name = "checks", max_concurrency = 2,
    steps = {
        {name = "sum", type = "tool", tool = "calculator", input = {input = "6 * 7"}},
        {name = "hash", type = "tool", tool = "hash_calculator",
         input = {operation = "hash", algorithm = "sha256", input = "llmspell"}},
        {name = "again", type = "workflow", workflow = summary},
    },
})
local parallel = checks:execute()
print("parallel:", parallel.status, parallel.output.sum.result, #parallel.output.hash.hash)

-- 3. Conditional: the first branch whose condition holds runs (a Lua function, or a
--    declared condition on shared data); otherwise the default.
local route = Workflow.conditional({
    name = "route",
    branches = {
        {name = "big", condition = function(view) return view.shared.size > 100 end,
         steps = {{name = "say_big", type = "function", fn = function() return "big" end}}},
        {name = "exact", condition = {type = "shared_data_equals", key = "size", expected = 42},
         steps = {{name = "say_exact", type = "tool", tool = "text_manipulator",
                   input = {operation = "uppercase", input = "exactly {{shared:size}}"}}}},
    },
    default = {{name = "say_small", type = "function", fn = function() return "small" end}},
})
route:setState("size", 42)
print("conditional:", route:execute().output.result)

-- 4. Loop: over a collection, with a break condition on a step's output.
local loop = Workflow.loop({
    name = "count", collection = {"alpha", "beta", "stop", "never"},
    body = {{name = "shout", type = "tool", tool = "text_manipulator",
             input = {operation = "uppercase", input = "{{loop:value}}"}}},
    break_if = {type = "step_output_equals", step = "shout", expected = {result = "STOP"}},
})
local looped = loop:execute()
print("loop:", #looped.output, "iterations, last", looped.output[#looped.output].result)

-- Every run is recorded (state scope workflow:<run id>): list it, or resume one that was
-- interrupted with Workflow.resume(run_id) / `llmspell workflow resume ID`.
local run = Workflow.run(result.run_id)
print("recorded:", run.status, #run.steps .. " steps", run.steps[1].path)
