"""``llmspell artifact list|show|cat|versions|store|delete|gc``: artifacts from a shell.

An artifact is named by its id (``<session>/<name key>/<version>``; the session part may be
a unique prefix of the session id), or by its name with ``--session`` (the newest version,
or ``--version N``). Tables on a terminal, ``--json`` for machines; ``cat`` writes the raw
content to stdout (or ``-o FILE``), streamed and verified. The CLI acts as the host program:
it may read and change the artifacts of every session.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
import orjson

from llmspell.cli.main import (
    EXIT_SCRIPT,
    EXIT_USAGE,
    Options,
    echo,
    echo_json,
    fail,
    handle_errors,
    note_first_page,
    parse_time,
    shown,
)

DEFAULT_LIMIT = 100


@click.group(name="artifact")
def artifact() -> None:
    """Look at, store and delete artifacts (list, show, cat, versions, store, delete, gc)."""


def _session(rt: Any, ref: str) -> str:
    from llmspell.cli.session import resolve

    return resolve(rt.sessions, ref)


def _find(rt: Any, ref: str, session: str | None, version: int | None) -> Any:
    """The artifact ``ref`` names (see the module docstring)."""
    head, sep, rest = ref.partition("/")
    if session is None and sep and rest.count("/") == 1:
        ref = f"{_session(rt, head)}/{rest}"
    where = None if session is None else _session(rt, session)
    return rt.artifacts.get(ref, session=where, version=version, as_session=None)


def _row(a: Any) -> list[str]:
    row = [a.id, a.name, str(a.version), a.artifact_type, a.mime_type, _size(a.size),
           ",".join(a.tags), a.to_dict()["created_at"][:16].replace("T", " ")]
    return list(shown(row))


def _size(n: int) -> str:
    from llmspell.cli.tables import size_text

    return size_text(n)


def _table(rt: Any, found: list[Any]) -> None:
    """The artifacts as a table that fits the terminal (:mod:`llmspell.cli.tables`); a short
    id has its session part cut to the session's shortest unique prefix."""
    from llmspell.cli.session import short_ids
    from llmspell.cli.tables import Column, print_table

    sessions = short_ids(rt.sessions, sorted({a.session_id for a in found}))
    short = {a.id: sessions[a.session_id] + a.id[len(a.session_id):] for a in found}
    columns = [Column("ID", ident=True, short=short), Column("NAME", keep=9, wrap=True, minimum=20),
               Column("V", keep=8), Column("TYPE", keep=3), Column("MIME", keep=2),
               Column("SIZE", keep=7), Column("TAGS", keep=4, wrap=True, minimum=12),
               Column("CREATED", keep=5)]
    print_table(columns, [_row(a) for a in found])


@artifact.command(name="list")
@click.argument("session_ref", metavar="[SESSION]", required=False)
@click.option("--session", "session", default=None, help="Only this session (id or prefix).")
@click.option("--type", "artifact_type", default=None,
              help="Only this type: user_input, tool_result, agent_output, ... ")
@click.option("--tag", "tags", multiple=True, help="Only artifacts with this tag (repeat: all).")
@click.option("--name", default=None, help="Only names matching this glob ('report-*').")
@click.option("--mime", "mime_type", default=None, help="Only mime types matching this glob.")
@click.option("--since", default=None, help="Created at or after (ISO 8601 or epoch seconds).")
@click.option("--until", default=None, help="Created before this time.")
@click.option("--min-size", type=click.IntRange(0), default=None, help="At least this many bytes.")
@click.option("--max-size", type=click.IntRange(0), default=None, help="At most this many bytes.")
@click.option("--latest", is_flag=True, help="Only the newest version of each name.")
@click.option("--sort", default="-created_at", show_default=True,
              help="created_at, name, size, version or artifact_type; '-' for descending.")
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(0),
              help="At most this many (0: no limit).")
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of artifacts.")
@click.pass_obj
def list_(opts: Options, session_ref: str | None, session: str | None,
          artifact_type: str | None, tags: tuple[str, ...], name: str | None,
          mime_type: str | None, since: str | None, until: str | None, min_size: int | None,
          max_size: int | None, latest: bool, sort: str, limit: int, offset: int,
          as_json: bool) -> None:
    """List artifacts, newest first, in SESSION (id or unique prefix; or --session) or
    across all sessions."""
    if session_ref is not None and session is not None and session_ref != session:
        fail(f"two sessions given: {session_ref!r} and --session {session!r}", EXIT_USAGE)
    session = session or session_ref
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        where = None if session is None else _session(rt, session)
        found = rt.artifacts.query(
            session=where, artifact_type=artifact_type, tags=list(tags) or None, name=name,
            mime_type=mime_type, created_after=parse_time(since), created_before=parse_time(until),
            min_size=min_size, max_size=max_size, latest=latest, sort=sort,
            limit=limit or None, offset=offset, as_session=None)
        if not as_json:
            _table(rt, found)
    if as_json:
        echo_json([a.to_dict() for a in found])
        return
    note_first_page(len(found), limit)


