-- replay.lua: record a run, replay it without spending a token, find where a change
-- diverges, go back in time, and fork.
--   llmspell run examples/replay.lua

-- 1. Record a run. Replay.record runs the code in a new session and journals everything a
--    replay needs: the text, the clock/random/id reads, and every model and tool call.
local code = [[
local scope = "session:" .. Session.getCurrent().id
State.save(scope, "started", os.time())
State.save(scope, "lucky", math.random(1, 100))
local agent = Agent.create{
  name = "planner", model = "scripted/demo",
  replies = {
    {tool_calls = {{name = "calc", arguments = {input = "6*7"}, id = "c1"}}},
    "The answer is 42.",
  },
  tools = {{name = "calc", description = "arithmetic",
            parameters = {type = "object", properties = {input = {type = "string"}}},
            fn = function(args) return Tool.invoke("calculator", {input = args.input}).text end}},
}
local answer = agent:invoke{text = "what is six times seven?"}
State.save(scope, "answer", answer.text)
State.save(scope, "check", Tool.invoke("calculator", {input = "6*7"}).text)
State.save(scope, "run_id", Utils.uuid())
]]
local run = Replay.record{name = "plan.lua", code = code}
local id = run.session.id
print("recorded:", run.ok, run.session.status)

-- 2. Replay it exactly: every call and input comes from the journal, into a new session.
local report = Session.replay(id)
print("exact replay:", report.status, "calls served " .. report.calls_served)
local original, replayed = Session.stateAt(id), Session.stateAt(report.session_id)
print("same answer:", original.state.answer == replayed.state.answer,
      "same id:", original.state.run_id == replayed.state.run_id)

-- 3. Change one tool argument: the replay stops at that call with the difference.
local edited = code:gsub('{input = "6%*7"}', '{input = "6*8"}')
local changed = Session.replay(id, {script = edited})
print("changed script:", changed.status, "at seq " .. changed.divergence.seq)
print(changed.divergence.differences[1].path, changed.divergence.differences[1].description)

-- 4. Time travel: the state as of any entry, and what changed between two.
local writes = Session.timeline(id, {kind = "state.write"})
local middle = writes[2].seq
for key, value in pairs(Session.stateAt(id, middle).state) do
  print("at seq " .. middle .. ":", key, value)
end
local d = Session.diff(id, middle, writes[#writes].seq)
for key, change in pairs(d.state) do print("then:", change.op, key) end

-- 5. Fork at that moment: a child session with that state; the two go their own ways.
local fork = Session.fork(id, middle, {name = "what-if"})
State.save("session:" .. fork.id, "answer", "something else")
print("fork:", fork.name, State.load("session:" .. fork.id, "answer"),
      "original keeps:", State.load("session:" .. id, "answer"))

-- 6. rs-llmspell's helpers.
local cmp = Replay.create_comparator():compare_json(original.state, replayed.state)
print("comparator:", cmp.identical, cmp.similarity_score)
print("replayable sessions:", #Session.listReplayable() >= 1, Session.canReplay(id))
