-- state_transactions.lua: all-or-nothing writes, compare-and-set, and errors (docs/state.md).
-- Run it with:  llmspell run examples/state_transactions.lua

-- A transaction: both writes commit together when the function returns.
State.transaction(function()
  State.save("workflow:import", "status", "done")
  State.save("global", "last_import", {rows = 120})
end)
print("status:", State.load("workflow:import", "status"))

-- An error inside rolls every write of the transaction back, and is raised again.
local ok, err = pcall(State.transaction, function()
  State.save("workflow:import", "status", "half-way")
  error("the source went away")
end)
print("rolled back:", not ok, State.load("workflow:import", "status"), err)

-- compare_and_set: a counter that several processes can increment safely.
local function increment(scope, key)
  while true do
    local current = State.load(scope, key)
    if State.compare_and_set(scope, key, current, (current or 0) + 1) then
      return (current or 0) + 1
    end
  end
end
for _ = 1, 3 do increment("global", "runs") end
print("runs:", State.load("global", "runs"))

-- Bad input is a Lua error that names the rule; pcall catches it.
print(pcall(State.save, "agnet:gpt-4", "k", 1))
print(pcall(State.save, "global", "../escape", 1))
