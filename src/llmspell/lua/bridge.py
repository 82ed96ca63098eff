"""The one wrapper that exposes a Python callable to Lua.

:func:`guard` turns a Python function into the Python half of a Lua function: it checks the
argument count, converts the arguments (naming each one in errors), calls the function and
converts the result. A Python exception becomes ``(false, "ClassName: message")``, which the
prelude's Lua half raises as a Lua error, so ``pcall`` catches it and the message starts with
the error class (``ValidationError: argument 'text': must be a string (got nil)``). Exceptions
that must end the script (a limit, ``os.exit``, Ctrl-C) also ask Lua to stop the script.

A function returns one value, or several as :class:`Values`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lupa import lua54

from llmspell.errors import ScriptLimitExceeded, ValidationError
from llmspell.lua.convert import Converter
from llmspell.lua.limits import (
    STOP_EXIT,
    STOP_INTERRUPT,
    STOP_MEMORY,
    STOP_TIME,
    Limits,
    MemoryLimitReached,
    TimeLimitReached,
)


class Values(tuple[Any, ...]):
    """Several return values for Lua: ``return Values((found, value))``."""

    __slots__ = ()


class StopScript(Exception):
    """Raised by a Python callable to end the script (``os.exit``); the message is Lua's."""


_PLAIN = frozenset({type(None), bool, int, float})  # the same on both sides
_PLAIN_RESULT = frozenset({type(None), bool, float})  # ints need the 64-bit check
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _arity(fn: Callable[..., Any]) -> tuple[list[str], int, int | None]:
    names: list[str] = []
    required = 0
    most: int | None = 0
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            most = None
        elif parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
            if parameter.default is parameter.empty:
                required += 1
    if most is not None:
        most = len(names)
    return names, required, most


def guard(fn: Callable[..., Any], name: str, converter: Converter, limits: Limits, *,
          on_error: Callable[[BaseException], None],
          functions: bool = False) -> Callable[..., tuple[Any, ...]]:
    """The Python half of the Lua function ``name`` (see the module docstring).

    ``functions``: pass Lua functions in the arguments as :class:`LuaFunction` (otherwise they
    are refused). ``on_error`` sees every exception that became a Lua error.
    """
    names, required, most = _arity(fn)
    names += [f"#{i + 1}" for i in range(len(names), 16)]
    to_python, to_lua = converter.to_python, converter.to_lua
    memory_limit = limits.max_memory_bytes
    memory_used = limits.memory_used

    def call(*args: Any) -> tuple[Any, ...]:
        # One Python frame per call on the way in (the checks and the conversion of plain
        # arguments are inline): this is every llmspell function's floor.
        if memory_limit:
            if not limits.headroom_open:
                limits.open_headroom()
            if memory_used() > memory_limit:
                return (False, STOP_MEMORY, True)
            limits.python_calls += 1
        try:
            count = len(args)
            if most is not None and count > most:
                raise ValidationError(
                    f"#{most + 1}", f"{name} takes at most {most} argument"
                    f"{'' if most == 1 else 's'} (got {count})")
            values = list(args)
            # A counter, not enumerate: ~0.6k instructions less per call (3 arguments)
            i = -1
            for arg in args:
                i += 1
                kind = type(arg)
                if kind is bytes:
                    try:
                        values[i] = arg.decode()  # UTF-8, strict: no codec argument to parse
                    except UnicodeDecodeError:
                        continue  # not UTF-8: it stays bytes
                elif kind not in _PLAIN:
                    values[i] = to_python(arg, names[i] if i < 16 else f"#{i + 1}",
                                          functions=functions)
            if count < required:
                values.extend([None] * (required - count))
            result = fn(*values)
            kind = type(result)
            if kind in _PLAIN_RESULT or (kind is int and _INT_MIN <= result <= _INT_MAX):
                return (True, result)
            if isinstance(result, Values):
                return (True, *(to_lua(item, "result") for item in result))
            return (True, to_lua(result, "result"))
        except (MemoryLimitReached, lua54.LuaMemoryError):
            return (False, STOP_MEMORY, True)
        except ScriptLimitExceeded as exc:
            stop = STOP_TIME if isinstance(exc, TimeLimitReached) else _text(exc, limits)
            return (False, stop, True)
        except StopScript:
            return (False, STOP_EXIT, True)
        except KeyboardInterrupt as exc:
            on_error(exc)
            return (False, STOP_INTERRUPT, True)
        except Exception as exc:
            on_error(exc)
            return (False, _text(exc, limits), None)
        finally:
            if memory_limit:
                limits.python_calls -= 1

    call.__name__ = call.__qualname__ = name
    return call


def _text(exc: BaseException, limits: Limits) -> bytes:
    """The Lua error text of ``exc``, or the memory code when even that would not fit."""
    text = error_text(exc).encode("utf-8", "replace")
    return text if limits.fits(len(text) + 256) else STOP_MEMORY


def error_text(exc: BaseException) -> str:
    """``ClassName: message``, the form every Python error takes in Lua."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
