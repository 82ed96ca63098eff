"""LuaEngine: one Lua 5.4 state (lupa) per script run, wired to a Runtime.

The engine builds a fresh ``lupa.lua54.LuaRuntime`` (no ``python.eval``, no builtins, no
attribute access on Python objects, strings as bytes so :mod:`llmspell.lua.convert` decides),
loads the prelude, installs the limits, ``print``, the sandbox and the globals, then runs
scripts::

    with LuaEngine(runtime, args=["--topic=rust"], script_name="quickstart.lua") as engine:
        result = engine.run_file("examples/quickstart.lua")

An uncaught Lua error raises :class:`~llmspell.errors.ScriptError` whose message starts with
``script:line:``; a limit raises :class:`~llmspell.errors.ScriptLimitExceeded`; ``os.exit(n)``
raises :class:`ScriptExit`; Ctrl-C raises ``KeyboardInterrupt``. One engine is used by one
thread at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from lupa import lua54

from llmspell.bounded import BoundedCache
from llmspell.errors import ScriptError, ScriptLimitExceeded, ValidationError
from llmspell.lua.bridge import StopScript, error_text, guard
from llmspell.lua.chunks import SHOWN_PREFIX, is_bundled, run_chunk
from llmspell.lua.console import install_console
from llmspell.lua.convert import Converter, LuaFunction, describe_lua
from llmspell.lua.globals import INSTALLERS
from llmspell.lua.limits import INTERRUPTED, PREFIX, Limits, headroom_for
from llmspell.lua.prelude import load_core
from llmspell.lua.sandbox import apply_sandbox
from llmspell.workflows.home import route

_POSITION = re.compile(r"^((?:(?!: )[^\n])*?):(\d+): ")
_REMEMBERED = 32  # Python errors kept to chain as the cause of an uncaught Lua error

def _clean_traceback(text: str) -> str:
    """A Lua traceback without the bridge's own frames."""
    lines = [line for line in text.splitlines() if SHOWN_PREFIX not in line]
    if lines and lines[-1].strip() == "[C]: in function 'xpcall'":
        lines.pop()
    return "\n".join(lines)


