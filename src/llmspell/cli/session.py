"""``llmspell session list|show|suspend|resume|complete|fail|archive|delete|timeline``
(``replay``, ``fork`` and ``diff`` are in :mod:`llmspell.cli.session_replay`).

A session is named by its id or by a unique prefix of it (``llmspell session show 3f2a``).
Tables on the terminal, ``--json`` for machines; journal data is shown with secrets redacted
(it is stored that way). An unknown id or a refused transition exits 1 with the error.
"""

from __future__ import annotations

from typing import Any

import click
import orjson

from llmspell.cli.main import (
    EXIT_SCRIPT,
    Options,
    console,
    echo_json,
    fail,
    handle_errors,
    note_first_page,
    parse_time,
    shown,
)

DEFAULT_LIMIT = 100
_STATUSES = ("active", "suspended", "completed", "failed", "archived")


@click.group(name="session")
def session() -> None:
    """Look at and move sessions (list, show, suspend, resume, complete, timeline, ...)."""


def resolve(manager: Any, ref: str) -> str:
    """The id ``ref`` names: an exact id, or the one id starting with ``ref``."""
    from llmspell.errors import SessionNotFound

    if manager.exists(ref):
        return ref
    matches = manager.ids_starting_with(ref, limit=2)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SessionNotFound(f"{ref!r} is the start of several session ids; give more of it")
    raise SessionNotFound(f"no session has an id starting with {ref!r}")


@session.command(name="list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(_STATUSES),
              help="Only sessions in this status (repeatable: any of them).")
@click.option("--tag", "tags", multiple=True, help="Only sessions with this tag (repeatable: all).")
@click.option("--name", default=None, help="Only names containing this (any case).")
@click.option("--parent", default=None, help="Only children of this session id.")
@click.option("--sort", default="-created_at", show_default=True,
              help="created_at, updated_at, name or status; '-' for descending.")
@click.option("--limit", default=DEFAULT_LIMIT, show_default=True, type=click.IntRange(0),
              help="At most this many (0: no limit).")
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of sessions.")
@click.pass_obj
def list_(opts: Options, statuses: tuple[str, ...], tags: tuple[str, ...], name: str | None,
          parent: str | None, sort: str, limit: int, offset: int, as_json: bool) -> None:
    """List sessions, newest first."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        found = rt.sessions.list(status=list(statuses) or None, tags=list(tags) or None,
                                 name=name, parent=parent, sort=sort, limit=limit or None,
                                 offset=offset)
    if as_json:
        echo_json([s.to_dict() for s in found])
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("ID", "NAME", "STATUS", "TAGS", "CREATED", "OPS", "TOKENS"):
        table.add_column(column, no_wrap=column in ("ID", "CREATED"))
    for s in found:
        row = s.to_dict()
        table.add_row(*shown([s.id, s.name, s.status, ",".join(s.tags), row["created_at"][:19],
                              str(s.counters.operations), str(s.counters.tokens)]))
    console().print(table)
    note_first_page(len(found), limit)


@session.command()
@click.argument("session_id", metavar="ID")
@click.option("--at", "at_seq", type=click.IntRange(0), default=None,
              help="Show its state scope and artifacts as of this journal entry instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_obj
def show(opts: Options, session_id: str, at_seq: int | None, as_json: bool) -> None:
    """Show one session: its fields, counters, limits and journal length (or, with --at,
    its state and artifacts as of a sequence number)."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        manager = rt.sessions
        found = manager.get(resolve(manager, session_id))
        entries = manager.journal.count(found.id)
        snapshot = None if at_seq is None else manager.state_at(found.id, at_seq)
    if snapshot is not None:
        from llmspell.cli.session_replay import print_snapshot

        print_snapshot(snapshot, as_json)
        return
    data = shown(found.to_dict())
    data["journal_entries"] = entries
    if as_json:
        echo_json(data)
        return
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        if value in (None, "", [], {}):
            continue
        text = (orjson.dumps(value).decode() if isinstance(value, dict | list)
                else str(value))
        table.add_row(key, text)
    console().print(table)


