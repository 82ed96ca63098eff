-- backup_hook.lua: back up whenever a workflow completes (docs/backup-and-migration.md).
-- Run with: llmspell run examples/backup_hook.lua

-- The seed's snippet, as written in the v0.5.0 release notes ("Setup Backups"):

-- Schedule regular backups
Hook.register("workflow:complete", function(ctx)
    State.backup({description = "Workflow completed"})
    return {continue_execution = true}
end)

-- A workflow completing fires the point; here it is fired by hand.
State.save("workflow:etl", "rows", 1000)
Hook.fire("workflow:complete", {workflow = "etl", status = "ok"})
local backups = State.list_backups()
print("backups:", #backups, backups[#backups].description)
