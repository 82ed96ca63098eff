"""``llmspell session create|list|show|suspend|resume|complete|fail|archive|delete|timeline``
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
from llmspell.cli.tables import ELLIPSIS, Column, print_table, size_text, unique_prefixes

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


@session.command()
@click.argument("name", default="")
@click.option("--description", "-d", default="", help="What the session is for.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--parent", default=None, help="The parent session (id or unique prefix).")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_obj
def create(opts: Options, name: str, description: str, tags: tuple[str, ...],
           parent: str | None, as_json: bool) -> None:
    """Create an active session named NAME and print its id."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        manager = rt.sessions
        made = manager.create(name=name, description=description, tags=list(tags),
                              parent_session_id=None if parent is None
                              else resolve(manager, parent))
    if as_json:
        echo_json(made.to_dict())
    else:
        click.echo(made.id)


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
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        found = rt.sessions.list(status=list(statuses) or None, tags=list(tags) or None,
                                 name=name, parent=parent, sort=sort, limit=limit or None,
                                 offset=offset)
        short = {} if as_json else short_ids(rt.sessions, [s.id for s in found])
    if as_json:
        echo_json([s.to_dict() for s in found])
        return
    columns = [Column("ID", ident=True, short=short), Column("NAME", keep=9, wrap=True, minimum=20),
               Column("STATUS", keep=8), Column("TAGS", keep=4, wrap=True, minimum=12),
               Column("CREATED", keep=6), Column("OPS", keep=2), Column("TOKENS", keep=1)]
    print_table(columns, [shown([s.id, s.name, s.status, ",".join(s.tags),
                                 s.to_dict()["created_at"][:16].replace("T", " "),
                                 str(s.counters.operations), str(s.counters.tokens)])
                          for s in found])
    note_first_page(len(found), limit)


def short_ids(manager: Any, ids: list[str]) -> dict[str, str]:
    """Each session id's shortest unique prefix in the whole store (8 characters at least;
    ids made in the same millisecond share 15)."""
    def others(prefix: str, me: str) -> bool:
        return any(found != me for found in manager.ids_starting_with(prefix, limit=2))

    return unique_prefixes(ids, others=others)


@session.command()
@click.argument("session_id", metavar="ID")
@click.option("--at", "at_seq", type=click.IntRange(0), default=None,
              help="Show its state scope and artifacts as of this journal entry instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@click.pass_obj
def show(opts: Options, session_id: str, at_seq: int | None, as_json: bool) -> None:
    """Show one session: its fields, counters, limits and journal length (or, with --at,
    its state and artifacts as of a sequence number)."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
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
    """Show a session's journal, one line per entry: its number, time, kind and what it says
    (state values rather than their hashes); --json prints every field of every entry, each
    kept state value under ``data.value``."""
    from llmspell.sessions.history import with_values

    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        manager = rt.sessions
        sid = resolve(manager, session_id)
        entries = list(with_values(manager.journal, sid, manager.journal.iter(
            sid, kinds=list(kinds) or None, since=parse_time(since), until=parse_time(until),
            correlation_id=correlation, after_seq=after_seq, limit=limit or None,
            reverse=reverse)))
    if as_json:
        echo_json(entries)
        return
    lines = [timeline_line(entry) for entry in entries]
    out = console()
    for line in lines:
        out.print(shown(line) if len(line) <= out.width else
                  shown(line[:out.width - 1]) + ELLIPSIS, overflow="ignore", crop=False)


def timeline_line(entry: dict[str, Any]) -> str:
    """``SEQ  TIME  KIND  what it says`` of an entry (as :func:`with_values` gives it): see
    :func:`summary`."""
    when = entry["time"]
    return f"{entry['seq']:>4}  {when[:10]} {when[11:19]}  {entry['kind']:<17} {summary(entry)}"


def summary(entry: dict[str, Any]) -> str:
    """A short reading of an entry's data: the name and tags of a created session, the key
    and value of a state write (the value kept for the journal, else a hash prefix), the
    name, version and size of an artifact, the point of a hook, the type of an event; other
    entries show their data as compact JSON."""
    data = entry["data"] if isinstance(entry["data"], dict) else {}
    kind = entry["kind"]
    own_scope = f"session:{entry['session_id']}"
    if kind in ("state.write", "state.delete"):
        where = data.get("key", "?") if data.get("scope") == own_scope else \
            f"{data.get('scope', '?')} {data.get('key', '?')}"
        if kind == "state.delete" or data.get("op") == "del":
            return f"{where} deleted"
        return f"{where} = {_value(data)}"
    if kind == "artifact.stored":
        return (f"{data.get('name', '?')} v{data.get('version', '?')} "
                f"({_size(data.get('size'))}, {data.get('mime_type', '?')})")
    if kind == "session.created":
        tags = ", ".join(str(t) for t in data.get("tags") or [])
        return f"{data.get('name') or '(no name)'}" + (f" (tags {tags})" if tags else "")
    if kind == "hook":
        return f"{data.get('point', '?')} -> {data.get('action', '?')}"
    if kind == "event":
        return str(data.get("type", "?"))
    if not entry["data"]:
        return ""
    return orjson.dumps(entry["data"], default=repr).decode()


def _value(data: dict[str, Any]) -> str:
    """A state write's value: kept by the journal (``data.value``, filled in by
    :func:`with_values`), else its hash."""
    if "value" not in data:
        new = data.get("new")
        return f"(value #{new[:12]})" if isinstance(new, str) else "?"
    if data["value"] is None:
        return "(value gone)"
    return orjson.dumps(data["value"], default=str).decode()


def _size(n: Any) -> str:
    return size_text(n) if isinstance(n, int) else "?"


COMMANDS = [session]
