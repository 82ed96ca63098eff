"""``llmspell backup create|list|verify|restore|delete|prune``: backups of state.

Backups are files in ``[state] backup_dir``. ``verify`` and ``restore`` check every checksum
of the backup and of the backups it is built on; a damaged file is refused (exit 1) with what
is wrong. ``prune`` without options applies the retention configured in ``[state]``
(``backup_keep_last``, ``backup_max_age``, ...).
"""

from __future__ import annotations

import re
import time
from typing import Any

import click

from llmspell.cli.main import Options, echo_json, handle_errors, shown
from llmspell.cli.progress import progress_bar
from llmspell.state.backup.manager import configured_retention

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


@click.group(name="backup")
def backup() -> None:
    """Back up, verify, restore and prune backups of the store."""


@backup.command()
@click.option("-d", "--description", default="", help="What this backup is for.")
@click.option("--include", "includes", multiple=True, metavar="GLOB",
              help="Only scopes matching this glob (repeatable), e.g. --include 'agent:*'.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB",
              help="Leave out scopes matching this glob (repeatable).")
@click.option("--incremental", is_flag=True,
              help="Only what changed since the newest backup with the same scopes.")
@click.option("--parent", default=None, metavar="ID", help="The parent of an incremental.")
@click.option("--format", "entry_format", type=click.Choice(["json", "binary"]), default=None,
              help="Entry format (default: [state] backup_format).")
@click.option("--compression", type=click.Choice(["zstd", "lz4", "none"]), default=None,
              help="Compression (default: [state] backup_compression).")
@click.option("--json", "as_json", is_flag=True, help="Print the backup's manifest as JSON.")
@click.pass_obj
def create(opts: Options, description: str, includes: tuple[str, ...],
           excludes: tuple[str, ...], incremental: bool, parent: str | None,
           entry_format: str | None, compression: str | None, as_json: bool) -> None:
    """Write a backup of the whole store (state, sessions, journals, artifacts, blobs), or
    of the state of the scopes --include/--exclude choose."""
    with handle_errors(opts.verbose), opts.runtime() as rt, \
            progress_bar(not as_json) as report:
        info = rt.backups.backup(description=description, include=list(includes) or None,
                                 exclude=list(excludes) or None, incremental=incremental,
                                 parent=parent, format=entry_format,
                                 compression=compression, progress=report)
        pruned = rt.backups.last_retention
    if as_json:
        echo_json(_manifest(info))
    else:
        click.echo(f"{info.id}  {info.kind}, {info.entries} entries, {_size(info.file_bytes)}"
                   f"  {info.path}")
        if pruned is not None:
            click.echo(f"retention: kept {len(pruned['kept'])}, deleted "
                       f"{len(pruned['deleted'])} ({_size(pruned['freed_bytes'])})"
                       + "".join(f"\n  deleted {i}" for i in pruned["deleted"]))


@backup.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the manifests as JSON.")
@click.pass_obj
def list_(opts: Options, as_json: bool) -> None:
    """List the backups, oldest first."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        found = rt.backups.list_backups()
    if as_json:
        echo_json([_manifest(b) for b in found])
        return
    from llmspell.cli.tables import Column, print_table, unique_prefixes

    short = unique_prefixes([b.id for b in found])
    columns = [Column("ID", ident=True, short=short), Column("KIND", keep=8),
               Column("CREATED", keep=6), Column("ENTRIES", keep=3), Column("SIZE", keep=7),
               Column("PARENT", keep=2, ident=True, short=short),
               Column("DESCRIPTION", keep=9, wrap=True, minimum=24)]
    rows = []
    for b in found:
        if b.problem:
            rows.append([b.id, "damaged", "", "", _size(b.file_bytes), "", b.problem])
            continue
        kind = "safety" if b.safety else b.kind
        if b.coverage == "state":
            kind += " (state)"
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(b.created_at))
        rows.append([b.id, kind, created, str(b.entries), _size(b.file_bytes), b.parent or "",
                     shown(b.description)])
    print_table(columns, rows)
    safety = [b for b in found if b.safety and not b.problem]
    if safety:
        click.echo(f"{len(safety)} safety backup(s), {_size(sum(b.file_bytes for b in safety))}"
                   " (taken by restores; pruned before your own backups)")


@backup.command()
@click.argument("backup_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def verify(opts: Options, backup_id: str, as_json: bool) -> None:
    """Check every checksum of backup ID and of the backups it is built on (exit 1 if one
    fails, saying which backup and which entry or part)."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt, \
            progress_bar(not as_json) as report:
        result = rt.backups.verify_backup(backup_id, progress=report)
    if as_json:
        echo_json(result)
    else:
        click.echo(f"{result['id']}: ok ({result['entries']} entries in "
                   f"{len(result['chain'])} file(s))")


