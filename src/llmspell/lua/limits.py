"""Instruction, wall-time and memory limits for a Lua engine.

A count hook (``debug.sethook``, captured before the sandbox removes ``debug``) runs every
:data:`HOOK_STEP` VM instructions in the main thread and in every coroutine the script creates
(``coroutine.create``/``wrap`` are wrapped to arm it). It adds up instructions and asks Python
for the time. When a limit is reached the engine *trips*: the hook is re-armed with a count of
1 in every thread and raises the limit's message at every instruction from then on, so a
``pcall`` that swallows the error cannot keep the script alive; a user ``xpcall`` handler is
not run once tripped. The hook stays armed until the run is over, so the ``__close`` handlers
the error unwinds through are stopped too; only the bridge's own Lua code (the message handler
that records the error) runs on. Ctrl-C sets a flag (:meth:`Limits.interrupt`) that the next
hook turns into a stop. Python callables that block (``Utils.sleep``) use :meth:`Limits.sleep`
or :meth:`Limits.remaining`.

Memory: lupa's allocator limit. Lua code runs under the configured limit; Python code that
builds Lua values runs with :attr:`Limits.headroom` more, because an allocation failing inside
a lupa call from Python is not recoverable (lupa 2.x: the Lua error unwinds through Cython
frames and deadlocks on the GIL). So a Python callable opens the headroom on entry, the
converter refuses a value that would not fit in it, and the hook closes it again once no Python
callable is running; a script can therefore pass the limit by at most the headroom for up to
:data:`HOOK_STEP` instructions. An out-of-memory error caught by ``pcall``, ``xpcall`` or
``coroutine.resume`` trips the engine.

Limits apply per top-level run. Measured on a 2 vCPU machine (Lua 5.4 through lupa, CPU time,
best of 15): any count hook makes Lua check a trap on every instruction, which costs 20-25% of
pure Lua compute whatever the step; the step only sets how often Python is asked for the time
(at 100,000 that is a few thousand calls per second of tight loop, negligible; the time check
is at most a few milliseconds late). A typical script, which spends its time in llmspell
functions, runs ~2% slower with the default limits. The hook is set even with every limit 0,
so that Ctrl-C can stop any loop. A long C call cannot be interrupted by the hook: the only one
a sandboxed script can make run for long, a backtracking pattern, is bounded before it runs
(``patterns.lua``, :data:`MAX_PATTERN_STEPS`).

The Lua code is ``llmspell/lua/scripts/limits.lua`` and ``patterns.lua``.
"""

from __future__ import annotations

# signal.signal wraps _signal.signal to turn handlers into enums, which for a Python handler
# costs a ValueError raised and caught in the enum machinery: ~25k instructions per call, two
# calls per run (callgrind). The handlers set and restored here need no enum. (_signal ships
# no type information, hence the ignore below.)
import _signal  # type: ignore[import-not-found]
import threading
import time
from typing import Any

from llmspell.errors import ScriptLimitExceeded
from llmspell.lua.chunks import run_chunk

PREFIX = "ScriptLimitExceeded: "
INTERRUPTED = "Interrupted: the script was interrupted (Ctrl-C)"
#: Codes a Python callable returns to stop the script: short strings the Lua side already
#: holds, so pushing them allocates nothing even when memory is exhausted.
STOP_MEMORY, STOP_TIME, STOP_INTERRUPT, STOP_EXIT = b"memory", b"time", b"interrupt", b"exit"

#: Instructions between two runs of the hook (see the module docstring for the measurement).
HOOK_STEP = 100_000
#: Upper bound of the backtracking steps of one pattern call (string.find/match/gmatch/gsub):
#: about a second of C matching at worst. See ``patterns.lua`` and docs/lua.md.
MAX_PATTERN_STEPS = 200_000_000
#: Memory kept free for the bridge's own work inside the headroom (refs, short strings).
RESERVE = 64 * 1024

class MemoryLimitReached(ScriptLimitExceeded):
    """The memory limit was reached while Python was building a value for Lua."""


