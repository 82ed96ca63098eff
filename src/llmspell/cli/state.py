"""``llmspell state get|set|list|delete|export|import``: look at and change persistent state.

Values are shown as JSON with secrets redacted (``--reveal`` shows them); ``export`` is a data
copy and is never redacted. Bytes inside a value are shown as base64 text, their paths listed
under ``binary`` with ``--json``.
"""

from __future__ import annotations

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
)
from llmspell.cli.progress import progress_bar


@click.group(name="state")
def state() -> None:
    """Look at and change persistent state (scopes: global, agent:<id>, workflow:<id>, ...)."""


@state.command()
@click.argument("scope")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True,
              help="Print {scope, key, value, schema_version, created_at, updated_at, seq}.")
@click.option("--reveal", is_flag=True, help="Show secrets instead of [REDACTED].")
@click.pass_obj
def get(opts: Options, scope: str, key: str, as_json: bool, reveal: bool) -> None:
    """Print the value of KEY in SCOPE as JSON (exit 1 when there is none)."""
    from llmspell.codec import to_jsonable

    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        manager = rt.state
        record = manager.get_record(scope, key)
        if record is None:
            fail(f"no value at {scope} / {key}", EXIT_SCRIPT)
            return
        value = record.value if reveal else manager.redactor.redact(record.value)
        shown, binary = to_jsonable(value)
    if as_json:
        out: dict[str, Any] = {"scope": scope, "key": key, "value": shown}
        if binary:
            out["binary"] = binary
        out.update(schema_version=record.schema_version, created_at=record.created_at,
                   updated_at=record.updated_at, seq=record.seq)
        echo_json(out, redact=not reveal)
        return
    _print_json(shown)
    if binary:
        click.echo("(bytes shown as base64 at " + ", ".join(_path(p) for p in binary) + ")",
                   err=True)


@state.command(name="set")
@click.argument("scope")
@click.argument("key")
@click.argument("value", metavar="JSON")
@click.option("--json", "as_json", is_flag=True, help="Print {scope, key, seq}.")
@click.pass_obj
def set_(opts: Options, scope: str, key: str, value: str, as_json: bool) -> None:
    """Store the JSON value (or '-' to read it from stdin) under KEY in SCOPE."""
    text = sys.stdin.read() if value == "-" else value
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"error: argument 'JSON': must be a JSON value such as '\"text\"', 42 or "
             f"'{{\"a\": 1}}' ({exc})", EXIT_USAGE)
        return
    with handle_errors(opts.verbose), opts.runtime() as rt:
        seq = rt.state.save(scope, key, parsed)
    if as_json:
        echo_json({"scope": scope, "key": key, "seq": seq})
    elif seq is None:
        click.echo(f"not saved: a state:before_write hook skipped {scope} / {key}")
    else:
        click.echo(f"saved {scope} / {key} (change {seq})")


@state.command(name="list")
@click.argument("scope", required=False)
@click.option("--prefix", default=None, help="Only keys starting with this.")
@click.option("--json", "as_json", is_flag=True, help="Print [{scope, key}, ...].")
@click.pass_obj
def list_(opts: Options, scope: str | None, prefix: str | None, as_json: bool) -> None:
    """List the keys of SCOPE, or of every scope ("scope<TAB>key" lines)."""
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        manager = rt.state
        scopes = [scope] if scope is not None else manager.scopes()
        pairs = [(s, k) for s in scopes for k in manager.list_keys(s, prefix)]
    if as_json:
        echo_json([{"scope": s, "key": k} for s, k in pairs])
        return
    for s, k in pairs:
        echo(k if scope is not None else f"{s}\t{k}")


@state.command()
@click.argument("scope")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print {scope, key, deleted}.")
@click.pass_obj
def delete(opts: Options, scope: str, key: str, as_json: bool) -> None:
    """Delete KEY from SCOPE (a missing key is not an error)."""
    with handle_errors(opts.verbose), opts.runtime() as rt:
        deleted = rt.state.delete(scope, key)
    if as_json:
        echo_json({"scope": scope, "key": key, "deleted": deleted})
    else:
        click.echo(f"deleted {scope} / {key}" if deleted else f"no value at {scope} / {key}")


@state.command(name="export")
@click.option("--include", "includes", multiple=True, metavar="GLOB",
              help="Only scopes matching this glob (repeatable), e.g. --include 'agent:*'.")
@click.pass_obj
def export(opts: Options, includes: tuple[str, ...]) -> None:
    """Write every value as a JSON line to stdout (not redacted: it is a data copy)."""
    from llmspell.state.transfer import export_lines

    out = sys.stdout.buffer
    with handle_errors(opts.verbose), opts.runtime(read_only=True) as rt:
        for line in export_lines(rt.state, includes or None):
            out.write(line + b"\n")
    out.flush()


@state.command(name="import")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print {imported: N}.")
@click.pass_obj
def import_(opts: Options, file: Any, as_json: bool) -> None:
    """Save every value of FILE (JSON lines from `export`; '-' for stdin), all or none."""
    from llmspell.state.transfer import import_lines

    with handle_errors(opts.verbose), opts.runtime() as rt, \
            progress_bar(not as_json) as report:
        count = import_lines(rt.state, file, progress=report)
    if as_json:
        echo_json({"imported": count})
    else:
        click.echo(f"imported {count} value{'' if count == 1 else 's'}")


def _print_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def _path(path: list[str | int]) -> str:
    from llmspell.codec import format_path

    return format_path(tuple(path))


COMMANDS = [state]