class ScriptExit(Exception):
    """The script called ``os.exit(code)``: it asked to end, with ``code`` as exit status."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"the script called os.exit({code})")


def _no_attributes(obj: Any, name: Any, *value: Any) -> Any:
    raise AttributeError("Lua scripts cannot access attributes of Python objects")


class LuaEngine:
    """A Lua state for running scripts against ``runtime`` (see the module docstring).

    ``args`` become ``ARGS``; ``script_name`` is ``ARGS[0]`` and the name of code run with
    :meth:`run_string` when none is given.
    """

    def __init__(self, runtime: Any, *, args: Sequence[str] = (),
                 script_name: str = "<exec>") -> None:
        self.runtime = runtime
        self.config = runtime.config
        self.args = list(args)
        self.script_name = script_name
        settings = self.config.lua
        self._depth = 0
        self._exit_code: int | None = None
        self._python_errors: BoundedCache[str, BaseException] = BoundedCache(_REMEMBERED)
        self._closed = False
        self._on_close: list[Callable[[], None]] = []
        memory = settings.max_memory_bytes
        self.lua: Any = lua54.LuaRuntime(
            register_eval=False, register_builtins=False, unpack_returned_tuples=True,
            encoding=None, max_memory=memory + headroom_for(memory) if memory else 0,
            attribute_handlers=(_no_attributes, _no_attributes))
        self.core: Any = load_core(self.lua)
        # The prelude's functions a run calls, held: each lookup in a Lua table from Python
        # costs ~7k instructions (callgrind), four per run.
        self._xpcall, self._handler = self.core.xpcall, self.core.handler
        self._sethook, self._flush = self.core.sethook, self.core.flush
        self._loaded = self.lua.eval(b"package.loaded")
        globals_ = self.lua.globals()
        globals_[b"python"] = None
        self._loaded[b"python"] = None
        self.limits = Limits(self.lua, self.core, max_instructions=settings.max_instructions,
                             timeout_seconds=settings.timeout_seconds, max_memory_bytes=memory)
        self.converter = Converter(self.lua, self.core, self.call,
                                   room=self.limits.room if memory else None,
                                   full=self.limits.full, max_bytes=memory or None)
        install_console(self)
        apply_sandbox(self, settings.sandbox)
        for install in INSTALLERS:
            install(self)

    # -- building blocks for the globals ---------------------------------------------

    def function(self, fn: Callable[..., Any], name: str, *, functions: bool = False) -> Any:
        """A Lua function that calls ``fn`` through the bridge (see :mod:`.bridge`)."""
        return self.core.wrap(guard(fn, name, self.converter, self.limits,
                                    on_error=self._remember, functions=functions))

    def install_global(self, name: str, functions: Mapping[str, Callable[..., Any]],
                       lua_wrapper: str | None = None, *, takes_functions: Collection[str] = (),
                       unavailable: BaseException | None = None) -> Any:
        """Install the Lua global ``name`` and return its table. Every global is installed
        this way (``ARGS``, which holds no functions, aside).

        Args:
            functions: the global's Python functions by key; each is called through the
                bridge (:func:`~llmspell.lua.bridge.guard`) and named ``name.key`` in errors.
            lua_wrapper: a file in ``llmspell/lua/scripts/`` that builds the table: it is
                called with ``py`` (the functions through the bridge, by key), ``core`` (the
                prelude's table) and ``raw`` (the bare Python halves, for a hot path that calls
                ``core.check(raw.f(...))``, one Lua call less) and returns the table. Without
                one, the table holds the functions through the bridge.
            takes_functions: the keys whose arguments may hold Lua functions.
            unavailable: why the subsystem behind the global is off (``[state] enabled =
                false``...), or None. When given, every function of the table raises it,
                whatever its arguments; a script can catch it with ``pcall``.
        """
        raw = {key: guard(fn, f"{name}.{key}", self.converter, self.limits,
                          on_error=self._remember, functions=key in takes_functions)
               for key, fn in functions.items()}
        wrap = self.core.wrap
        py = self.lua.table_from({key.encode(): wrap(half) for key, half in raw.items()})
        if lua_wrapper is None:
            table = py
        else:
            table = run_chunk(self.lua, lua_wrapper, py, self.core,
                              self.lua.table_from({key.encode(): h for key, h in raw.items()}))
        if unavailable is not None:
            reason = unavailable

            def refuse(*args: Any) -> None:
                raise reason

            refusal = self.function(refuse, name)
            for key, value in list(table.items()):
                if lua54.lua_type(value) == "function":
                    table[key] = refusal
        self.lua.globals()[name.encode()] = table
        return table

    def set_global(self, name: str, value: Any) -> None:
        """Set a Lua global; ``value`` is converted (Lua functions pass through)."""
        self.lua.globals()[name.encode()] = self.converter.to_lua(value, name)

    def to_lua(self, value: Any, argument: str = "value") -> Any:
        return self.converter.to_lua(value, argument)

    def to_python(self, value: Any, argument: str = "value", *, functions: bool = False) -> Any:
        return self.converter.to_python(value, argument, functions=functions)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the engine closes (last registered first), before the Lua
        state goes: globals use it to drop their subscriptions and hooks."""
        self._on_close.append(callback)

    def run_bundled(self, file: str, *args: Any) -> Any:
        """Run a file of ``llmspell/lua/scripts/`` with ``args`` (see :mod:`.chunks`)."""
        return run_chunk(self.lua, file, *args)

    def request_exit(self, code: Any = None) -> None:
        """``os.exit([code])``: true/nil -> 0, false -> 1, an integer as is."""
        if code is None or code is True:
            status = 0
        elif code is False:
            status = 1
        elif isinstance(code, int):
            status = code
        else:
            raise ValidationError("code", f"os.exit takes true, false or an integer (got "
                                  f"{describe_lua(code)})")
        self._exit_code = status
        raise StopScript(f"os.exit({status})")

    # -- running ---------------------------------------------------------------------

    def run_string(self, code: str | bytes, name: str | None = None) -> Any:
        """Run Lua source. Returns the script's results: None, one value, or a tuple.

        Raises ScriptError (with ``script``, ``line`` and ``lua_traceback``),
        ScriptLimitExceeded, ScriptExit or KeyboardInterrupt.
        """
        name = name or self.script_name
        source = code.encode("utf-8") if isinstance(code, str) else code
        return self._run(source, b"=" + name.encode("utf-8"), name)

    def run_file(self, path: str | PathLike[str]) -> Any:
        """Run a Lua file (a ``#!`` first line and a UTF-8 BOM are skipped, as ``lua`` does)."""
        shown = str(path)
        try:
            source = Path(path).read_bytes()
        except OSError as exc:
            raise ScriptError(f"cannot read script {shown}: {exc.strerror or exc}",
                              script=shown) from exc
        source = source.removeprefix(b"\xef\xbb\xbf")
        if source.startswith(b"#"):
            newline = source.find(b"\n")
            source = b"" if newline < 0 else b"--" + source[newline:]
        return self._run(source, b"@" + shown.encode("utf-8"), shown)

    def syntax_error(self, code: str | bytes) -> str | None:
        """Lua's message if ``code`` does not compile, else None. Nothing runs.

        A message ending in ``<eof>`` means the chunk is unfinished (the REPL asks for more).
        """
        self._check_open()
        source = code.encode("utf-8") if isinstance(code, str) else code
        mode = b"t" if self.config.lua.sandbox == "safe" else b"bt"
        chunk, message = self._compile(source, b"=stdin", mode)
        if chunk is not None:
            return None
        return message.decode("utf-8", "replace") if message else "cannot load the chunk"

    def call(self, function: Any, *args: Any) -> Any:
        """Call a Lua function (a global's name, a LuaFunction, or a lupa function).

        Called from a thread that works for a workflow run (a parallel branch), the call runs
        on the run's home thread, the one that holds this Lua state
        (:mod:`llmspell.workflows.home`)."""
        return route(self._call_here, function, *args)

    def _call_here(self, function: Any, *args: Any) -> Any:
        self._check_open()
        if isinstance(function, str):
            target = self.lua.globals()[function.encode()]
            if lua54.lua_type(target) != "function":
                raise ValidationError("function", f"global {function!r} is not a function "
                                      f"(got {describe_lua(target)})")
        elif isinstance(function, LuaFunction):
            target = function.lua_function
        else:
            target = function
        values = [self.converter.to_lua(arg, f"#{i + 1}") for i, arg in enumerate(args)]
        return self._invoke(target, values, self.script_name)

    def _run(self, source: bytes, chunkname: bytes, script: str) -> Any:
        self._check_open()
        mode = b"t" if self.config.lua.sandbox == "safe" else b"bt"
        chunk, message = self._compile(source, chunkname, mode)
        if chunk is None:
            text = message.decode("utf-8", "replace") if message else "cannot load the chunk"
            raise self._located(ScriptError, text, None, None, "", script)
        return self._invoke(chunk, [], script)

    def _compile(self, source: bytes, chunkname: bytes, mode: bytes) -> tuple[Any, Any]:
        try:
            self.limits.ensure_room(2 * len(source) + len(chunkname))
            result = self.core.compile(source, chunkname, mode)
        except lua54.LuaMemoryError:
            raise ScriptLimitExceeded(self.limits.memory_message.removeprefix(PREFIX)) from None
        return result if isinstance(result, tuple) else (result, None)

    def _invoke(self, function: Any, args: list[Any], script: str) -> Any:
        outer = self._depth == 0
        if outer:
            self._exit_code = None
            self._python_errors.clear()
            self.limits.start()
        self._depth += 1
        try:
            try:
                outcome = self._xpcall(function, self._handler, *args)
            except lua54.LuaMemoryError:
                outcome = (False, b"not enough memory")
            except lua54.LuaError as exc:
                outcome = (False, str(exc).encode("utf-8", "replace"))
            if outer:
                self._sethook()  # a C function: safe even if the hook has tripped
            if not isinstance(outcome, tuple):
                outcome = (outcome,)
            record = None if outcome[0] else self._record(outcome[1])
            stop = self._stopped(record, script) if outer else None
            if stop is not None:
                raise stop
            if record is not None:
                raise self._failure(record, script)
            try:
                results = [self.converter.to_python(value, "result", functions=True)
                           for value in outcome[1:]]
            except ValidationError as exc:
                raise ScriptError(f"{script}: the script's result cannot be converted: {exc}",
                                  script=script) from exc
        finally:
            self._depth -= 1
            if outer:
                self.limits.finish()
            if outer and not self._closed:
                self.limits.open_headroom()  # Python is in charge again until the next run
                self._flush()
        if not results:
            return None
        return results[0] if len(results) == 1 else tuple(results)

    # -- errors ----------------------------------------------------------------------

    @staticmethod
    def _record(packed: Any) -> tuple[str, Any, Any, str]:
        """(message, source, line, traceback) of a failed run."""
        if lua54.lua_type(packed) != "table":  # out of memory, or the handler itself failed
            text = packed if isinstance(packed, bytes) else str(packed).encode()
            return text.decode("utf-8", "replace"), None, None, ""
        return (packed[b"message"].decode("utf-8", "replace"), packed[b"source"],
                packed[b"line"], packed[b"traceback"].decode("utf-8", "replace"))

    def _stopped(self, record: tuple[str, Any, Any, str] | None,
                 script: str) -> BaseException | None:
        """The exception for a run that was stopped (exit, interrupt, limit), if it was."""
        if self._exit_code is not None:
            return ScriptExit(self._exit_code)
        tripped = self.limits.tripped()
        if self.limits.interrupted or tripped == INTERRUPTED:
            return KeyboardInterrupt()
        if tripped is None:
            return None
        _, source, line, traceback = record or ("", None, None, "")
        return self._located(ScriptLimitExceeded, tripped.removeprefix(PREFIX), source, line,
                             traceback, script)

    def _failure(self, record: tuple[str, Any, Any, str], script: str) -> BaseException:
        message, source, line, traceback = record
        if message == "not enough memory" and self.limits.max_memory_bytes:
            return self._located(ScriptLimitExceeded,
                                 self.limits.memory_message.removeprefix(PREFIX), source, line,
                                 traceback, script)
        error = self._located(ScriptError, message, source, line, traceback, script)
        cause = self._python_errors.get(message)
        if cause is not None:
            error.__cause__ = cause
        return error

    @staticmethod
    def _located(kind: type[ScriptError], message: str, source: Any, line: Any,
                 traceback: str, script: str) -> ScriptError:
        """``kind`` with ``script:line:`` in front of the message and as attributes.

        The position comes from the message (Lua's own ``name:line:``), else from the first
        frame of the script's code on the stack, else only the script's name is known (the
        failing call was a tail call). An error raised in the bridge's own Lua code keeps that
        file and line in the message, after the script's position when it is known.
        """
        found = _POSITION.match(message)
        if found and source is not None and is_bundled(found.group(1)):
            script = source.decode("utf-8", "replace")[1:]
            text = f"{script}:{line}: {message}"
        elif found:
            named, line = found.group(1), int(found.group(2))
            if named.startswith("...") and script.endswith(named[3:]):
                named = script  # Lua shortens long chunk names in messages; restore it
            script, text = named, f"{named}:{line}: {message[found.end():]}"
        elif source is not None:
            script = source.decode("utf-8", "replace")[1:]
            text = f"{script}:{line}: {message}"
        else:
            line, text = None, f"{script}: {message}" if script else message
        error = kind(text, script=script, line=line)
        error.lua_traceback = _clean_traceback(traceback)  # type: ignore[attr-defined]
        return error

    def _remember(self, exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt):
            self.limits.interrupted = True
            return
        self._python_errors.keep(error_text(exc), exc)

    # -- lifetime --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ScriptError("the Lua engine is closed")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Run the ``on_close`` callbacks and release the Lua state. Calling it again does
        nothing. The first error of a callback is raised after everything is released."""
        if self._closed:
            return
        self._closed = True
        failure: BaseException | None = None
        while self._on_close:
            try:
                self._on_close.pop()()
            except Exception as exc:
                failure = failure or exc
        try:
            self.core.sethook()
            self.core.flush()
            self.limits.detach()
            run_chunk(self.lua, "shutdown.lua", self.core, self._loaded, self.lua.globals())
        except lua54.LuaError:
            pass  # out of memory while tearing down: the references are dropped below anyway
        finally:
            self.lua = self.core = self._loaded = None
            self._xpcall = self._handler = self._sethook = self._flush = None
            self.converter = None  # type: ignore[assignment]
        if failure is not None:
            raise failure

    def __enter__(self) -> LuaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.config.lua.sandbox
        return f"<LuaEngine {self.script_name} {state}>"
