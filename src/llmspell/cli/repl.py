"""The interactive Lua prompt behind ``llmspell repl``.

Each complete chunk runs in the same Lua state, so globals persist between inputs (``local``
variables last for one chunk, as in the standard ``lua`` prompt). An expression prints its
value; an unfinished chunk continues on a ``>>`` prompt; history is kept in a file through
``readline`` when the platform has it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.cli.main import output_redactor
from llmspell.errors import LLMSpellError

PROMPT, MORE = "> ", ">> "
HISTORY_LINES = 1000


def classify(check: Callable[[str], Any], code: str) -> tuple[str, str]:
    """How to run ``code``: ("expr", chunk), ("stmt", chunk), ("more", "") or ("error", msg).

    ``check(src)`` compiles ``src`` without running it and returns None when it compiles, else
    Lua's message. An input that compiles as ``return <input>`` is an expression.
    """
    if check("return " + code) is None:
        return "expr", "return " + code
    message = check(code)
    if message is None:
        return "stmt", code
    if message.rstrip().endswith("<eof>"):
        return "more", ""
    return "error", message


def _setup_history(path: Path) -> Callable[[], None]:
    try:
        import readline
    except ImportError:  # not on every platform; the prompt still works without it
        return lambda: None
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with contextlib.suppress(OSError):  # an unreadable history is not worth failing
            readline.read_history_file(str(path))
    readline.set_history_length(HISTORY_LINES)

    def save() -> None:
        with contextlib.suppress(OSError):
            readline.write_history_file(str(path))

    return save


def run_repl(engine: Any, history: Path, *, read: Callable[[str], str] = input,
             write: Callable[[str], None] | None = None) -> None:
    """Read, run and print until end of input or ``.exit``."""
    out = write or (lambda text: print(text, flush=True))
    check = engine.syntax_error
    save_history = _setup_history(history) if read is input else (lambda: None)
    if read is input and sys.stdin.isatty():
        out("llmspell repl (Lua 5.4). Ctrl-D or .exit leaves; an expression prints its value.")
    buffer: list[str] = []
    try:
        while True:
            try:
                line = read(MORE if buffer else PROMPT)
            except EOFError:
                break
            except KeyboardInterrupt:
                out("")
                buffer.clear()
                continue
            if not buffer and line.strip() in (".exit", ".quit"):
                break
            if not buffer and not line.strip():
                continue
            buffer.append(line)
            kind, chunk = classify(check, "\n".join(buffer))
            if kind == "more":
                continue
            buffer.clear()
            if kind == "error":
                out(f"syntax error: {chunk}")
                continue
            try:
                result = engine.run_string(chunk, "stdin")
            except LLMSpellError as exc:
                out(f"error: {output_redactor().redact_text(str(exc))}")
                continue
            if kind == "expr" and result is not None:
                values = result if isinstance(result, tuple) else (result,)
                out("\t".join(show(v) for v in values))
    finally:
        save_history()


def show(value: Any) -> str:
    """A result as the prompt prints it: Lua's spelling for scalars, JSON for tables."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        import orjson

        return orjson.dumps(value, default=repr).decode()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