@artifact.command()
@click.argument("ref", metavar="ID")
@click.option("--session", default=None, help="Find ID as a name in this session.")
@click.option("--version", type=click.IntRange(1), default=None, help="This version of it.")
@click.option("--json", "as_json", is_flag=True, help="Print the artifact as JSON.")
@click.pass_obj
def show(opts: Options, ref: str, session: str | None, version: int | None,
         as_json: bool) -> None:
    """Show one artifact's metadata."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        data = shown(_find(rt, ref, session, version).to_dict())
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        text = orjson.dumps(value).decode() if isinstance(value, dict | list) else value
        echo(f"{key + ':':<18}{text}")


@artifact.command()
@click.argument("ref", metavar="ID")
@click.option("--session", default=None, help="Find ID as a name in this session.")
@click.option("--version", type=click.IntRange(1), default=None, help="This version of it.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout.")
@click.pass_obj
def cat(opts: Options, ref: str, session: str | None, version: int | None,
        output: str | None) -> None:
    """Write an artifact's content, as raw bytes, to stdout (verified against its hash)."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        found = _find(rt, ref, session, version)
        with rt.artifacts.open(found, verify_first=True, as_session=None) as reader:
            out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
            try:
                for chunk in reader:
                    out.write(chunk)
                out.flush()
            finally:
                if output:
                    out.close()


@artifact.command()
@click.argument("session_id", metavar="SESSION")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of versions.")
@click.pass_obj
def versions(opts: Options, session_id: str, name: str, as_json: bool) -> None:
    """List every version of NAME in SESSION, oldest first."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        found = rt.artifacts.versions(_session(rt, session_id), name, as_session=None)
        if found and not as_json:
            _table(rt, found)
    if as_json:
        echo_json([a.to_dict() for a in found])
        return
    if not found:
        fail(f"no artifact named {name!r} in session {session_id}", EXIT_SCRIPT)


@artifact.command()
@click.argument("session_id", metavar="SESSION")
@click.argument("path", metavar="FILE")
@click.option("--name", default=None, help="Artifact name (default: the file's name).")
@click.option("--type", "artifact_type", default=None, help="Artifact type (default user_input).")
@click.option("--mime", "mime_type", default=None, help="Mime type (default: detected).")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--description", default=None, help="A description.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored artifact as JSON.")
@click.pass_obj
def store(opts: Options, session_id: str, path: str, name: str | None,
          artifact_type: str | None, mime_type: str | None, tags: tuple[str, ...],
          description: str | None, as_json: bool) -> None:
    """Store FILE ('-' for stdin) as an artifact of SESSION, streamed.

    The CLI reads any file you can read: [runtime] allowed_paths confines scripts, not you.
    """
    if path == "-" and not name:
        fail("--name is required when storing standard input", 2)
    with handle_errors(opts.verbose), opts.runtime() as rt:
        sid = _session(rt, session_id)
        options = dict(artifact_type=artifact_type, mime_type=mime_type,
                       tags=list(tags) or None, description=description, as_session=None)
        if path == "-":
            found = rt.artifacts.store_stream(sid, name, sys.stdin.buffer, **options)
        else:
            try:
                source = open(path, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                fail(f"cannot read {path}: {exc.strerror or exc}", 2)
                return
            with source:
                found = rt.artifacts.store_stream(sid, name or os.path.basename(path), source,
                                                  **options)
    if found is None:
        fail("a hook skipped the store; nothing was stored", EXIT_SCRIPT)
    if as_json:
        echo_json(found.to_dict())
    else:
        echo(f"{found.id} {found.name} v{found.version} {_size(found.size)}")


@artifact.command()
@click.argument("ref", metavar="ID")
@click.option("--session", default=None, help="Find ID as a name in this session.")
@click.option("--version", type=click.IntRange(1), default=None, help="This version of it.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the deleted artifact as JSON.")
@click.pass_obj
def delete(opts: Options, ref: str, session: str | None, version: int | None, yes: bool,
           as_json: bool) -> None:
    """Delete one artifact version (its content goes at the next gc if nothing else uses it)."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        found = _find(rt, ref, session, version)
        if not yes and not as_json and not click.confirm(
                f"delete {found.name!r} version {found.version} ({found.id})?", err=True):
            fail("not deleted", EXIT_SCRIPT)
        deleted = rt.artifacts.delete(found, as_session=None)
    if deleted is None:
        fail("a hook skipped the delete; nothing was deleted", EXIT_SCRIPT)
    if as_json:
        echo_json(found.to_dict())
    else:
        click.echo(f"deleted {found.id}")


@artifact.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--grace", type=click.FloatRange(0), default=None,
              help="Seconds content must have been unreferenced (default: [session] "
              "artifact_gc_grace_seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def gc(opts: Options, dry_run: bool, grace: float | None, as_json: bool) -> None:
    """Remove content no artifact uses any more, and artifacts of deleted sessions."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        report = rt.artifacts.gc(dry_run=dry_run, grace=grace)
    if as_json:
        echo_json(report.to_dict())
        return
    blobs = report.blobs
    verb = "would remove" if dry_run else "removed"
    click.echo(f"{verb} {blobs.blobs_removed} blobs ({_size(blobs.bytes_freed)}), "
               f"{blobs.abandoned_writes_removed} abandoned writes, "
               f"{report.orphan_artifacts} artifacts of {report.orphan_sessions} deleted "
               f"sessions; {blobs.kept_in_grace} unreferenced blobs kept in their grace period")


@artifact.command("migrate-blobs")
@click.pass_obj
def migrate_blobs(opts: Options) -> None:
    """Move blob files of an older store (under [session] storage_path) into the store."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        moved = rt.artifacts.blobs.migrate_files()
    click.echo(f"moved {moved} blob files into the store")


COMMANDS = [artifact]
