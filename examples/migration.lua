-- migration.lua: migrate a schema with the seed's State.migrate (docs/backup-and-migration.md).
-- Run with: llmspell run examples/migration.lua
-- Values saved with no declared schema and no migration are at version 1: the seed's plan
-- applies to them.
-- A migration applies once per store: run this in a fresh directory to see every step act.

-- New values are saved at the version their scope is at: 1 in a fresh directory, 2 once the
-- seed's migration below stands applied. So a second run saves them in the version-2 shape.
if #State.migration_status().applied == 0 then
    State.save("agent:demo", "profile", {old_field = "gpt-4 settings", deprecated = true})
    State.save("workflow:processing", "config", {old_field = "batch", retries = 3})
else
    State.save("agent:demo", "profile", {old_field = "gpt-4 settings", new_field = "gpt-4 settings"})
    State.save("workflow:processing", "config", {old_field = "batch", new_field = "batch", retries = 3})
end
State.save("global", "motd", "plain text is not a table: the field transforms skip it")

-- Dry run first: a report of what would change; nothing is written.
local preview = State.migrate({
    from_version = 1, to_version = 2, dry_run = true,
    transformations = {{field = "old_field", transform = "copy", to = "new_field"}}
})
print("dry run: would change " .. preview.changed .. " of " .. preview.examined .. " values")

-- The seed's snippet, as written in the v0.5.0 release notes:

-- Perform migration
State.migrate({
    from_version = 1,
    to_version = 2,
    transformations = {
        {field = "old_field", transform = "copy", to = "new_field"},
        {field = "deprecated", transform = "remove"}
    }
})

-- What it did:
local profile = State.load("agent:demo", "profile")
print("profile.new_field:", profile.new_field, "deprecated:", profile.deprecated)
local status = State.migration_status()
print("current version:", status.current, "latest:", status.latest,
      "applied:", #status.applied)

-- Custom transforms (deferred in the seed) take a Lua function: fn(field_value, ctx).
local report = State.migrate({
    name = "m003_upper_case", from_version = 2, to_version = 3, scope = "agent:demo",
    transformations = {
        {field = "new_field", transform = "custom",
         fn = function(value, ctx) return string.upper(value) end},
        {field = "temperature", transform = "default", value = 0.7},
    },
    validate_after = {required = {"new_field", "temperature"}, types = {temperature = "number"}}
})
print("m003 changed:", report.changed, "->", State.load("agent:demo", "profile").new_field)

-- Applying a recorded migration again does nothing.
print("again:", State.migrate({
    name = "m003_upper_case", from_version = 2, to_version = 3, scope = "agent:demo",
    transformations = {}
}).already_applied)

-- A failing transform changes nothing: every value keeps its exact bytes.
local ok, err = pcall(State.migrate, {
    from_version = 3, to_version = 4,
    transformations = {{transform = "custom", fn = function(value, ctx) error("no way") end}}
})
print("failed as expected:", not ok, type(err) == "string" and err:match("^MigrationError") ~= nil)

-- Roll the last applied migration back to the exact previous bytes.
State.rollback_migration()
print("after rollback:", State.load("agent:demo", "profile").new_field)
