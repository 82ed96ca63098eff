"""``llmspell session replay|fork|diff`` (and how ``session show --at`` prints a snapshot).

``replay ID`` re-runs a recorded session's script with its calls and inputs served from the
journal (``--mode live`` makes the calls and compares), into a new session; it exits 1 when the
replay is not identical (a divergence, a different ending). ``--step`` pauses at each recorded
entry (or at ``--break KIND|SEQ``) showing the entry and the replay's state: Enter goes on,
``c`` runs to the next breakpoint, ``q`` stops. A progress bar is drawn on a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from llmspell.cli.main import (
    EXIT_SCRIPT,
    EXIT_USAGE,
    Options,
    console,
    echo,
    echo_json,
    fail,
    handle_errors,
    shown,
)
from llmspell.cli.progress import progress_bar
from llmspell.cli.session import resolve, session


def _text(value: Any) -> str:
    return orjson.dumps(shown(value), default=repr).decode()


def print_snapshot(snapshot: Any, as_json: bool) -> None:
    """A session's state and artifacts at a seq, as JSON or as two tables."""
    data = snapshot.to_dict()
    if as_json:
        echo_json(data)
        return
    from rich.table import Table

    echo(f"session {data['session_id']} as of seq {data['seq']}")
    table = Table(box=None, pad_edge=False)
    for column in ("SCOPE", "KEY", "VALUE"):
        table.add_column(column, overflow="fold")
    own = f"session:{data['session_id']}"
    for key, value in data["state"].items():
        table.add_row(own, key, _text(value))
    for scope, values in data["scopes"].items():
        for key, value in values.items():
            table.add_row(scope, key, _text(value))
    console().print(table)
    if data["artifacts"]:
        arts = Table(box=None, pad_edge=False)
        for column in ("ARTIFACT", "VERSION", "SIZE", "HASH"):
            arts.add_column(column)
        for a in data["artifacts"]:
            arts.add_row(a["name"], str(a["version"]), str(a["size"]),
                         (a["content_hash"] or "")[:16])
        console().print(arts)


