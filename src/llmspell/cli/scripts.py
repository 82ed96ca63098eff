"""``llmspell run``, ``exec`` and ``repl``: run Lua with the runtime's globals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from llmspell.cli.main import EXIT_USAGE, Options, echo, echo_json, fail, handle_errors


def _engine(runtime: Any, args: tuple[str, ...], name: str) -> Any:
    from llmspell.lua.engine import LuaEngine

    return LuaEngine(runtime, args=list(args), script_name=name)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Print the script's return value as JSON.")
@click.option("--record", is_flag=True,
              help="Record the run in a new session, so it can be replayed.")
@click.option("--session", "session_ref", default=None, metavar="ID",
              help="Record the run in this active session (a fork, say).")
@click.pass_obj
def run(opts: Options, script: str, args: tuple[str, ...], as_json: bool, record: bool,
        session_ref: str | None) -> None:
    """Run a Lua SCRIPT; ARGS (after the script, or after --) reach it as ARGS."""
    path = Path(script)
    if not path.is_file():
        fail(f"no such script: {script}", EXIT_USAGE)
    if args and args[0] == "--":
        args = args[1:]
    with handle_errors(opts.verbose), opts.runtime() as rt:
        if record or session_ref is not None:
            result = _recorded(rt, path, args, session_ref)
        else:
            engine = _engine(rt, args, path.name)
            try:
                result = engine.run_file(path)
            finally:
                engine.close()
    if as_json:
        echo_json(result, redact=False)  # the script's own output, like its print


def _recorded(rt: Any, path: Path, args: tuple[str, ...], session_ref: str | None) -> Any:
    """Run ``path`` recorded (llmspell.replay.record_run); its error is raised after."""
    from llmspell.cli.session import resolve
    from llmspell.replay import record_run

    sid = None if session_ref is None else resolve(rt.sessions, session_ref)
    source = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    if source.startswith(b"#"):
        newline = source.find(b"\n")
        source = b"" if newline < 0 else b"--" + source[newline:]
    done = record_run(rt, source, name=str(path), args=args, session=sid)
    echo(f"recorded in session {done.session.id}", err=True)
    if done.error is not None:
        raise done.error
    return done.value


@click.command(name="exec")
@click.argument("code")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Print the chunk's return value as JSON.")
@click.pass_obj
def exec_(opts: Options, code: str, args: tuple[str, ...], as_json: bool) -> None:
    """Run the Lua CODE given on the command line."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        engine = _engine(rt, args, "<exec>")
        try:
            result = engine.run_string(code, "<exec>")
        finally:
            engine.close()
    if as_json:
        echo_json(result, redact=False)


@click.command()
@click.option("--history", type=click.Path(dir_okay=False),
              help="History file (default: <data_dir>/repl_history).")
@click.pass_obj
def repl(opts: Options, history: str | None) -> None:
    """An interactive Lua prompt with the runtime's globals, history and multi-line input."""
    from llmspell.cli.repl import run_repl

    with handle_errors(opts.verbose), opts.runtime() as rt:
        engine = _engine(rt, (), "stdin")
        try:
            path = Path(history) if history else rt.config.runtime.data_dir / "repl_history"
            run_repl(engine, path)
        finally:
            engine.close()


COMMANDS = [run, exec_, repl]
