"""``llmspell tool list|show|invoke``: the tools of the runtime, from the shell.

``invoke NAME --params JSON`` runs the tool through ``rt.tools`` (security, hooks, journal);
``--session ID`` records the call in that session. ``--json`` prints machine-readable output.
"""

from __future__ import annotations

from typing import Any

import click
import orjson

from llmspell.cli.main import EXIT_USAGE, Options, console, echo_json, fail, handle_errors


@click.group()
def tool() -> None:
    """List, inspect and call tools."""


@tool.command("list")
@click.option("--category", default=None, help="Only tools of this category.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tool_list(opts: Options, category: str | None, as_json: bool) -> None:
    """Every tool: name, category, security level, whether it works here."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        found = rt.tools.discover({"category": category} if category else None)
        rows = [{k: v for k, v in t.info().items() if k != "parameters"} for t in found]
        if as_json:
            echo_json(rows)
            return
        from rich.table import Table

        table = Table("name", "category", "level", "available", "description")
        for row in rows:
            table.add_row(row["name"], row["category"], row["security_level"],
                          "yes" if row["available"] else f"no: {row['unavailable_reason']}",
                          row["description"])
        console().print(table)


@tool.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def tool_show(opts: Options, name: str, as_json: bool) -> None:
    """One tool's description and parameter schema."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        info = rt.tools.get(name).info()
        if as_json:
            echo_json(info)
            return
        for key in ("name", "description", "category", "security_level", "timeout",
                    "available", "unavailable_reason"):
            click.echo(f"{key}: {info[key]}")
        click.echo("parameters:")
        click.echo(orjson.dumps(info["parameters"], option=orjson.OPT_INDENT_2).decode())


@tool.command("invoke")
@click.argument("name")
@click.option("--params", "params_text", default="{}", metavar="JSON",
              help="The parameters as a JSON object.")
@click.option("--session", "session_id", default=None, help="Journal the call in this session.")
@click.option("--json", "as_json", is_flag=True, help="Print {text, result, metadata} as JSON.")
@click.pass_obj
def tool_invoke(opts: Options, name: str, params_text: str, session_id: str | None,
                as_json: bool) -> None:
    """Call tool NAME with --params and print its result."""
    try:
        params: Any = orjson.loads(params_text)
    except orjson.JSONDecodeError as exc:
        fail(f"error: --params is not valid JSON: {exc}", EXIT_USAGE)
    if not isinstance(params, dict):
        fail("error: --params must be a JSON object such as '{\"input\": \"1+2\"}'", EXIT_USAGE)
    with handle_errors(opts.verbose), opts.runtime() as rt:
        if session_id is not None:
            session_id = rt.sessions.get(session_id).id
        out = rt.tools.invoke(name, params, session_id=session_id)
        if as_json:
            echo_json(out.to_dict())
        else:
            click.echo(out.text)


COMMANDS = [tool]
