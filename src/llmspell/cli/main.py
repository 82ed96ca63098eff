"""The ``llmspell`` command: global options, exit codes, and the command groups.

Exit codes: 0 success; 1 the script failed (an uncaught Lua error or a limit reached);
2 wrong usage; 3 configuration error; 4 storage error; 5 a doctor check failed;
70 an unexpected internal error.

Secrets are hidden (:mod:`llmspell.redact`, with ``[state] redact_patterns``) in everything a
command prints, plain and ``--json``, on stdout and stderr, through the helpers here:
:func:`echo`, :func:`echo_json`, :func:`console`, :func:`fail`, :func:`notice` and the log
handler. Not redacted, because they are data copies or the script's own output:
``state export``, ``state get --reveal``, ``artifact cat``, and what a script prints or returns
(``run``/``exec --json``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import click

from llmspell import __version__
from llmspell.errors import (
    ConfigError,
    LLMSpellError,
    ScriptError,
    StorageError,
    ValidationError,
)
from llmspell.redact import DEFAULT, Redactor, install_log_redaction

EXIT_SCRIPT = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_STORAGE = 4
EXIT_CHECK = 5
EXIT_INTERNAL = 70


@dataclass
class Options:
    """What the global options asked for; commands build the Runtime from it."""

    config_path: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    verbose: int = 0
    _config: Any = field(default=None, repr=False)
    _redactor: Redactor | None = field(default=None, repr=False)

    def redactor(self) -> Redactor:
        """What hides secrets in this command's output: the built-in rules plus ``[state]
        redact_patterns`` once the configuration is loaded (the built-in rules alone while
        a pattern does not compile: the command reports that error through this)."""
        if self._redactor is None:
            if self._config is None:
                return DEFAULT
            try:
                self._redactor = Redactor(self._config.state.redact_patterns)
            except ValidationError:
                return DEFAULT
        return self._redactor

    def load_config(self) -> Any:
        """The configuration, loaded once per command; its notices (keys accepted but
        ignored, mapped values) go to stderr, one line each, whatever the command."""
        from llmspell.config import load_config

        if self._config is None:
            self._config = load_config(self.config_path, overrides=self.overrides,
                                       notify=notice)
            if not self.verbose:  # -v / -vv win over [runtime] log_level
                apply_log_level(self._config.runtime.log_level)
        return self._config

    def runtime(self, *, read_only: bool = False) -> Any:
        """The Runtime of this command's configuration. ``read_only``: the command only
        reads, so a store that does not exist yet is not created: the command runs on an
        empty in-memory store instead and a notice says where the store would be and how
        the project was found."""
        from llmspell.runtime import Runtime

        config = self.load_config()
        if read_only and (missing := missing_store(config)) is not None:
            from dataclasses import replace

            project = config.project.describe() if config.project else str(Path.cwd())
            notice(f"no store yet at {relative(Path(missing))} (project {project}): "
                   "nothing to show; a command that writes creates it")
            config = replace(config, storage=replace(config.storage, url="memory://"))
        return Runtime(config)


def missing_store(config: Any) -> str | None:
    """The path of the configured file store when it does not exist yet, else None (it
    exists, or the store is not a local file: memory, PostgreSQL)."""
    from llmspell.storage import store_location

    location = store_location(config.storage.url)
    if location is None or Path(location).exists():
        return None
    return location


def parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    """``--set table.key=value`` pairs; the value is read as TOML (bare words are strings)."""
    import tomllib

    from llmspell.codec import MAX_DEPTH, check_nesting, too_deep
    from llmspell.errors import InvalidValue

    found: dict[str, Any] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected TABLE.KEY=VALUE, got {item!r}", param_hint="--set")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        except RecursionError:  # far past the depth limit; the parser gave up
            raise click.BadParameter(str(too_deep(key.strip(), (0,) * (MAX_DEPTH + 1))),
                                     param_hint="--set") from None
        # Whether the parser gives up depends on the interpreter's recursion limit, which
        # other code may have raised: the codec's nesting rule decides, not the stack.
        try:
            check_nesting(value, argument=key.strip())
        except InvalidValue as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None
        found[key.strip()] = value
    return found


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="llmspell")
@click.option("--config", "-c", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: $LLMSPELL_CONFIG, else ./llmspell.toml).")
@click.option("--set", "sets", multiple=True, metavar="TABLE.KEY=VALUE",
              help="Override one config key, e.g. --set engines.lua.sandbox=full.")
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, sets: tuple[str, ...], verbose: int) -> None:
    """llmspell: run Lua scripts that drive LLM agents and tools, and keep what
    matters (state, sessions, artifacts) in a store that survives restarts."""
    ctx.obj = Options(config_path, parse_set(sets), verbose)
    install_log_redaction()
    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@contextmanager
def handle_errors(verbose: int = 0) -> Iterator[None]:
    """Turn llmspell errors into a one-line message on stderr and a meaningful exit code.

    The line names the error's class (``InvalidKey: argument 'key': ...``), as the same error
    does in Lua; a configuration error reads ``configuration error: FILE, table [t], key 'k':
    ...``."""
    from llmspell.lua.engine import ScriptExit

    try:
        yield
    except ScriptExit as exc:  # os.exit(code): the script chose its exit status
        sys.exit(exc.code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except ConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)
    except ScriptError as exc:
        fail(str(exc), EXIT_SCRIPT, detail=getattr(exc, "lua_traceback", "") if verbose else "")
    except StorageError as exc:
        fail(f"storage error: {type(exc).__name__}: {exc}", EXIT_STORAGE)
    except ValidationError as exc:  # the class (InvalidKey, ValueTooLarge, ...) as in Lua
        fail(f"{type(exc).__name__}: {exc}", EXIT_USAGE)
    except LLMSpellError as exc:
        fail(f"{type(exc).__name__}: {exc}", EXIT_SCRIPT)


class _Stderr(logging.Handler):
    """Log records on the command's stderr (looked up per record, as click does)."""

    def emit(self, record: logging.LogRecord) -> None:
        echo(f"llmspell: {record.levelname.lower()}: {self.format(record)}", err=True)


