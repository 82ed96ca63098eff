"""rs-llmspell's backup and migration calls on ``State``, in rs-llmspell's shapes.

Built over the same managers as :mod:`.state_admin` (whose ``State.backup{...}``,
``State.restore``, ``State.verify_backup`` and ``State.migrate{...}`` stay the primary forms)::

    local r = State.create_backup(true)        --> {success, backup_id, size_bytes,
                                               --   entry_count, incremental, parent_id, ...}
    State.list_backups()                       --> entries also carry size_bytes,
                                               --   is_incremental, parent_id
    State.validate_backup(id)                  --> {is_valid, checksum_valid, integrity_valid,
                                               --   backup_id, ...}
    State.restore_backup(id)                   --> {success, backup_id, ...our report}
    State.get_storage_usage()                  --> {total_backups, total_size, full_backups,
                                               --   incremental_backups, oldest_backup,
                                               --   newest_backup}
    State.cleanup_backups(dry_run)             --> {success, dry_run, deleted_count,
                                               --   retained_count, space_freed}
    State.migrate("2")                         --> {success, status, from_version,
                                               --   to_version, items_migrated, duration_ms}
    State.schema_versions()                    --> {"1", "2"}

An operation that fails (backups disabled, no such backup, an id that names none, a damaged
file, a migration that cannot run) comes back as ``{success = false, error = "..."}``
(``is_valid = false`` for ``validate_backup``), as in rs-llmspell; a bad argument is still a
Lua error.
``create_backup`` also takes our options table; ``cleanup_backups`` applies the retention
configured in ``[state] backup_keep_*`` / ``backup_max_*``. ``migration_status()`` (ours) also
carries rs-llmspell's ``current_version``, ``latest_version``, ``is_latest``,
``migration_available``, ``total_schemas`` and ``migration_targets``; its aliases
``get_migration_status`` and ``list_schema_versions`` (= ``schema_versions``) are in the
Lua half.
"""

from __future__ import annotations

import time
from typing import Any

from llmspell.errors import LLMSpellError, ValidationError
from llmspell.lua import checks
from llmspell.state.backup.retention import POLICY_KEYS
from llmspell.validation import check_flag

_BACKUP_OPTIONS = ("description", "include_patterns", "include", "exclude_patterns",
                   "exclude", "incremental", "parent", "format", "compression")


def _failure(exc: LLMSpellError, **fields: Any) -> dict[str, Any]:
    return {"success": False, "error": str(exc), **fields}


def _listing(entry: dict[str, Any]) -> dict[str, Any]:
    """A manifest with rs-llmspell's names beside ours; absent values left out (nil in Lua,
    so ``b.parent_id or "none"`` works); ``created_at`` in whole seconds, so
    ``os.date(fmt, b.created_at)`` takes it."""
    out = {k: v for k, v in entry.items() if v is not None}
    out.update(size_bytes=entry.get("file_bytes", 0),
               is_incremental=entry.get("kind") == "incremental",
               created_at=int(entry.get("created_at", 0)))
    if entry.get("parent") is not None:
        out["parent_id"] = entry["parent"]
    return out


