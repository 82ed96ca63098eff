"""What a hook sees (:class:`HookContext`), what it returns, and what the caller gets back.

A hook is a plain callable ``fn(ctx) -> result``. The result may be ``None`` (continue), a
:class:`HookResult`, ``True``/``False``, a string (``"continue"``, ``"skip"``, ``"cancel"``) or a
plain dict, so that Lua tables converted to dicts work unchanged::

    {"continue_execution": True}                  # the seeds' shape: continue
    {"action": "modified", "data": new_data}      # replace the data for later hooks and caller
    {"action": "cancel", "reason": "too long"}    # the operation fails with HookCancelled
    {"action": "retry", "delay": 0.1, "attempts": 3}
    {"action": "skip", "result": cached}          # stop here; a before-point skips the operation

``type`` is accepted for ``action``, ``delay_ms``/``max_attempts`` for ``delay``/``attempts`` and
``skipped`` for ``skip`` (rs-llmspell's spellings). Anything else is refused by
:func:`to_result` with a :class:`ValidationError` listing the allowed shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmspell.errors import ValidationError
from llmspell.validation import check_known_keys

CONTINUE = "continue"
MODIFIED = "modified"
CANCEL = "cancel"
RETRY = "retry"
SKIP = "skip"

#: rs-llmspell's defaults for a retry that names no delay or attempts.
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_RETRY_ATTEMPTS = 3

_SHAPES = (
    "None, True/False, 'continue'/'skip'/'cancel', a HookResult, or a dict such as "
    "{'continue_execution': true}, {'action': 'modified', 'data': ...}, "
    "{'action': 'cancel', 'reason': ...}, {'action': 'retry', 'delay': s, 'attempts': n}, "
    "{'action': 'skip', 'result': ...}"
)


class HookContext:
    """What a hook receives: plain attributes, shared by every hook of one firing.

    Attributes:
        point: the canonical hook point (``state:before_write``).
        component: who fired it (an agent, tool or workflow name), or None.
        correlation_id: ties together the hooks and events of one operation, or None.
        session_id: the session the operation belongs to, or None.
        data: the operation's data; a ``modified`` result (or assigning ``ctx.data``) replaces
            it for later hooks and for the caller.
        metadata: a dict shared by the hooks of this firing (and, under
            :meth:`HookRegistry.run`, by the before, after and error points of one call).
    """

    __slots__ = ("component", "correlation_id", "data", "metadata", "point", "session_id")

    def __init__(
        self,
        point: str,
        component: str | None,
        correlation_id: str | None,
        session_id: str | None,
        data: Any,
        metadata: dict[str, Any],
    ) -> None:
        self.point = point
        self.component = component
        self.correlation_id = correlation_id
        self.session_id = session_id
        self.data = data
        self.metadata = metadata

    def to_dict(self) -> dict[str, Any]:
        """The context as a plain dict (what a Lua hook receives as its table)."""
        return {
            "point": self.point,
            "component": self.component,
            "correlation_id": self.correlation_id,
            "session_id": self.session_id,
            "data": self.data,
            "metadata": self.metadata,
        }

    def __repr__(self) -> str:
        return f"HookContext(point={self.point!r}, component={self.component!r})"


class HookResult:
    """A hook's decision. Build one with the class methods rather than the constructor."""

    __slots__ = ("action", "attempts", "data", "delay", "reason", "result")

    def __init__(
        self,
        action: str,
        *,
        data: Any = None,
        reason: str = "",
        delay: float = 0.0,
        attempts: int = 0,
        result: Any = None,
    ) -> None:
        self.action = action
        self.data = data
        self.reason = reason
        self.delay = delay
        self.attempts = attempts
        self.result = result

    @classmethod
    def proceed(cls) -> HookResult:
        """Continue: the same as returning None."""
        return _CONTINUE_RESULT

    @classmethod
    def modified(cls, data: Any) -> HookResult:
        """Replace the data seen by later hooks and returned to the caller."""
        return cls(MODIFIED, data=data)

    @classmethod
    def cancel(cls, reason: str = "") -> HookResult:
        """Fail the operation with :class:`~llmspell.errors.HookCancelled` carrying ``reason``."""
        return cls(CANCEL, reason=reason or "no reason given")

    @classmethod
    def retry(
        cls, delay: float = DEFAULT_RETRY_DELAY, attempts: int = DEFAULT_RETRY_ATTEMPTS
    ) -> HookResult:
        """Ask for the operation to be tried again after ``delay`` seconds.

        ``attempts`` caps the total number of attempts (the first one included).

        Raises:
            ValidationError: a negative delay, or attempts below 1.
        """
        return cls(RETRY, delay=_delay(delay), attempts=_attempts(attempts))

    @classmethod
    def skip(cls, result: Any = None, reason: str = "") -> HookResult:
        """Stop running hooks here; at a before-point the operation is skipped too.

        ``result`` stands in for the skipped operation's result.
        """
        return cls(SKIP, result=result, reason=reason)

    def __repr__(self) -> str:
        return f"HookResult({self.action!r})"


_CONTINUE_RESULT = HookResult(CONTINUE)