def _move(operation: str, help_text: str) -> click.Command:
    @click.command(name=operation, help=help_text)
    @click.argument("session_id", metavar="ID")
    @click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
    @click.pass_obj
    def command(opts: Options, session_id: str, as_json: bool) -> None:
        with handle_errors(opts.verbose), opts.runtime() as rt:
            manager = rt.sessions
            moved = getattr(manager, operation)(resolve(manager, session_id))
        if as_json:
            echo_json(moved.to_dict())
        else:
            click.echo(f"{moved.id} {moved.status}")

    return command


for _operation, _help in (("suspend", "Suspend an active session (resume it later)."),
                          ("resume", "Resume a suspended session."),
                          ("complete", "Mark an active or suspended session completed."),
                          ("archive", "Archive a completed or failed session.")):
    session.add_command(_move(_operation, _help))


@session.command(name="fail")
@click.argument("session_id", metavar="ID")
@click.option("--reason", default="", help="Why it failed (kept on the session).")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_obj
def fail_(opts: Options, session_id: str, reason: str, as_json: bool) -> None:
    """Mark an active or suspended session failed."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        manager = rt.sessions
        moved = manager.fail(resolve(manager, session_id), reason)
    if as_json:
        echo_json(moved.to_dict())
    else:
        click.echo(f"{moved.id} {moved.status}")


@session.command()
@click.argument("session_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print {id, deleted}.")
@click.pass_obj
def delete(opts: Options, session_id: str, yes: bool, as_json: bool) -> None:
    """Delete a session with its state scope, journal and artifact references."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        manager = rt.sessions
        sid = resolve(manager, session_id)
        if not yes and not as_json and not click.confirm(
                f"delete session {sid} with its state and journal?", err=True):
            fail("not deleted", EXIT_SCRIPT)
        manager.delete(sid)
    if as_json:
        echo_json({"id": sid, "deleted": True})
    else:
        click.echo(f"deleted {sid}")


@session.command()
@click.argument("session_id", metavar="ID")
@click.option("--kind", "kinds", multiple=True,
              help="Only these kinds; 'state' matches state.write and state.delete.")
@click.option("--since", default=None, help="From this time (ISO 8601 or epoch seconds).")
@click.option("--until", default=None, help="Before this time.")
@click.option("--correlation", default=None, help="Only entries of this correlation id.")
@click.option("--after", "after_seq", type=click.IntRange(0), default=None,
              help="Only entries after this sequence number (paging).")
@click.option("--limit", default=0, type=click.IntRange(0), help="At most this many.")
@click.option("--reverse", is_flag=True, help="Newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of entries.")
@click.pass_obj
def timeline(opts: Options, session_id: str, kinds: tuple[str, ...], since: str | None,
             until: str | None, correlation: str | None, after_seq: int | None, limit: int,
             reverse: bool, as_json: bool) -> None:
    """Show a session's journal: transitions, state writes, hooks and events, in order."""
    from llmspell.sessions.history import with_values

    with handle_errors(opts.verbose), opts.runtime() as rt:
        manager = rt.sessions
        sid = resolve(manager, session_id)
        entries = list(with_values(manager.journal, sid, manager.journal.iter(
            sid, kinds=list(kinds) or None, since=parse_time(since), until=parse_time(until),
            correlation_id=correlation, after_seq=after_seq, limit=limit or None,
            reverse=reverse)))
    if as_json:
        echo_json(entries)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("SEQ", "TIME", "KIND", "CORRELATION", "DATA"):
        table.add_column(column, no_wrap=column != "DATA", overflow="fold")
    for entry in entries:
        data = (orjson.dumps(shown(entry["data"]), default=repr).decode()
                if entry["data"] is not None else "")
        table.add_row(str(entry["seq"]), entry["time"][:23], entry["kind"],
                      entry["correlation_id"] or "",
                      data if len(data) <= 400 else data[:397] + "...")
    console().print(table)


COMMANDS = [session]
