"""The interactive Lua prompt behind ``llmspell repl``.

Each complete chunk runs in the same Lua state, so globals persist between inputs, and so do
``local`` variables declared at the start of an input (``local x = 1`` then ``x + 1``): such a
declaration is run as an assignment to a global of that name, as users of interactive Lua
expect (a ``local`` inside a block stays local to it). An expression prints its value, a
table as a readable Lua table constructor; an unfinished chunk continues on a ``>>`` prompt.
``.help`` lists the commands and the globals; Tab completes global names and, after a dot
or colon, a global table's functions. History is kept in a file through ``readline`` when the
platform has it.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.cli.main import output_redactor
from llmspell.errors import LLMSpellError

PROMPT, MORE = "> ", ">> "
HISTORY_LINES = 1000
HELP = """\
.help    this text          .exit (or Ctrl-D)  leave
An expression prints its value; a statement runs; an unfinished one continues on >>.
`local x = ...` at the start of an input keeps x for the next inputs.
Tab completes globals and, after `Name.` or `Name:`, their functions.
Globals: {globals}"""
#: ``local name[, name] = ...`` / ``local function name`` at the start of an input.
_LOCAL = re.compile(r"^(\s*)local(\s+function\b|\s+(?=[A-Za-z_]))")
_ATTRIB = re.compile(r"<\s*const\s*>")
_GLOBALS = """local names = {}
for k, v in pairs(_G) do
  if type(k) == "string" then names[#names + 1] = k end
end
table.sort(names)
return names"""
_MEMBERS = """local t = _G[...]
local names = {}
if type(t) == "table" then
  for k in pairs(t) do
    if type(k) == "string" then names[#names + 1] = k end
  end
end
table.sort(names)
return names"""


def keep_locals(code: str) -> str:
    """``code`` with a ``local`` declaration at its start made global (see the module
    docstring): ``local function f`` runs as ``function f``, ``local a, b <const> = 1, 2``
    as ``a, b = 1, 2``, ``local x`` as ``x = nil``; a ``<close>`` variable stays local."""
    found = _LOCAL.match(code)
    if found is None:
        return code
    indent, rest = found.group(1), code[found.end():]
    if found.group(2).strip() == "function":
        return f"{indent}function {rest.lstrip()}"
    names, sep, value = rest.partition("=")
    if "<close>" in names.replace(" ", ""):
        return code
    names = _ATTRIB.sub("", names).rstrip()
    return f"{indent}{names} ={value}" if sep else f"{indent}{names} = nil"


def global_names(engine: Any) -> list[str]:
    names = engine.run_string(_GLOBALS, "=completion")
    return [str(n) for n in (names.values() if isinstance(names, dict) else names or [])]


def completions(engine: Any, text: str) -> list[str]:
    """What Tab offers for ``text``: global names, or ``Name.member`` / ``Name:member`` for
    the functions and fields of the global table ``Name``."""
    for sep in (":", "."):
        if sep in text:
            table, _, start = text.rpartition(sep)
            if not table.isidentifier():
                return []
            found = engine.run_string(f"return (function(...) {_MEMBERS} end)({table!r})",
                                      "=completion")
            members = found.values() if isinstance(found, dict) else found or []
            return [f"{table}{sep}{m}" for m in members if str(m).startswith(start)]
    return [name for name in global_names(engine) if name.startswith(text)]


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


def _setup_history(path: Path, engine: Any) -> Callable[[], None]:
    try:
        import readline
    except ImportError:  # not on every platform; the prompt still works without it
        return lambda: None
    offered: list[str] = []

    def complete(text: str, state: int) -> str | None:
        if state == 0:
            try:
                offered[:] = completions(engine, text)
            except LLMSpellError:
                offered[:] = []
        return offered[state] if state < len(offered) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" \t\n()[]{},;=+-*/%^#<>~\"'")
    readline.parse_and_bind("tab: complete")
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
    save_history = _setup_history(history, engine) if read is input else (lambda: None)
    if read is input and sys.stdin.isatty():
        out("llmspell repl (Lua 5.4). .help for help; Ctrl-D or .exit leaves.")
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
            if not buffer and line.strip() == ".help":
                out(HELP.format(globals=", ".join(
                    n for n in global_names(engine) if n[:1].isupper())))
                continue
            if not buffer and not line.strip():
                continue
            buffer.append(line)
            kind, chunk = classify(check, keep_locals("\n".join(buffer)))
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


def show(value: Any, *, width: int = 78) -> str:
    """A result as the prompt prints it: Lua's spelling for scalars, a table as a Lua table
    constructor (``{1, 2, name = "x"}``), on one line when it fits in ``width``, else one
    field per line, indented."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return _lua(value, width, 0)


def _lua(value: Any, width: int, depth: int) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bytes):
        return _quote(value.decode("utf-8", "replace"))
    if isinstance(value, list | tuple):
        items = [_lua(v, width, depth + 1) for v in value]
    elif isinstance(value, dict):
        items = [f"{k} = {_lua(v, width, depth + 1)}" if isinstance(k, str) and
                 k.isidentifier() else f"[{_lua(k, width, depth + 1)}] = "
                 f"{_lua(v, width, depth + 1)}" for k, v in value.items()]
    else:
        return str(value)
    if not items:
        return "{}"
    flat = "{" + ", ".join(items) + "}"
    if len(flat) + 2 * depth <= width and "\n" not in flat:
        return flat
    pad = "  " * (depth + 1)
    return "{\n" + ",\n".join(pad + item for item in items) + "\n" + "  " * depth + "}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