@click.command()
@click.argument("session_id", metavar="ID")
@click.argument("from_seq", metavar="A", type=click.IntRange(0))
@click.argument("to_seq", metavar="B", type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
@click.pass_obj
def diff(opts: Options, session_id: str, from_seq: int, to_seq: int, as_json: bool) -> None:
    """What changed in a session's state and artifacts between sequence numbers A and B."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        manager = rt.sessions
        found = manager.diff(resolve(manager, session_id), from_seq, to_seq)
    if as_json:
        echo_json(found)
        return
    own = f"session:{found['session_id']}"
    lines = []
    for scope, changes in [(own, found["state"]), *found["scopes"].items()]:
        for key, change in changes.items():
            mark = {"added": "+", "removed": "-", "changed": "~"}[change["op"]]
            old = "" if change["op"] == "added" else _text(change["old"])
            new = "" if change["op"] == "removed" else _text(change["new"])
            arrow = f"{old} -> {new}" if change["op"] == "changed" else old or new
            lines.append(f"{mark} {scope} {key}: {arrow}")
    for a in found["artifacts"]["added"]:
        lines.append(f"+ artifact {a['name']} v{a['version']} ({a['size']} bytes)")
    for a in found["artifacts"]["removed"]:
        lines.append(f"- artifact {a['name']} v{a['version']}")
    echo(f"session {found['session_id']}: seq {from_seq} -> {to_seq}")
    echo("\n".join(lines) if lines else "no changes")


@click.command()
@click.argument("session_id", metavar="ID")
@click.option("--at", "at_seq", type=click.IntRange(0), default=None,
              help="The sequence number to fork at (default: the newest).")
@click.option("--name", default=None, help="The new session's name (default: the source's).")
@click.option("--json", "as_json", is_flag=True, help="Print the new session as JSON.")
@click.pass_obj
def fork(opts: Options, session_id: str, at_seq: int | None, name: str | None,
         as_json: bool) -> None:
    """Create a session with another's state and artifacts as of a sequence number."""
    from llmspell.replay import fork_session

    with handle_errors(opts.verbose), opts.runtime() as rt:
        made = fork_session(rt, resolve(rt.sessions, session_id), at_seq, name=name)
    if as_json:
        echo_json(made.to_dict())
    else:
        click.echo(f"{made.id} forked from {made.parent_session_id} at seq "
                   f"{made.metadata['forked_at']}")


class _Pauser:
    """Step mode on the terminal: show the entry and the state, wait for a key."""

    def __init__(self, everywhere: bool) -> None:
        self.everywhere = everywhere
        self.running = False

    def __call__(self, entry: dict[str, Any], state: dict[str, Any]) -> str | None:
        if self.running and not self.everywhere:
            return None
        echo(f"[seq {entry['seq']}] {entry['kind']} {_text(entry['data'])[:300]}", err=True)
        echo(f"  state: {_text(state)[:300]}", err=True)
        answer = click.prompt("  (Enter) next  (c) continue  (q) quit", default="",
                              show_default=False, err=True).strip().lower()
        if answer == "q":
            return "stop"
        if answer == "c":
            self.running = True
            self.everywhere = False
        return None


@click.command()
@click.argument("session_id", metavar="ID")
@click.option("--mode", type=click.Choice(("exact", "live")), default="exact",
              show_default=True, help="exact: calls served from the journal; live: made and "
              "compared.")
@click.option("--script", "script_path", type=click.Path(dir_okay=False), default=None,
              help="Run this Lua file instead of the recorded script (where does it diverge?).")
@click.option("--step", is_flag=True, help="Pause at each recorded entry (or at --break).")
@click.option("--break", "breaks", multiple=True, metavar="KIND|SEQ",
              help="Pause at entries of this kind or at this seq (repeatable; implies --step).")
@click.option("--stop-on-difference", is_flag=True,
              help="Live mode: stop at the first difference.")
@click.option("--no-keep", is_flag=True, help="Delete the replay session afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def replay(opts: Options, session_id: str, mode: str, script_path: str | None, step: bool,
           breaks: tuple[str, ...], stop_on_difference: bool, no_keep: bool,
           as_json: bool) -> None:
    """Replay a recorded session into a new one; exit 1 unless it is identical."""
    from llmspell.replay import replay_session

    script = None
    if script_path is not None:
        path = Path(script_path)
        if not path.is_file():
            fail(f"no such script: {script_path}", EXIT_USAGE)
        script = path.read_bytes()
    stepping = step or bool(breaks)
    with handle_errors(opts.verbose), opts.runtime() as rt, \
            progress_bar(not as_json and not stepping) as report_progress:
        report = replay_session(
            rt, resolve(rt.sessions, session_id), mode=mode, script=script,
            breakpoints=list(breaks) or None,
            on_break=_Pauser(everywhere=not breaks) if stepping else None,
            progress=report_progress, stop_on_error=stop_on_difference, keep=not no_keep)
    data = report.to_dict()
    if as_json:
        echo_json(data)
    else:
        _print_report(data)
    if not report.identical:
        sys.exit(EXIT_SCRIPT)


def _print_report(data: dict[str, Any]) -> None:
    echo(f"replay {data['status']}: session {data['session_id'] or '-'} replayed "
         f"{data['source_session_id']} ({data['mode']}, {data['runs']} run(s), "
         f"{data['entries']} entries)")
    echo(f"calls served from the journal: {data['calls_served']}, calls made: "
         f"{data['calls_made']}, inputs served: {data['inputs_served']}")
    divergence = data["divergence"]
    if divergence:
        echo(divergence["message"])
        echo(f"  expected: {_text(divergence['expected'])}")
        echo(f"  actual:   {_text(divergence['actual'])}")
        for d in divergence.get("differences") or ():
            echo(f"  {d['path']}: {d['description']}")
    for difference in data["differences"]:
        echo(f"difference at seq {difference.get('seq')} ({difference.get('kind')}):")
        for d in difference.get("differences") or ():
            echo(f"  {d['path']}: {d['description']}")
    for note in data["notes"]:
        echo(f"note: {note}")


for _command in (replay, fork, diff):
    session.add_command(_command)

COMMANDS: list[click.Command] = []
