"""``llmspell workflow list|show|resume|cancel``: durable workflow runs, from the shell.

``list`` shows the recorded runs (newest first; ``--status``, ``--workflow``, ``--limit``);
``show ID`` one run with its steps; ``resume ID`` finishes an interrupted or failed run whose
workflow has no function steps (one with Lua or Python code is resumed by the script that
defines it: ``Workflow.resume(id)``); ``cancel ID`` stops a run before its next step.
``--json`` prints machine-readable output. A run that does not complete exits 1.
"""

from __future__ import annotations

from typing import Any

import click
import orjson

from llmspell.cli.main import EXIT_SCRIPT, Options, console, echo_json, fail, handle_errors
from llmspell.workflows.record import STATUSES


@click.group()
def workflow() -> None:
    """List, inspect, resume and cancel durable workflow runs."""


@workflow.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only runs in it.")
@click.option("--workflow", "name", default=None, help="Only runs of this workflow.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="At most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def workflow_list(opts: Options, status: str | None, name: str | None, limit: int | None,
                  as_json: bool) -> None:
    """Recorded workflow runs, newest first."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        rows = rt.workflows.runs(status=status, workflow=name, limit=limit)
        if as_json:
            echo_json(rows)
            return
        from rich.table import Table

        table = Table("run id", "workflow", "kind", "status", "steps done", "started")
        for row in rows:
            table.add_row(row["run_id"], row["workflow"], row["kind"], row["status"],
                          str(row["steps_done"]), _time(row["started_at"]))
        console().print(table)


@workflow.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def workflow_show(opts: Options, run_id: str, as_json: bool) -> None:
    """One run: status, input, output, error and its recorded steps."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        found = rt.workflows.run(run_id)
        if as_json:
            echo_json(found)
            return
        for key in ("run_id", "workflow", "kind", "status", "steps_done"):
            click.echo(f"{key}: {found[key]}")
        click.echo(f"session_id: {found['session_id'] or '- (not run in a session)'}")
        click.echo(f"started: {_time(found['started_at'])}")
        click.echo(f"finished: {_time(found['finished_at'])}")
        if found["error"]:
            click.echo(f"error: {found['error']['message']}")
        click.echo(f"output: {_text(found['output'])}")
        click.echo("steps:")
        for step in found["steps"]:
            line = f"  {step['path']}\t{step['status']}\tattempts={step['attempts']}"
            line += f"\t{step['duration_ms']} ms"
            if step["error"]:
                line += f"\terror: {step['error']}"
            click.echo(line)


@workflow.command("resume")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def workflow_resume(opts: Options, run_id: str, as_json: bool) -> None:
    """Finish run RUN_ID: completed steps are not run again."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        result = rt.workflows.resume(run_id)
        _report(result, as_json)


@workflow.command("cancel")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def workflow_cancel(opts: Options, run_id: str, as_json: bool) -> None:
    """Cancel run RUN_ID (a run going on stops before its next step)."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        done = rt.workflows.cancel(run_id)
        if as_json:
            echo_json(done)
            return
        line = (f"cancelled {done['run_id']}; steps that had completed: "
                + (", ".join(done["steps_completed"]) or "none"))
        if done["steps_failed"]:
            line += "; failed: " + ", ".join(done["steps_failed"])
        click.echo(line)


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(result)
    else:
        replayed = result["metadata"]["replayed_steps"]
        click.echo(f"{result['run_id']}: {result['status']} ({replayed} step(s) served from "
                   f"the record, {len(result['steps_ran'])} run now)")
        click.echo(f"output: {_text(result['output'])}")
    if not result["success"]:
        message = result["error"]["message"] if result["error"] else result["status"]
        fail(f"error: workflow {result['status']}: {message}", EXIT_SCRIPT)


def _time(value: float | None) -> str:
    if value is None:
        return "-"
    import datetime

    return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


COMMANDS = [workflow]
