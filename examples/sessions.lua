-- Sessions: the seed's snippets (rs-llmspell v0.6.0 release notes), unmodified, then a look
-- at what the runtime kept. Run with: llmspell run examples/sessions.lua

-- Create and manage sessions
local session = Session.create({
    name = "research_session",
    max_duration = 3600,  -- 1 hour
    tags = {"research", "analysis"}
})

-- Suspend and resume sessions
Session.suspend(session.id)
-- ... later ...
Session.resume(session.id)

-- Save and restore sessions
Session.save(session.id)
local restored = Session.load(session.id)

-- Get current session context
Session.setCurrent(session.id)
local current = Session.getCurrent()

-- What the runtime kept.
print("session:", tostring(session), session.name, session.status)
print("restored is the same handle:", restored == session, "current too:", current == session)
print("tags:", table.concat(session.tags, ","))

-- An invalid move is an error naming both states; pcall catches it.
local ok, err = pcall(Session.archive, session)
print("archive refused:", not ok, err)

-- The timeline: every transition, in order.
for _, entry in ipairs(Session.timeline(session, {kind = "session"})) do
    print(entry.seq, entry.kind)
end

Session.complete(session)
print("status:", session.status)
return session.id
