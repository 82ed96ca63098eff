"""``llmspell migrate status|plan|apply|rollback``: schema versions and migrations of state.

Without a PLAN file, ``plan`` and ``apply`` work on the migrations registered in code
(``[state] migrations``) that are not applied yet. A PLAN file is a JSON object in the form of
``State.migrate{...}`` (no custom functions). ``apply`` is all or nothing; ``rollback`` gives
the last applied migration's values their exact previous bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from llmspell.cli.main import EXIT_USAGE, Options, echo_json, fail, handle_errors
from llmspell.cli.progress import progress_bar


@click.group(name="migrate")
def migrate() -> None:
    """Schema versions and migrations of stored state."""


@migrate.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def status(opts: Options, as_json: bool) -> None:
    """Show the versions values are at (overall and per scope, with the version new values of
    each scope are saved at), the latest version, and pending migrations."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        found = rt.migrations.status()
    if as_json:
        echo_json(found)
        return
    versions = ", ".join(f"v{v}: {n}" for v, n in found["versions"].items()) or "no values"
    click.echo(f"current version  {found['current']}")
    click.echo(f"latest version   {found['latest']}")
    click.echo(f"values           {found['values']} ({versions})")
    for scope, seen in found["scopes"].items():
        counts = ", ".join(f"v{v}: {n}" for v, n in seen["versions"].items())
        click.echo(f"scope            {scope}: new values at v{seen['current']} ({counts})")
    for p in found["pending"]:
        click.echo(f"pending          {p['id']}: v{p['from_version']} -> v{p['to_version']} "
                   f"({p['items']} values)")
    if not found["pending"]:
        click.echo("pending          none")
    for a in found["applied"]:
        state = "rolled back" if a["rolled_back_at"] else "applied"
        click.echo(f"{state:<17}#{a['n']} {a['id']}: v{a['from_version']} -> "
                   f"v{a['to_version']} ({a['changed']} of {a['items']} values changed)")


@migrate.command()
@click.argument("plan_file", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_obj
def plan(opts: Options, plan_file: str | None, as_json: bool) -> None:
    """Dry-run PLAN (a JSON file), or the pending registered migrations: report what would
    change, change nothing."""
    spec = _read_plan(plan_file)
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        migrator = rt.migrations
        reports = ([migrator.plan(spec)] if spec is not None
                   else migrator.apply_pending(dry_run=True))
    _show(reports, as_json)


@migrate.command()
@click.argument("plan_file", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Apply PLAN even if it is recorded as applied.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_obj
def apply(opts: Options, plan_file: str | None, force: bool, as_json: bool) -> None:
    """Apply PLAN (a JSON file), or the pending registered migrations; each all or nothing."""
    spec = _read_plan(plan_file)
    with handle_errors(opts.verbose), opts.runtime() as rt, \
            progress_bar(not as_json) as report:
        migrator = rt.migrations

        def step(done: int, total: int) -> None:
            if report is not None:
                report("migrate", done, total)
                if done >= total:  # every value read: the one atomic write follows
                    report("write", 0, 1)

        reports = ([migrator.apply(spec, force=force, progress=step)] if spec is not None
                   else migrator.apply_pending(progress=step))
        if report is not None:
            report("write", 1, 1)
    _show(reports, as_json)


@migrate.command()
@click.option("--force", is_flag=True,
              help="Also overwrite values changed since the migration.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_obj
def rollback(opts: Options, force: bool, as_json: bool) -> None:
    """Give the values of the last applied migration their exact pre-migration bytes."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        done = rt.migrations.rollback(force=force)
    if as_json:
        echo_json(done)
    else:
        click.echo(f"rolled back #{done['n']} {done['id']}: {done['restored']} values restored "
                   f"to v{done['from_version']}")


def _read_plan(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = orjson.loads(Path(path).read_bytes())
    except OSError as exc:
        fail(f"error: cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
    except orjson.JSONDecodeError as exc:
        fail(f"error: {path} is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(data, dict):
        fail(f"error: {path} must hold a JSON object (a migration plan)", EXIT_USAGE)
    return data


def _show(reports: list[Any], as_json: bool) -> None:
    if as_json:
        echo_json([r.as_dict() for r in reports])
        return
    if not reports:
        click.echo("nothing to do: no pending migration")
    for r in reports:
        if r.already_applied or r.note:
            click.echo(f"{r.id}: {r.note}")
            continue
        verb = "would change" if r.dry_run else "changed"
        click.echo(f"{r.id}: v{r.from_version} -> v{r.to_version}: {r.examined} values "
                   f"examined, {verb} {r.changed}, {r.unchanged} unchanged, {r.skipped} "
                   f"transform(s) skipped")
        for t in r.transforms:
            click.echo(f"  {t['transform']}: {t['changed']} changed, {t['unchanged']} "
                       f"unchanged, {t['skipped']} skipped")
        for s in r.samples:
            click.echo(f"  {s['scope']}/{s['key']}: {orjson.dumps(s['before']).decode()} -> "
                       f"{orjson.dumps(s['after']).decode()}")


COMMANDS = [migrate]
