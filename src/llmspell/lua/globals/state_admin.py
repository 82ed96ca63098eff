"""Migrations and backups on the ``State`` global (installed with it by :mod:`.state`).

::

    State.migrate({from_version = 1, to_version = 2, transformations = {
        {field = "old_field", transform = "copy", to = "new_field"},
        {field = "deprecated", transform = "remove"}}})          --> report table
    local id = State.backup({description = "Before major update",
                             include_patterns = {"agent:*", "workflow:*"}})
    State.restore(id)
    local backups = State.list_backups()

Migrations: ``State.migrate(plan)`` (the plan's keys, plus ``dry_run``, ``force``,
``batch_size``; custom transforms and checks may be Lua functions), ``State.register_migration
(plan)``, ``State.migrate_to_version(version[, {dry_run}])`` (the registered ones up to it),
``State.migration_status()``, ``State.rollback_migration([{force}])``.

Backups: ``State.backup([{description, include_patterns, exclude_patterns, incremental,
parent, format, compression}])`` -> id, ``State.restore(id[, {dry_run, verify,
safety_backup}])`` -> report, ``State.list_backups()`` -> list of manifests,
``State.verify_backup(id)`` -> ``{valid = true, ...}`` or ``{valid = false, error = "..."}``,
``State.delete_backup(id[, {cascade}])`` -> list of deleted ids,
``State.prune_backups(policy)`` (``keep_last``, ``keep_daily``, ``keep_weekly``,
``keep_monthly``, ``max_age``, ``max_total_bytes``, ``dry_run``) -> report. rs-llmspell's
``create_backup``, ``restore_backup`` and ``validate_backup`` are aliases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmspell.errors import BackupCorrupt, BackupNotFound, ValidationError
from llmspell.lua import checks
from llmspell.lua.convert import LuaFunction

_APPLY_OPTIONS = ("dry_run", "force", "batch_size")
_BACKUP_OPTIONS = ("description", "include_patterns", "include", "exclude_patterns", "exclude",
                   "incremental", "parent", "format", "compression")
_RESTORE_OPTIONS = ("dry_run", "verify", "safety_backup")
#: Functions whose arguments may hold Lua functions (custom transforms, checks).
TAKES_FUNCTIONS = ("migrate", "register_migration")


def functions(runtime: Any) -> dict[str, Any]:
    """The Python halves, by key; the state module installs them on ``State``."""
    def migrate(plan: Any) -> dict[str, Any]:
        spec = _plan(plan)
        options = {k: spec.pop(k) for k in _APPLY_OPTIONS if k in spec}
        report = runtime.migrations.apply(spec, dry_run=bool(options.get("dry_run")),
                                          force=bool(options.get("force")),
                                          batch_size=options.get("batch_size", 1000))
        return report.as_dict()

    def register_migration(plan: Any) -> str:
        added = runtime.migrations.register(_plan(plan))
        return added[0].id

    def migrate_to_version(version: Any, options: Any = None) -> list[dict[str, Any]]:
        opts = checks.options(options, "options", ("dry_run",))
        reports = runtime.migrations.migrate_to_version(version,
                                                        dry_run=bool(opts.get("dry_run")))
        return [r.as_dict() for r in reports]

    def migration_status() -> dict[str, Any]:
        return runtime.migrations.status()

    def rollback_migration(options: Any = None) -> dict[str, Any]:
        opts = checks.options(options, "options", ("force",))
        return runtime.migrations.rollback(force=bool(opts.get("force")))

    def backup(options: Any = None) -> str:
        opts = checks.options(options, "options", _BACKUP_OPTIONS)
        info = runtime.backups.backup(
            description=opts.get("description") or "",
            include=checks.as_list(_one(opts, "include_patterns", "include")),
            exclude=checks.as_list(_one(opts, "exclude_patterns", "exclude")),
            incremental=bool(opts.get("incremental")), parent=opts.get("parent"),
            format=opts.get("format"), compression=opts.get("compression"))
        return info.id

    def restore(backup_id: Any, options: Any = None) -> dict[str, Any]:
        opts = checks.options(options, "options", _RESTORE_OPTIONS)
        return runtime.backups.restore(
            checks.text(backup_id, "id", empty=False), dry_run=bool(opts.get("dry_run")),
            verify=opts.get("verify", True) is not False,
            safety_backup=opts.get("safety_backup"))

    def list_backups() -> list[dict[str, Any]]:
        return [b.as_dict() for b in runtime.backups.list_backups()]

    def verify_backup(backup_id: Any) -> dict[str, Any]:
        checked = checks.text(backup_id, "id", empty=False)
        try:
            return runtime.backups.verify_backup(checked)
        except BackupNotFound:
            raise
        except BackupCorrupt as exc:
            return {"id": checked, "valid": False, "error": str(exc)}

    def delete_backup(backup_id: Any, options: Any = None) -> list[str]:
        opts = checks.options(options, "options", ("cascade",))
        return runtime.backups.delete_backup(
            checks.text(backup_id, "id", empty=False), cascade=bool(opts.get("cascade")))

    def prune_backups(policy: Any = None) -> dict[str, Any]:
        spec = checks.mapping(policy, "policy")
        dry_run = bool(spec.pop("dry_run", False))
        return runtime.backups.prune(spec, dry_run=dry_run)

    return {"migrate": migrate, "register_migration": register_migration,
            "migrate_to_version": migrate_to_version, "migration_status": migration_status,
            "rollback_migration": rollback_migration, "backup": backup, "restore": restore,
            "list_backups": list_backups, "verify_backup": verify_backup,
            "delete_backup": delete_backup, "prune_backups": prune_backups}


def _one(options: dict[str, Any], name: str, alias: str) -> Any:
    if options.get(name) is not None and options.get(alias) is not None:
        raise ValidationError(alias, f"is another spelling of {name!r}; give one")
    return options.get(name, options.get(alias))


def _plan(value: Any) -> dict[str, Any]:
    """A migration plan from Lua, in the shapes the core takes: an empty ``transformations``
    table as a list, and each Lua function in it (custom transforms, checks) as a Python
    function named ``lua function`` (its identity does not outlive the script)."""
    spec = checks.mapping(value, "plan", optional=False)
    if "transformations" in spec:
        spec["transformations"] = checks.as_list(spec["transformations"])
    named: dict[str, Any] = _name_functions(spec)
    return named


def _name_functions(value: Any) -> Any:
    if isinstance(value, LuaFunction):
        return _lua_function(value)
    if isinstance(value, dict):
        return {key: _name_functions(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_name_functions(item) for item in value]
    return value


def _lua_function(fn: LuaFunction) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return fn(*args)

    call.__module__, call.__qualname__ = "", "lua function"
    return call
