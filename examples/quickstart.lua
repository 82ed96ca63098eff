-- quickstart.lua: an agent answers inside a session; llmspell keeps the rest.
-- Run it (twice: the run counter is kept in the store):
--   llmspell run examples/quickstart.lua -- hello world

-- State survives restarts: count the runs of this script.
local runs = (State.load("global", "quickstart_runs") or 0) + 1
State.save("global", "quickstart_runs", runs)
print("run number " .. runs)

-- A session groups what the work produces; the current one gets the agent's calls.
local session = Session.create{name = "quickstart", tags = {"demo"}}
Session.setCurrent(session)

-- An agent on the offline `scripted` provider, which answers with these canned replies.
-- For a real model: model = "openai/gpt-4o-mini" (and OPENAI_API_KEY set), no `replies`.
local question = #ARGS > 0 and table.concat(ARGS, " ") or "hello"
local agent = Agent.create{
  name = "assistant",
  model = "scripted/demo",
  system_prompt = "You are terse.",
  replies = {"You said: " .. question .. ". This is run " .. runs .. "."},
}

local answer = agent:invoke{text = question}
print("agent:", answer.text)
print("tokens used:", answer.usage.total)

-- The answer was stored as an artifact of the session (agent_output/<agent name>).
for _, artifact in ipairs(Artifact.list(session)) do
  print("artifact:", artifact.name, "version " .. artifact.version)
end

-- The session's timeline: what happened, in order (the model call is the llm.call entry).
for _, entry in ipairs(Session.timeline(session)) do
  print("timeline:", entry.seq, entry.kind == "event" and entry.data.type or entry.kind)
end

Session.complete(session)
print("session " .. session.id .. " completed")
