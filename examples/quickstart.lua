-- quickstart.lua: a first tour of llmspell's Lua globals.
-- Run it with:  llmspell run examples/quickstart.lua -- hello world

print("llmspell quickstart")

-- Script arguments arrive in ARGS.
print("arguments:", #ARGS, table.concat(ARGS, " "))

-- JSON: parse and stringify (objects become tables, arrays become sequences).
local report = JSON.parse('{"project": "llmspell", "stages": ["state", "sessions", "artifacts"]}')
print("project:", report.project, "first stage:", report.stages[1])
report.ready = true
print("as JSON:", JSON.stringify({name = report.project, stages = #report.stages}))

-- Logger: structured logs (shown with llmspell -v run ...).
Logger.info("quickstart started", {stages = #report.stages})

-- Config: read the effective configuration (defaults when there is no llmspell.toml).
print("sandbox:", Config.get("engines.lua.sandbox"))
print("storage:", Config.get("storage.url"))

-- Utils: ids, time and hashes.
local id = Utils.uuid()
print("a fresh id has", #id, "characters")
print("sha256 of 'llmspell':", Utils.hash("llmspell"):sub(1, 16) .. "...")

-- Errors are Lua errors: catch them with pcall.
local ok, err = pcall(JSON.parse, "{not json")
print("parsing bad JSON failed as expected:", not ok)
print("  the error says:", err)

-- The default sandbox refuses dangerous calls, with a clear message.
local ok2, err2 = pcall(os.execute, "true")
print("os.execute refused:", not ok2)
print("  the error says:", err2)

print("done")
