-- backup_hook.lua: back up whenever a workflow completes (docs/backup-and-migration.md).
-- Run with: llmspell run examples/backup_hook.lua

-- The seed's snippet, as written in the v0.5.0 release notes ("Setup Backups"):

-- Schedule regular backups
Hook.register("workflow:complete", function(ctx)
    State.backup({description = "Workflow completed"})
    return {continue_execution = true}
end)

-- A workflow completing fires the point.
local etl = Workflow.sequential({name = "etl", steps = {
    {name = "rows", type = "tool", tool = "calculator", input = {input = "10 * 100"}}}})
etl:execute()
local backups = State.list_backups()
print("backups:", #backups, backups[#backups].description)
