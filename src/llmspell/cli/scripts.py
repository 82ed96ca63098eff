"""``llmspell run``, ``exec`` and ``repl``: run Lua with the runtime's globals."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from llmspell.cli.main import EXIT_SCRIPT, EXIT_USAGE, Options, echo, echo_json, fail, handle_errors


def _engine(runtime: Any, args: tuple[str, ...], name: str) -> Any:
    from llmspell.lua.engine import LuaEngine

    return LuaEngine(runtime, args=list(args), script_name=name)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("script", type=click.Path(dir_okay=False, allow_dash=True))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--json", "as_json", is_flag=True, help="Print the script's return value as JSON.")
@click.option("--record", is_flag=True,
              help="Record the run in a new session, so it can be replayed.")
@click.option("--session", "session_ref", default=None, metavar="ID",
              help="Record the run in this active session (a fork, say).")
@click.option("--queue", "queued", is_flag=True,
              help="Queue the run for `llmspell worker` processes (PostgreSQL store) and print "
                   "the job id instead of running it here.")
@click.option("--queue-name", default=None, metavar="NAME",
              help="The queue (default [workers] queue).")
@click.option("--wait", "wait_seconds", type=float, default=None, metavar="SECONDS",
              help="With --queue: wait this long for the job to finish and print its result.")
@click.pass_obj
def run(opts: Options, script: str, args: tuple[str, ...], as_json: bool, record: bool,
        session_ref: str | None, queued: bool, queue_name: str | None,
        wait_seconds: float | None) -> None:
    """Run a Lua SCRIPT (``-``: read it from stdin); ARGS after the script reach it as ARGS.
    ``--json`` may come after the script too; everything after ``--`` is the script's."""
    args, as_json = _own_options(args, as_json)
    if not queued and (queue_name is not None or wait_seconds is not None):
        fail("--queue-name and --wait go with --queue", EXIT_USAGE)
    if script == "-":
        if record or session_ref is not None or queued:
            fail("--record, --session and --queue need a script file, not '-'", EXIT_USAGE)
        _run_code(opts, sys.stdin.read(), "<stdin>", args, as_json)
        return
    path = Path(script)
    if not path.is_file():
        fail(f"no such script: {script}", EXIT_USAGE)
    if queued:
        if record or session_ref is not None:
            fail("--queue cannot be combined with --record or --session", EXIT_USAGE)
        _enqueue(opts, path, args, queue_name, wait_seconds, as_json)
        return
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
        echo_json(result, redact=False, times=False)  # the script's own output, like its print


def _enqueue(opts: Options, path: Path, args: tuple[str, ...], queue_name: str | None,
             wait_seconds: float | None, as_json: bool) -> None:
    """``run --queue``: put the script on the job queue; with ``--wait``, print the outcome."""
    import time

    from llmspell.storage.jobs import JobQueue
    from llmspell.workers.submit import script_payload

    with handle_errors(opts.verbose), opts.runtime() as rt:
        name = queue_name or rt.config.setting("workers.queue")
        jobs = JobQueue(rt.store)
        try:
            job_id = jobs.enqueue("script", script_payload(path, args), queue=name,
                                  max_attempts=rt.config.setting("workers.max_attempts"))
            found = jobs.get(job_id)
            if wait_seconds is not None:
                deadline = time.monotonic() + wait_seconds
                while found and found["status"] not in ("done", "failed") \
                        and time.monotonic() < deadline:
                    time.sleep(0.05)
                    found = jobs.get(job_id)
        finally:
            jobs.close()
    assert found is not None
    if as_json:
        echo_json(found, redact=False)
    elif wait_seconds is None or found["status"] not in ("done", "failed"):
        echo(f"queued job {job_id} on {name} ({found['status']})")
    else:
        echo(f"job {job_id} {found['status']}"
             + (f": {found['error']}" if found["error"] else ""))
    if found["status"] == "failed":
        raise SystemExit(EXIT_SCRIPT)


def _own_options(args: tuple[str, ...], as_json: bool) -> tuple[tuple[str, ...], bool]:
    """``run``'s own ``--json`` when it comes after the script (before any ``--``), and the
    script's arguments without it and without the ``--`` separator."""
    mine = args.index("--") if "--" in args else len(args)
    head, tail = args[:mine], args[mine + 1:]
    if "--json" in head:
        as_json = True
        head = tuple(a for a in head if a != "--json")
    return (*head, *tail), as_json


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
    _run_code(opts, code, "<exec>", args, as_json)


def _run_code(opts: Options, code: str, name: str, args: tuple[str, ...],
              as_json: bool) -> None:
    """Run a chunk of Lua (``exec``, ``run -``) and print its value with ``as_json``."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        engine = _engine(rt, args, name)
        try:
            result = engine.run_string(code, name)
        finally:
            engine.close()
    if as_json:
        echo_json(result, redact=False, times=False)


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