class TimeLimitReached(ScriptLimitExceeded):
    """The wall-time limit was reached while Python was waiting (``Utils.sleep``)."""


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB ({n} bytes)" if n >= 2**20 else f"{n} bytes"


def headroom_for(limit: int) -> int:
    """The extra memory Python-side work gets: 1/8 of the limit, from 1 MB to 64 MB."""
    return min(max(limit // 8, 2**20), 64 * 2**20)


class Limits:
    """The limits of one engine. ``start()`` begins a top-level run."""

    def __init__(self, lua: Any, core: Any, *, max_instructions: int, timeout_seconds: float,
                 max_memory_bytes: int) -> None:
        self.max_instructions = max_instructions
        self.timeout_seconds = timeout_seconds
        self.max_memory_bytes = max_memory_bytes
        self.headroom = headroom_for(max_memory_bytes) if max_memory_bytes else 0
        self.interrupted = False
        self._wake = threading.Event()  # set by Ctrl-C: a sleeping Utils.sleep returns
        self._previous_sigint: Any = None
        self._deadline: float | None = None
        self._runtime = lua
        self.memory_used = lua.get_memory_used
        self.headroom_open = True  # the engine starts with the headroom open (see LuaEngine)
        self.python_calls = 0  # Python callables running now: the headroom stays open for them
        self._lua = run_chunk(lua, "limits.lua", core, HOOK_STEP, self._tick)
        # Held, not looked up per run: reading a field of a Lua table from Python costs ~7k
        # instructions (a new proxy object and a registry reference), a call ~2.6k (callgrind).
        self._reset, self._tripped = self._lua.reset, self._lua.tripped
        self._texts: Any = None  # the stop messages as a Lua table (see _stop_texts)
        self._texts_for: tuple[int, float, int] | None = None  # the limits they name
        run_chunk(lua, "patterns.lua", MAX_PATTERN_STEPS)

    # -- messages (as Lua raises them: "ScriptLimitExceeded: ...") -----------------------

    @property
    def instructions_message(self) -> str:
        return (f"{PREFIX}instruction limit of {self.max_instructions:,} reached "
                "(raise [engines.lua] max_instructions, or 0 for no limit)")

    @property
    def time_message(self) -> str:
        return (f"{PREFIX}wall-time limit of {self.timeout_seconds:g} s reached "
                "(raise [engines.lua] timeout_seconds or [runtime] script_timeout_seconds, "
                "or 0 for no limit)")

    @property
    def memory_message(self) -> str:
        return (f"{PREFIX}memory limit of {_size(self.max_memory_bytes)} reached "
                "(raise [engines.lua] max_memory_bytes, or 0 for no limit)")

    # -- runs --------------------------------------------------------------------------

    def start(self) -> None:
        """Reset the counters and the deadline for a new top-level run; on the main thread,
        Ctrl-C is caught until :meth:`finish` (see :meth:`interrupt`)."""
        self.interrupted = False
        if self._wake.is_set():  # clear() takes the event's lock: only when needed
            self._wake.clear()
        if threading.get_ident() == threading.main_thread().ident:  # where signals are set
            self._previous_sigint = _signal.signal(_signal.SIGINT, self._on_sigint)
        self._deadline = (time.monotonic() + self.timeout_seconds
                          if self.timeout_seconds else None)
        self.open_headroom()
        self._reset(self.max_instructions, self._stop_texts())

    def _stop_texts(self) -> Any:
        """The stop messages by code, as a Lua table; built again only when a limit changed
        (a replay sets its own timeout): building them cost ~34k instructions per run."""
        limits = (self.max_instructions, self.timeout_seconds, self.max_memory_bytes)
        if limits != self._texts_for:
            texts = {b"instructions": self.instructions_message, b"time": self.time_message,
                     b"interrupt": INTERRUPTED, b"exit": "StopScript: os.exit"}
            if self.max_memory_bytes:
                texts[b"memory"] = self.memory_message
            self._texts = self._runtime.table_from({k: v.encode() for k, v in texts.items()})
            self._texts_for = limits
        return self._texts

    def finish(self) -> None:
        """The top-level run is over: Ctrl-C raises KeyboardInterrupt again."""
        if self._previous_sigint is not None:
            _signal.signal(_signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None

    def interrupt(self) -> None:
        """Stop the running script as Ctrl-C does (from any thread): it stops at the next hook
        (at most :data:`HOOK_STEP` instructions away), in its __close handlers too, and a
        ``Utils.sleep`` returns at once; a llmspell call in progress finishes first."""
        self.interrupted = True
        self._wake.set()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # Raising here could surface inside lupa's own code, where the interrupt would turn
        # into a plain Lua error the script's __close handlers outlive; a flag cannot be lost.
        # A second Ctrl-C raises, for a Python call that does not return.
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupt()

    def detach(self) -> None:
        """Drop the references to the Lua side (the engine is closing)."""
        self._lua = self._runtime = self.memory_used = None
        self._reset = self._tripped = self._texts = None

    def tripped(self) -> str | None:
        """The message of the limit that stopped the current run, if one did."""
        message = self._tripped()
        return message.decode("utf-8", "replace") if message is not None else None

    # -- memory ------------------------------------------------------------------------

    def open_headroom(self) -> None:
        """Let Python-side work use the headroom above the limit (see the module docstring)."""
        if self.max_memory_bytes and not self.headroom_open:
            self._runtime.set_max_memory(self.max_memory_bytes + self.headroom)
            self.headroom_open = True

    def close_headroom(self) -> None:
        if self.headroom_open and self.max_memory_bytes:
            self._runtime.set_max_memory(self.max_memory_bytes)
        self.headroom_open = False

    def over_memory(self) -> bool:
        """True when Lua is using more than the limit (it did so inside the headroom)."""
        return bool(self.max_memory_bytes) and (
            self._runtime.get_memory_used() > self.max_memory_bytes)

    def room(self) -> int:
        """Bytes Python-side work may still allocate in Lua (within the headroom)."""
        ceiling = self.max_memory_bytes + self.headroom - RESERVE
        return int(ceiling - self._runtime.get_memory_used())

    def fits(self, nbytes: int) -> bool:
        """Whether ``nbytes`` more can be allocated for Lua from Python (in the headroom)."""
        return not self.max_memory_bytes or nbytes <= self.room()

    def full(self) -> MemoryLimitReached:
        """The error for a value that does not fit in what is left."""
        return MemoryLimitReached(self.memory_message.removeprefix(PREFIX))

    def ensure_room(self, nbytes: int) -> None:
        """Raise MemoryLimitReached unless ``nbytes`` more fit in the headroom."""
        if not self.fits(nbytes):
            raise self.full()

    # -- time --------------------------------------------------------------------------

    def remaining(self) -> float | None:
        """Seconds left before the wall-time limit, or None when there is none."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def check_time(self) -> None:
        """Raise ScriptLimitExceeded if the wall-time limit has passed."""
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise TimeLimitReached(self.time_message.removeprefix(PREFIX))

    def sleep(self, seconds: float) -> None:
        """Sleep, but not past the wall-time limit (then raise ScriptLimitExceeded)."""
        remaining = self.remaining()
        limited = remaining is not None and seconds >= remaining
        if self._wake.wait(remaining if limited else seconds) or self.interrupted:
            raise KeyboardInterrupt
        if limited:
            raise TimeLimitReached(self.time_message.removeprefix(PREFIX))

    def _tick(self) -> bytes | None:
        """Called by the hook: the message to stop with, or None to go on."""
        if self.interrupted:
            return STOP_INTERRUPT
        try:
            if self.headroom_open and not self.python_calls:
                self.close_headroom()
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return STOP_TIME
        except KeyboardInterrupt:
            self.interrupted = True
            return STOP_INTERRUPT
        return None