class HookOutcome:
    """What :meth:`HookRegistry.fire` returns (a cancel raises instead).

    Attributes:
        data: the data after every hook ran (replaced by ``modified`` results).
        action: ``continue`` (no hook said anything), ``modified`` (data replaced),
            ``skip`` or ``retry`` (a hook stopped the chain with that answer).
        result: for ``skip``, the value that stands in for the operation's result.
        reason: the reason a ``skip`` gave, if any.
        delay: for ``retry``, seconds to wait before the next attempt.
        attempts: for ``retry``, the total number of attempts allowed.
        hook: the name of the hook that gave the ``action`` (the last one that modified, for
            ``modified``), or None.
    """

    __slots__ = ("action", "attempts", "data", "delay", "hook", "reason", "result")

    def __init__(
        self,
        data: Any,
        action: str = CONTINUE,
        result: Any = None,
        reason: str = "",
        delay: float = 0.0,
        attempts: int = 0,
        hook: str | None = None,
    ) -> None:
        self.data = data
        self.action = action
        self.result = result
        self.reason = reason
        self.delay = delay
        self.attempts = attempts
        self.hook = hook

    @property
    def skipped(self) -> bool:
        """Whether a hook asked to skip (at a before-point: do not run the operation)."""
        return self.action == SKIP

    @property
    def retry(self) -> bool:
        """Whether a hook asked for the operation to be retried."""
        return self.action == RETRY

    def to_dict(self) -> dict[str, Any]:
        """The outcome as a plain dict (what ``Hook.fire`` returns to Lua)."""
        out: dict[str, Any] = {"action": self.action, "data": self.data}
        if self.action == SKIP:
            out["result"] = self.result
            out["reason"] = self.reason
        elif self.action == RETRY:
            out["delay"] = self.delay
            out["attempts"] = self.attempts
        return out

    def __repr__(self) -> str:
        return f"HookOutcome(action={self.action!r}, data={self.data!r})"


class Skipped:
    """What ``HookRegistry.before`` returns when a hook skipped the operation.

    Subsystems below the hooks layer test ``value.__class__ is hooks.Skipped`` (the registry
    carries the class), so they need not import this package.

    Attributes:
        result: the value the hook gave to stand in for the operation's result (or None).
        reason: the reason it gave, if any.
    """

    __slots__ = ("reason", "result")

    def __init__(self, result: Any, reason: str) -> None:
        self.result = result
        self.reason = reason

    def __repr__(self) -> str:
        return f"Skipped(result={self.result!r})"


def to_result(value: object) -> HookResult:
    """Turn whatever a hook returned into a :class:`HookResult`.

    Raises:
        ValidationError: ``value`` has none of the accepted shapes (listed in the message).
    """
    if value is None or value is True:
        return _CONTINUE_RESULT
    if isinstance(value, HookResult):
        return value
    if value is False:
        return HookResult.cancel("hook returned false")
    if isinstance(value, str):
        word = value.lower()
        if word == CONTINUE:
            return _CONTINUE_RESULT
        if word in (SKIP, "skipped"):
            return HookResult.skip()
        if word == CANCEL:
            return HookResult.cancel()
    elif isinstance(value, Mapping):
        return _from_mapping(value)
    raise ValidationError("result", "a hook must return " + _SHAPES, got=value)


_KEYS = {
    CONTINUE: {"action", "type", "continue_execution"},
    MODIFIED: {"action", "type", "data", "continue_execution"},
    CANCEL: {"action", "type", "reason", "continue_execution"},
    RETRY: {"action", "type", "delay", "delay_ms", "attempts", "max_attempts"},
    SKIP: {"action", "type", "result", "reason"},
}


def _from_mapping(value: Mapping[Any, Any]) -> HookResult:
    action = value.get("action", value.get("type"))
    if action is None:
        if "continue_execution" not in value:
            raise ValidationError(
                "result", "a dict result needs 'action' (or 'continue_execution'); a hook must "
                "return " + _SHAPES, got=value,
            )
        action = CONTINUE if value["continue_execution"] else CANCEL
    if not isinstance(action, str) or action.lower() not in (*_KEYS, "skipped"):
        raise ValidationError(
            "result", "'action' must be one of continue, modified, cancel, retry, skip",
            path="$.action", got=action,
        )
    action = action.lower()
    if action == "skipped":
        action = SKIP
    check_known_keys(value, sorted(_KEYS[action]), "result", noun=f"'{action}' result field")
    if action == CONTINUE:
        return _CONTINUE_RESULT
    if action == MODIFIED:
        if "data" not in value:
            raise ValidationError("result", "a 'modified' result needs 'data'", got=value)
        return HookResult.modified(value["data"])
    if action == CANCEL:
        return HookResult.cancel(str(value.get("reason") or ""))
    if action == SKIP:
        return HookResult.skip(value.get("result"), str(value.get("reason") or ""))
    if "delay_ms" in value:
        delay = _delay(value["delay_ms"], path="$.delay_ms") / 1000.0
    else:
        delay = _delay(value.get("delay", DEFAULT_RETRY_DELAY))
    attempts = value.get("attempts", value.get("max_attempts", DEFAULT_RETRY_ATTEMPTS))
    return HookResult(RETRY, delay=delay, attempts=_attempts(attempts))


def _delay(value: object, *, path: str = "$.delay") -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise ValidationError("result", "a retry delay must be a number >= 0", path=path, got=value)


def _attempts(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 1:
        return int(value)
    raise ValidationError(
        "result", "retry attempts must be an integer >= 1", path="$.attempts", got=value
    )