@backup.command()
@click.argument("backup_id", metavar="ID")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--no-safety-backup", is_flag=True,
              help="Do not back up the current data first.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def restore(opts: Options, backup_id: str, dry_run: bool, no_safety_backup: bool,
            as_json: bool) -> None:
    """Make the store (or, for a backup of chosen scopes, those scopes) hold exactly what
    backup ID holds, all at once. ID may be a unique prefix."""
    with handle_errors(opts.verbose), opts.runtime() as rt, \
            progress_bar(not as_json) as report:
        done = rt.backups.restore(backup_id, dry_run=dry_run,
                                  safety_backup=False if no_safety_backup else None,
                                  progress=report)
    if as_json:
        echo_json(done)
        return
    verb = "would put" if dry_run else "put"
    click.echo(f"{done['id']}: {verb} {done['puts']}, "
               f"{'would delete' if dry_run else 'deleted'} {done['deletes']}, "
               f"{done['unchanged']} unchanged")
    if done.get("safety_backup"):
        click.echo(f"safety backup of the previous data: {done['safety_backup']} "
                   f"({_size(done['safety_backup_bytes'])})")
    if done.get("orphans_skipped"):
        click.echo("left out (their sessions are not in the store): "
                   + ", ".join(done["orphans_skipped"]))


@backup.command()
@click.argument("backup_id", metavar="ID")
@click.option("--cascade", is_flag=True, help="Also delete incrementals built on it.")
@click.option("--json", "as_json", is_flag=True, help="Print the deleted ids as JSON.")
@click.pass_obj
def delete(opts: Options, backup_id: str, cascade: bool, as_json: bool) -> None:
    """Delete backup ID (refused while incrementals are built on it, unless --cascade)."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        deleted = rt.backups.delete_backup(backup_id, cascade=cascade)
    if as_json:
        echo_json({"deleted": deleted})
    else:
        click.echo("deleted " + ", ".join(deleted))


@backup.command()
@click.option("--keep-last", type=click.IntRange(0), default=None, help="Keep the N newest.")
@click.option("--keep-daily", type=click.IntRange(0), default=None,
              help="Keep the newest backup of each of the N latest days.")
@click.option("--keep-weekly", type=click.IntRange(0), default=None, help="... of N weeks.")
@click.option("--keep-monthly", type=click.IntRange(0), default=None, help="... of N months.")
@click.option("--max-age", default=None, help="Delete backups older than this (30d, 12h).")
@click.option("--max-total-bytes", default=None, help="Keep the total under this (500MB).")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option("--keep-changes", is_flag=True,
              help="Do not prune the change log entries no kept backup needs.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def prune(opts: Options, keep_last: int | None, keep_daily: int | None,
          keep_weekly: int | None, keep_monthly: int | None, max_age: str | None,
          max_total_bytes: str | None, dry_run: bool, keep_changes: bool,
          as_json: bool) -> None:
    """Delete the backups a retention policy does not keep (docs/backup-and-migration.md).
    With no policy option, the [state] backup_keep_* / backup_max_* settings apply."""
    given = {"keep_last": keep_last, "keep_daily": keep_daily, "keep_weekly": keep_weekly,
             "keep_monthly": keep_monthly, "max_age": max_age,
             "max_total_bytes": None if max_total_bytes is None
             else _parse_size(max_total_bytes)}
    with handle_errors(opts.verbose), opts.runtime() as rt:
        policy = ({k: v for k, v in given.items() if v is not None}
                  if any(v is not None for v in given.values())
                  else configured_retention(rt.config.setting))
        result = rt.backups.prune(policy, dry_run=dry_run, prune_changes=not keep_changes)
    if as_json:
        echo_json(result)
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"kept {len(result['kept'])}, {verb} {len(result['deleted'])} "
               f"({_size(result['freed_bytes'])})")
    for backup_id in result["deleted"]:
        click.echo(f"  {verb} {backup_id}")
    if result["changes_pruned"]:
        click.echo(f"change log: {'would prune' if dry_run else 'pruned'} "
                   f"{result['changes_pruned']} entries (through "
                   f"{result['changes_pruned_through']})")


def _manifest(info: Any) -> dict[str, Any]:
    """A backup's manifest for ``--json``, its ``created_at`` in ISO 8601 (UTC) as every
    other time the CLI prints as JSON."""
    from llmspell.journal import iso

    data: dict[str, Any] = info.as_dict()
    data["created_at"] = iso(info.created_at)
    return data


def _parse_size(text: str) -> int:
    found = _SIZE.match(text)
    if not found:
        raise click.BadParameter(f"expected a size such as 500MB or 2GiB, got {text!r}",
                                 param_hint="--max-total-bytes")
    unit = found.group(2).lower().rstrip("b").rstrip("i")
    return int(float(found.group(1)) * 1024 ** _POWERS[unit])


def _size(n: int) -> str:
    from llmspell.cli.tables import size_text

    return size_text(n)



COMMANDS = [backup]