def apply_log_level(level: str) -> None:
    """Show ``llmspell`` log records at ``level`` and above on stderr for this command
    (``[runtime] log_level``); the logger is put back when the command ends."""
    log = logging.getLogger("llmspell")
    handler, previous = _Stderr(), log.level
    log.setLevel(level.upper())
    log.addHandler(handler)

    def restore() -> None:
        log.removeHandler(handler)
        log.setLevel(previous)

    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(restore)


def output_redactor() -> Redactor:
    """The redactor of the command running now (:meth:`Options.redactor`)."""
    context = click.get_current_context(silent=True)
    opts = context.find_object(Options) if context is not None else None
    return opts.redactor() if opts is not None else DEFAULT


def shown(value: Any) -> Any:
    """``value`` as a command may print it: with its secrets redacted."""
    return output_redactor().redact(value)


def echo(message: str, *, err: bool = False) -> None:
    """``click.echo`` of ``message`` with its secrets redacted."""
    click.echo(output_redactor().redact_text(message), err=err)


def notice(message: str) -> None:
    """Tell the user something on stderr that does not stop the command."""
    echo(f"llmspell: notice: {message}", err=True)


def fail(message: str, code: int, *, detail: str = "") -> None:
    """Say what went wrong on stderr (secrets redacted) and exit with ``code``."""
    echo(f"llmspell: {message}", err=True)
    if detail:
        echo(detail, err=True)
    sys.exit(code)


#: Fields that hold a point in time in the CLI's ``--json`` output (with every ``*_at``).
TIME_FIELDS = frozenset({"timestamp", "time", "started", "finished"})
#: Fields that hold a user's or a script's own values (or a record's payload, shown as it was
#: recorded): :func:`json_times` never rewrites what is inside them.
USER_VALUE_FIELDS = frozenset({"value", "values", "data", "input", "inputs", "output",
                               "outputs", "shared", "metadata", "result", "params", "state"})


def is_time_field(name: str) -> bool:
    """Whether a ``--json`` field called ``name`` holds a point in time."""
    return name.endswith("_at") or name in TIME_FIELDS


