-- hooks_events.lua: watch and steer operations with hooks; publish and receive events.
-- Run it with:  llmspell run examples/hooks_events.lua

-- A hook at a custom point sees the data and may change it.
local stamp = Hook.register("custom:greeting", function(ctx)
  return {action = "modified", data = {text = ctx.data.text .. ", stamped"}}
end, "high")
local outcome = Hook.fire("custom:greeting", {text = "hello"})
print("modified by the hook:", outcome.data.text)

-- A hook can refuse a state write; the error reaches the script and nothing is stored.
local guard = Hook.register("state:before_write", function(ctx)
  if ctx.data.key == "forbidden" then
    return {action = "cancel", reason = "that key is reserved"}
  end
  return {continue_execution = true}  -- the seed's shape for "go on"
end)
local ok, err = pcall(State.save, "global", "forbidden", 1)
print("write refused:", not ok, err)
print("nothing stored:", State.load("global", "forbidden") == nil)
State.save("global", "allowed", 42)
print("allowed write stored:", State.load("global", "allowed"))

-- Hooks are listed and can be removed.
print("hooks registered:", #Hook.list())
guard:unregister()
stamp:unregister()
print("after unregistering:", #Hook.list("state:before_write"))

-- Events: a callback subscription and a queued one, with glob patterns.
local seen = {}
Event.subscribe("*.error", function(event) seen[#seen + 1] = event.type end)
local queue = Event.subscribe("report.*")

Event.publish("agent.error", {message = "model timed out"})
Event.publish("tool.error", {message = "file missing"})
Event.publish("report.ready", {pages = 3})

print("errors seen by the callback:", table.concat(seen, ", "))
local event = Event.receive(queue, 100)
print("received:", event.type, "pages =", event.data.pages)
print("nothing more queued:", Event.receive(queue, 10) == nil)
print("published so far:", Event.stats().published >= 3)
print("unsubscribed:", Event.unsubscribe(queue))
