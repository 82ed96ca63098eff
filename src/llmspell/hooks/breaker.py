"""The circuit breaker: what happens when a hook fails, overruns its budget or recovers.

A hook that fails (raises, or returns something that is not a result) or overruns its time
budget ``failure_threshold`` times in a row is taken out of its chain: its circuit *opens* and a
``hook.circuit_opened`` event says so. After ``cooldown`` seconds the next firing of its point
lets it run once on probation (*half-open*, ``hook.circuit_half_open``): a clean call closes the
circuit (``hook.circuit_closed``), one more failure opens it again. ``HookRegistry.enable``
closes a circuit by hand. Hooks registered ``required`` never open: their failures fail the
operation instead (:class:`~llmspell.errors.HookError`).

Every failure is reported as a ``hook.error`` event and a warning on ``llmspell.hooks``.
Cool-downs and time budgets are measured on the breaker's clock (``time.monotonic`` unless
another is injected, e.g. a test's ``ManualClock().now``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspell.config_schema import default
from llmspell.errors import HookError, ValidationError
from llmspell.hooks.results import HookContext

if TYPE_CHECKING:
    from llmspell.hooks.handle import HookHandle

logger = logging.getLogger("llmspell.hooks")

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
DISABLED = "disabled"
UNREGISTERED = "unregistered"

#: States in which a hook runs when its point fires.
ACTIVE = frozenset({CLOSED, HALF_OPEN})

#: The shape of :meth:`llmspell.events.EventBus.publish`, injected so hooks import no bus.
Publish = Callable[..., Any]
#: Seconds from an arbitrary start that never go backwards (``time.monotonic``'s shape).
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a hook's circuit opens, and when it is tried again.

    Attributes:
        failure_threshold: consecutive failures or overruns that open the circuit.
        cooldown: seconds an open circuit waits before one probe call; None keeps it open
            until ``HookRegistry.enable``.
    """

    failure_threshold: int = default("runtime.hooks.failure_threshold")
    cooldown: float | None = float(default("runtime.hooks.cooldown_seconds"))

    def __post_init__(self) -> None:
        if not isinstance(self.failure_threshold, int) or self.failure_threshold < 1:
            raise ValidationError(
                "failure_threshold", "must be an integer >= 1", got=self.failure_threshold
            )
        if self.cooldown is not None and not (
            isinstance(self.cooldown, int | float) and self.cooldown > 0
        ):
            raise ValidationError(
                "cooldown", "must be a number of seconds > 0, or None", got=self.cooldown
            )


class Breaker:
    """Applies a :class:`BreakerPolicy` to hook handles and reports what it does.

    Args:
        policy: the thresholds.
        publish: reports ``hook.*`` events, or None.
        lock: the registry's lock (state changes and chain rebuilds happen under it).
        rebuild: recomputes the chain of a point after a state change (lock held).
        clock: what cool-downs and time budgets are measured on (default ``time.monotonic``).
    """

    def __init__(
        self, policy: BreakerPolicy, publish: Publish | None, lock: threading.RLock,
        rebuild: Callable[[str], None], clock: Clock = time.monotonic,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self._publish = publish
        self._lock = lock
        self._rebuild = rebuild

    def failed(self, hook: HookHandle, ctx: HookContext, exc: Exception) -> None:
        """A hook raised or returned something unusable: report, count, maybe open.

        Raises:
            HookError: the hook is required (the operation fails with it).
        """
        hook.failures += 1
        hook.errors += 1
        logger.warning(
            "hook '%s' (%s) at '%s' failed (%d in a row): %s",
            hook.name, hook.id, ctx.point, hook.failures, exc,
            exc_info=not isinstance(exc, ValidationError),
        )
        self.emit("hook.error", ctx, {
            "point": ctx.point, "hook": hook.name, "hook_id": hook.id,
            "error": str(exc), "error_type": type(exc).__name__,
            "failures": hook.failures, "required": hook.required,
        })
        if hook.required:
            raise HookError(ctx.point, hook.name, f"{type(exc).__name__}: {exc}") from exc
        self._maybe_open(hook, ctx, f"{hook.failures} consecutive failures")

    def overran(self, hook: HookHandle, ctx: HookContext, elapsed: float) -> None:
        """A hook took longer than its budget (its result still counts)."""
        hook.failures += 1
        hook.overruns += 1
        logger.warning(
            "hook '%s' (%s) at '%s' took %.3f s, over its budget of %.3f s (%d in a row)",
            hook.name, hook.id, ctx.point, elapsed, hook.time_budget, hook.failures,
        )
        if not hook.required:
            self._maybe_open(hook, ctx, f"{hook.failures} consecutive failures or overruns")

    def recovered(self, hook: HookHandle) -> None:
        """A clean call after failures: reset the count; a half-open circuit closes."""
        hook.failures = 0
        if hook.state == HALF_OPEN:
            with self._lock:
                if hook.state != HALF_OPEN:
                    return
                hook.state = CLOSED
            logger.info("hook '%s' (%s) at '%s' recovered", hook.name, hook.id, hook.point)
            self.report(hook, "hook.circuit_closed", "recovered after a probe")

    def probe_at(self, hooks: Iterable[HookHandle]) -> float:
        """The clock time the first open hook among ``hooks`` may be probed; 0.0: never."""
        cooldown = self.policy.cooldown
        if not cooldown:
            return 0.0
        return min((h.opened_at + cooldown for h in hooks if h.state == OPEN), default=0.0)

    def probe(self, point: str, hooks: Iterable[HookHandle]) -> None:
        """Cool-down over: let the open hooks among ``hooks`` run once more (half-open)."""
        cooldown = self.policy.cooldown
        if cooldown is None:
            return
        now = self.clock()
        probed = []
        with self._lock:
            for hook in hooks:
                if hook.state == OPEN and hook.opened_at + cooldown <= now:
                    # ``failures`` stays at the threshold: one more failure re-opens, and a
                    # clean call (which resets a non-zero count) closes the circuit.
                    hook.state = HALF_OPEN
                    probed.append(hook)
            self._rebuild(point)
        for hook in probed:
            self.report(hook, "hook.circuit_half_open", "cool-down over; probing")

    def _maybe_open(self, hook: HookHandle, ctx: HookContext, reason: str) -> None:
        if hook.failures < self.policy.failure_threshold:
            return
        with self._lock:
            if hook.state not in ACTIVE:
                return
            hook.state = OPEN
            hook.opened_at = self.clock()
            self._rebuild(hook.point)
        logger.warning(
            "hook '%s' (%s) at '%s' disabled: %s", hook.name, hook.id, hook.point, reason
        )
        self.report(hook, "hook.circuit_opened", reason, ctx)

    def report(
        self, hook: HookHandle, kind: str, reason: str, ctx: HookContext | None = None
    ) -> None:
        """Publish a ``hook.circuit_*`` event about ``hook``."""
        self.emit(kind, ctx, {
            "point": hook.point, "hook": hook.name, "hook_id": hook.id, "reason": reason,
            "failures": hook.failures,
        })

    def emit(self, kind: str, ctx: HookContext | None, data: dict[str, Any]) -> None:
        """Publish an event; a failing publisher is logged, never raised."""
        if self._publish is None:
            return
        try:
            self._publish(
                kind, data, correlation_id=ctx.correlation_id if ctx else None,
                session_id=ctx.session_id if ctx else None, source="hooks",
            )
        except Exception:  # reporting must never break the operation being reported on
            logger.exception("could not publish '%s' for hook '%s'", kind, data.get("hook"))