def functions(runtime: Any, ours: dict[str, Any]) -> dict[str, Any]:
    """The rs-shaped halves, over ``ours`` (:func:`.state_admin.functions`)."""

    def create_backup(options: Any = None) -> dict[str, Any]:
        if options is None or isinstance(options, bool):
            incremental, opts = bool(options), {"incremental": bool(options)}
        elif isinstance(options, dict):
            opts = checks.options(options, "options", _BACKUP_OPTIONS)
            incremental = bool(opts.get("incremental"))
        else:
            raise ValidationError("options", "must be true (incremental), false or nil (full) "
                                  "or an options table", got=options)
        try:
            info = runtime.backups.get(ours["backup"](opts))
        except ValidationError:
            raise
        except LLMSpellError as exc:
            return _failure(exc, incremental=incremental)
        return {**_listing(info.as_dict()), "success": True, "backup_id": info.id,
                "entry_count": info.entries, "incremental": info.incremental}

    def list_backups() -> list[dict[str, Any]]:
        return [_listing(b) for b in ours["list_backups"]()]

    def restore_backup(backup_id: Any, options: Any = None) -> dict[str, Any]:
        checked = checks.text(backup_id, "id", empty=False)
        opts = checks.options(options, "options", ("dry_run", "verify", "safety_backup"))
        try:  # an id that is no backup's (even malformed) is a failure, as in rs-llmspell
            report = ours["restore"](checked, opts)
        except LLMSpellError as exc:
            return _failure(exc, backup_id=checked)
        return {**{k: v for k, v in report.items() if v is not None}, "success": True,
                "backup_id": checked}

    def validate_backup(backup_id: Any) -> dict[str, Any]:
        checked = checks.text(backup_id, "id", empty=False)
        try:
            found = ours["verify_backup"](checked)
        except LLMSpellError as exc:
            found = {"id": checked, "valid": False, "error": str(exc)}
        valid = bool(found["valid"])
        return {**found, "backup_id": checked, "is_valid": valid, "checksum_valid": valid,
                "integrity_valid": valid}

    def get_storage_usage() -> dict[str, Any]:
        every = list_backups()
        usage = {"total_backups": len(every), "total_size": sum(b["size_bytes"] for b in every),
                 "full_backups": sum(1 for b in every if not b["is_incremental"]),
                 "incremental_backups": sum(1 for b in every if b["is_incremental"]),
                 "oldest_backup": every[0]["id"] if every else None,
                 "newest_backup": every[-1]["id"] if every else None}
        return {k: v for k, v in usage.items() if v is not None}

    def cleanup_backups(dry_run: Any = None) -> dict[str, Any]:
        if dry_run is not None:
            check_flag(dry_run, "dry_run")
        policy = {k: runtime.config.setting(f"state.backup_{k}") for k in POLICY_KEYS}
        try:
            report = runtime.backups.prune(policy, dry_run=bool(dry_run))
        except LLMSpellError as exc:
            return _failure(exc, dry_run=bool(dry_run), deleted_count=0, retained_count=0,
                            space_freed=0)
        return {**report, "success": True, "deleted_count": len(report["deleted"]),
                "retained_count": len(report["kept"]), "space_freed": report["freed_bytes"]}

    def migration_status() -> dict[str, Any]:
        status: dict[str, Any] = ours["migration_status"]()
        current, latest = str(status["current"]), str(status["latest"])
        targets = sorted({str(p["to_version"]) for p in status["pending"]} - {current})
        shaped = {**status, "current_version": current, "latest_version": latest,
                  "is_latest": current == latest,
                  "migration_available": bool(runtime.migrations.enabled),
                  "total_schemas": len(schema_versions()), "migration_targets": targets}
        if not runtime.migrations.enabled:
            shaped["error"] = "migrations are disabled ([state] migration_enabled = false)"
        return shaped

    def schema_versions() -> list[str]:
        status = runtime.migrations.status()
        found = {*status["versions"], str(status["current"]), str(status["latest"])}
        found.update(str(p[k]) for p in status["pending"] for k in ("from_version",
                                                                    "to_version"))
        found.update(str(s["version"]) for s in status["schemas"])
        return sorted(found, key=_version_order)

    def migrate_to(version: Any) -> dict[str, Any]:
        if isinstance(version, bool) or not isinstance(version, str | int):
            raise ValidationError("version", "must be a version string such as \"2\" or "
                                  "\"2.1.0\"", got=version)
        target = int(version) if isinstance(version, str) and version.isdigit() else version
        current = str(runtime.migrations.status()["current"])
        if str(target) == current:
            return {"success": True, "status": "already_current", "current_version": current,
                    "target_version": str(target)}
        started = time.perf_counter()
        try:
            reports = ours["migrate_to_version"](target)
        except LLMSpellError as exc:
            return _failure(exc, from_version=current, target_version=str(target))
        return {"success": True, "status": "completed", "from_version": current,
                "to_version": str(target), "reports": reports,
                "items_migrated": sum(r["examined"] for r in reports),
                "duration_ms": round((time.perf_counter() - started) * 1000)}

    return {"create_backup": create_backup, "list_backups": list_backups,
            "restore_backup": restore_backup, "validate_backup": validate_backup,
            "get_storage_usage": get_storage_usage, "cleanup_backups": cleanup_backups,
            "migration_status": migration_status, "schema_versions": schema_versions,
            "_migrate_to": migrate_to}


def _version_order(version: str) -> tuple[tuple[int, ...], str]:
    numbers = tuple(int(p) for p in version.split(".") if p.isdigit())
    return numbers, version