def json_times(value: Any) -> Any:
    """``value`` with every time field (:func:`is_time_field`, outside user values) in ISO 8601
    UTC as :func:`llmspell.journal.iso` writes it: seconds since the epoch, a ``datetime`` or
    another ISO 8601 spelling all come out as ``2026-08-01T12:00:00.000000Z``. The one place
    the CLI's ``--json`` times are formatted; the Python API keeps its own values."""
    if isinstance(value, dict):
        return {k: (_iso_time(v) if isinstance(k, str) and is_time_field(k)
                    else v if k in USER_VALUE_FIELDS else json_times(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_times(v) for v in value]
    return value


def _iso_time(value: Any) -> Any:
    from datetime import datetime

    from llmspell.journal import iso

    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return iso(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return iso(value.timestamp())
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return iso(parsed.timestamp()) if parsed.tzinfo is not None else value
    return value


def echo_json(value: Any, *, redact: bool = True, times: bool = True) -> None:
    """``value`` as indented JSON on stdout, with its secrets redacted unless ``redact`` is
    False (a script's own return value) and its times in ISO 8601 (:func:`json_times`) unless
    ``times`` is False (a script's own return value)."""
    import orjson

    if times:
        value = json_times(value)
    if redact:
        value = shown(value)
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str) + b"\n")
    sys.stdout.flush()


def parse_time(text: str | None) -> float | str | None:
    """A ``--since``/``--until`` value: epoch seconds as a float, else the text unchanged (an
    ISO 8601 time, checked by the API it is given to); None when the option was not given."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def note_first_page(shown: int, limit: int) -> None:
    """Say on stderr that a list stopped at ``limit`` (0: no limit) and how to see more."""
    if limit and shown == limit:
        click.echo(f"(first {limit}; use --limit/--offset for more)", err=True)


class _RedactedStream:
    """A text stream that hides secrets in what is written to it (a console's last line of
    defence: commands redact their data before rendering, where a terminal may fold it)."""

    def __init__(self, stream: Any, redactor: Redactor) -> None:
        self._stream, self._redactor = stream, redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor.redact_text(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(self._stream.isatty())

    def fileno(self) -> int:
        return int(self._stream.fileno())

    @property
    def encoding(self) -> str:
        return str(getattr(self._stream, "encoding", None) or "utf-8")


def console(*, stderr: bool = False) -> Any:
    """A rich console whose output has its secrets redacted; off a terminal (a pipe, a file)
    lines are never cut to 80 columns.

    Strings are printed as they are, never read as rich markup or highlighted: a tag
    ``[draft]``, a name ``report [v2].md`` or a detail ``table [state]`` is user data and
    shows whole in every table and line. Styling goes through :func:`styled` instead."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    file = cast(IO[str], _RedactedStream(stream, output_redactor()))
    return Console(file=file, soft_wrap=False, markup=False, highlight=False,
                   width=None if stream.isatty() else 10_000)


def styled(*parts: str | tuple[str, str]) -> Any:
    """A line for :func:`console` made of plain strings and ``(text, style)`` pairs (the
    only way a command styles its output: the text is never read as markup)."""
    from rich.text import Text

    return Text.assemble(*parts)


def register(command: Callable[..., Any]) -> None:
    cli.add_command(command)  # type: ignore[arg-type]


def _load_commands() -> None:
    from llmspell.cli import artifact as artifact_commands
    from llmspell.cli import backup as backup_commands
    from llmspell.cli import keys as keys_commands
    from llmspell.cli import migrate as migrate_commands
    from llmspell.cli import plugins as plugin_commands
    from llmspell.cli import prompt as prompt_commands
    from llmspell.cli import scripts, session_replay, setup
    from llmspell.cli import session as session_commands
    from llmspell.cli import state as state_commands
    from llmspell.cli import tool as tool_commands
    from llmspell.cli import web as web_commands
    from llmspell.cli import worker as worker_commands
    from llmspell.cli import workflow as workflow_commands

    for module in (scripts, setup, state_commands, session_commands, artifact_commands,
                   migrate_commands, backup_commands, keys_commands, prompt_commands,
                   tool_commands, workflow_commands, worker_commands, web_commands,
                   plugin_commands,
                   session_replay):  # session_replay adds to `session`
        for command in module.COMMANDS:
            register(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and of ``python -m llmspell``."""
    try:
        cli.main(args=argv, prog_name="llmspell", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # an internal bug: say so, with the type, and exit 70
        echo(f"llmspell: internal error: {type(exc).__name__}: {exc}", err=True)
        if "-v" in (argv or sys.argv) or "--verbose" in (argv or sys.argv):
            import traceback

            echo(traceback.format_exc().rstrip("\n"), err=True)
        sys.exit(EXIT_INTERNAL)


def relative(path: Path) -> str:
    """``path`` relative to the cwd when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# Last, after everything the command modules import from here (``relative`` included).
_load_commands()
