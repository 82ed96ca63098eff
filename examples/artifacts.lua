-- Artifacts: the seed's snippets (rs-llmspell v0.6.0 release notes), unmodified, then a look
-- at what the runtime kept. Run with: llmspell run examples/artifacts.lua
--
-- The seed stores "/path/to/report.pdf", which does not exist here: this script first writes
-- a small PDF under the current directory (an allowed root by default) and stores that file,
-- with the seed's call shape.

local session = Session.create({name = "research_session"})
local path = "report.pdf"
local out = assert(io.open(path, "wb"))
out:write("%PDF-1.4\n% a one-line stand-in for the Q4 report\n%%EOF\n")
out:close()

-- Store artifacts with metadata
local artifact_id = Artifact.store(session.id, "analysis.json", {
    summary = "Market analysis complete",
    revenue = 1000000,
    growth = 0.15
}, {
    mime_type = "application/json",
    tags = {"quarterly", "finance"}
})

-- Retrieve artifacts
local artifact = Artifact.get(session.id, artifact_id)
local content = Artifact.getContent(session.id, artifact_id)

-- Query artifacts
local artifacts = Artifact.list(session.id, {
    artifact_type = "UserInput",
    tags = {"finance"}
})

-- Store files directly
local file_id = Artifact.storeFile(session.id, path, {
    description = "Q4 financial report"
})

-- What the runtime kept.
print("stored:", artifact.name, "version", artifact.version, artifact.mime_type,
      artifact.artifact_type, table.concat(artifact.tags, ","))
print("content:", content.summary, content.revenue, content.growth)
print("found:", #artifacts, artifacts[1].id == artifact_id)
local file = Artifact.get(session.id, file_id)
print("file:", file.name, file.mime_type, file.size, file.description)

-- The same name again is version 2; version 1 is kept.
local v2 = Artifact.store(session.id, "analysis.json", {summary = "revised", revenue = 1200000})
for _, version in ipairs(Artifact.versions(session.id, "analysis.json")) do
    print("version:", version.version, version.previous_version or "-")
end
print("latest:", Artifact.getContent(session.id, "analysis.json").summary,
      "first:", Artifact.getContent(session.id, artifact_id).summary)

-- Errors are Lua errors starting with the class name; pcall catches them.
local ok, err = pcall(Artifact.storeFile, session.id, "../outside.txt")
print("traversal refused:", not ok, err)
Artifact.delete(session.id, v2)
ok, err = pcall(Artifact.get, session.id, v2)
print("deleted:", not ok, err)

-- Every store and delete is in the session's journal.
for _, entry in ipairs(Session.timeline(session, {kind = "artifact"})) do
    print(entry.seq, entry.kind, entry.data.name, entry.data.version)
end
os.remove(path)
return artifact_id
