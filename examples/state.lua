-- state.lua: keep state across restarts with the seed's State API (docs/state.md).
-- Run it twice:  llmspell run examples/state.lua
-- The second run finds the conversation the first one saved.

local previous = State.load("agent:gpt-4", "conversation_history") or {}
local messages = previous
messages[#messages + 1] = {role = "user", content = "hello from run " .. (#previous + 1)}
State.save("global", "temp_data", {scratch = true})
State.save("workflow:processing", "step_" .. #messages, {done = true})

-- The seed's snippet, as written in the v0.5.0 release notes:

-- Save state with automatic persistence
State.save("agent:gpt-4", "conversation_history", messages)

-- Load state with fallback
local history = State.load("agent:gpt-4", "conversation_history") or {}

-- Delete state entries
State.delete("global", "temp_data")

-- List keys in scope
local keys = State.list_keys("workflow:processing")

-- What this run sees:
print("messages:", #history, history[#history].content)
print("temp_data:", State.load("global", "temp_data"))
print("workflow keys:", table.concat(keys, " "))
