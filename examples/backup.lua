-- backup.lua: back up and restore with the seed's State API (docs/backup-and-migration.md).
-- Run with: llmspell run examples/backup.lua
-- Backups are files in [state] backup_dir (default .llmspell/backups).

State.save("agent:gpt-4", "conversation_history", {{role = "user", content = "hello"}})
State.save("workflow:processing", "step", 1)
State.save("global", "app_config", {theme = "dark"})

-- The seed's snippet, as written in the v0.5.0 release notes:

-- Create backup
local backup_id = State.backup({
    description = "Before major update",
    include_patterns = {"agent:*", "workflow:*"}
})

-- Restore from backup
State.restore(backup_id)

-- List available backups
local backups = State.list_backups()

print("backups:", #backups, "(nothing changed, so that restore took no safety backup)")

-- A "major update" that goes wrong, and the way back:
State.save("agent:gpt-4", "conversation_history", {})
State.delete("workflow:processing", "step")
State.save("workflow:processing", "half_done", true)
local report = State.restore(backup_id, {dry_run = true})
print("a restore would put back", report.puts, "and delete", report.deletes)
State.restore(backup_id)
print("history:", #State.load("agent:gpt-4", "conversation_history"), "message(s)")
print("step:", State.load("workflow:processing", "step"),
      "half_done:", State.load("workflow:processing", "half_done"))

-- Incrementals hold only what changed since their parent, deletions included.
State.save("agent:gpt-4", "notes", "new since the backup")
local inc = State.backup({description = "changes only", incremental = true,
                          include_patterns = {"agent:*", "workflow:*"}})
local check = State.verify_backup(inc)
print("incremental valid:", check.valid, "chain length:", #check.chain)

-- Keep backups under control: the newest stays, with whatever it is built on (here the
-- restore's safety backup); the first backup would go.
local pruned = State.prune_backups({keep_last = 1, dry_run = true})
print("prune would delete:", #pruned.deleted)
