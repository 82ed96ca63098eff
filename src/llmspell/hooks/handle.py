"""A registered hook as the user sees it: :class:`HookHandle`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.hooks.breaker import CLOSED
from llmspell.hooks.results import HookContext

if TYPE_CHECKING:
    from llmspell.hooks.registry import HookRegistry

Hook = Callable[[HookContext], Any]


class HookHandle:
    """One registered hook: what ``HookRegistry.register`` returns and ``list`` lists.

    Attributes:
        id: unique within the registry (``hook-7``).
        point: the canonical point it is registered at.
        fn: the hook function.
        name: for messages and events; the function's name unless given.
        priority: the number it sorts by (larger runs earlier).
        required: if True its failures fail the operation and the breaker never opens.
        time_budget: seconds a call may take before it counts as an overrun, or None.
        state: ``closed`` (running), ``open`` (breaker tripped), ``half_open`` (on probation),
            ``disabled`` (by hand) or ``unregistered``.
        notice: why registering here may not do what was meant (the point is not fired
            yet), or None.
        failures: consecutive failures and overruns (reset by a clean call).
        errors: every failure since registration.
        overruns: every time-budget overrun since registration.
    """

    __slots__ = (
        "_registry", "errors", "failures", "fn", "id", "name", "notice", "opened_at", "overruns",
        "point",
        "priority", "required", "seq", "state", "time_budget",
    )

    def __init__(
        self, registry: HookRegistry, seq: int, point: str, fn: Hook, priority: int,
        name: str, required: bool, time_budget: float | None,
    ) -> None:
        self._registry = registry
        self.seq = seq
        self.id = f"hook-{seq}"
        self.point = point
        self.fn = fn
        self.priority = priority
        self.name = name
        self.required = required
        self.time_budget = time_budget
        self.state = CLOSED
        self.failures = 0
        self.errors = 0
        self.overruns = 0
        self.opened_at = 0.0
        self.notice: str | None = None

    def unregister(self) -> bool:
        """Remove this hook; False if it was already removed."""
        return self._registry.unregister(self)

    def enable(self) -> None:
        """Put this hook back in its chain (closes an open circuit)."""
        self._registry.enable(self)

    def disable(self) -> None:
        """Take this hook out of its chain until :meth:`enable`."""
        self._registry.disable(self)

    def run_order(self) -> tuple[int, int]:
        """The sort key of its chain: higher priority first, then registration order."""
        return (-self.priority, self.seq)

    def to_dict(self) -> dict[str, Any]:
        """The handle's fields as a plain dict (for ``Hook.list`` in Lua)."""
        return {
            "id": self.id, "point": self.point, "name": self.name, "priority": self.priority,
            "required": self.required, "time_budget": self.time_budget, "state": self.state,
            "failures": self.failures, "errors": self.errors, "overruns": self.overruns,
            "notice": self.notice,
        }

    def __repr__(self) -> str:
        return f"HookHandle({self.id!r}, {self.point!r}, name={self.name!r}, state={self.state!r})"
