"""Built-in hooks: logging, metrics and a cost/token tracker.

Each is an observer (``observer(ctx, action, elapsed)``) that sees every firing of every point
after that point's hooks ran, and never changes the outcome. Turn one on with
``registry.enable_builtin("logging" | "metrics" | "cost", **options)`` (the runtime does this
for the names in its config) and read it back with ``registry.builtin(name)``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from llmspell.hooks.points import resolve_point
from llmspell.hooks.results import HookContext
from llmspell.validation import check_texts


class HookLogger:
    """Logs each point fired: point, action, component, session and time spent in hooks.

    Args:
        level: the logging level of the records (default DEBUG).
        logger: where to log (default ``llmspell.hooks.fired``).
    """

    def __init__(self, level: int = logging.DEBUG, logger: logging.Logger | None = None) -> None:
        self.level = level
        self.logger = logger or logging.getLogger("llmspell.hooks.fired")

    def __call__(self, ctx: HookContext, action: str, elapsed: float) -> None:
        if self.logger.isEnabledFor(self.level):
            self.logger.log(
                self.level, "hook point %s: %s (component=%s session=%s correlation=%s, %.1f us)",
                ctx.point, action, ctx.component, ctx.session_id, ctx.correlation_id,
                elapsed * 1e6,
            )


class HookMetrics:
    """Counts and timings per point, readable with :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points: dict[str, dict[str, Any]] = {}

    def __call__(self, ctx: HookContext, action: str, elapsed: float) -> None:
        with self._lock:
            entry = self._points.get(ctx.point)
            if entry is None:
                entry = self._points[ctx.point] = {
                    "count": 0, "total_s": 0.0, "max_s": 0.0, "actions": {},
                }
            entry["count"] += 1
            entry["total_s"] += elapsed
            if elapsed > entry["max_s"]:
                entry["max_s"] = elapsed
            actions = entry["actions"]
            actions[action] = actions.get(action, 0) + 1

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """``{point: {"count", "total_s", "mean_s", "max_s", "actions": {action: n}}}``.

        Times are the seconds spent in the hooks of that point.
        """
        with self._lock:
            return {
                point: {**entry, "mean_s": entry["total_s"] / entry["count"],
                        "actions": dict(entry["actions"])}
                for point, entry in self._points.items()
            }

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._points.clear()


class CostTracker:
    """Sums tokens and cost reported in hook data, per session and in total.

    At the points it watches, the data (after the hooks ran) may carry ``tokens`` (a number),
    ``cost`` (a number) and ``usage`` (a dict with ``total_tokens``, or ``input_tokens`` and
    ``output_tokens``, or ``prompt_tokens`` and ``completion_tokens``). Code that knows the
    figures directly calls :meth:`record`.

    Args:
        points: the points to read (a list of them, or one). The default,
            ``agent:after_execution``, is where a model call's usage is known once; watching
            before-points as well would count it twice.
    """

    def __init__(self, points: Iterable[str] | str = ("agent:after_execution",)) -> None:
        self.points = frozenset(resolve_point(p, argument="points")
                                for p in check_texts(points, "points", "hook points", one=True))
        self._lock = threading.Lock()
        self._total = _zero()
        self._sessions: dict[str, dict[str, float]] = {}

    def __call__(self, ctx: HookContext, action: str, elapsed: float) -> None:
        if ctx.point not in self.points or not isinstance(ctx.data, Mapping):
            return
        tokens, cost = usage_of(ctx.data)
        if tokens or cost:
            self.record(tokens=tokens, cost=cost, session_id=ctx.session_id)

    def record(
        self, *, tokens: float = 0, cost: float = 0.0, session_id: str | None = None
    ) -> None:
        """Add ``tokens`` and ``cost`` to the total and to ``session_id``'s figures."""
        with self._lock:
            for entry in (self._total, self._session(session_id)):
                if entry is not None:
                    entry["tokens"] += tokens
                    entry["cost"] += cost
                    entry["calls"] += 1

    def totals(self) -> dict[str, float]:
        """``{"tokens", "cost", "calls"}`` over everything recorded."""
        with self._lock:
            return dict(self._total)

    def session(self, session_id: str) -> dict[str, float]:
        """``{"tokens", "cost", "calls"}`` for one session (zeros if nothing was recorded)."""
        with self._lock:
            return dict(self._sessions.get(session_id) or _zero())

    def snapshot(self) -> dict[str, Any]:
        """``{"total": {...}, "sessions": {session_id: {...}}}``."""
        with self._lock:
            return {"total": dict(self._total),
                    "sessions": {k: dict(v) for k, v in self._sessions.items()}}

    def _session(self, session_id: str | None) -> dict[str, float] | None:
        if session_id is None:
            return None
        entry = self._sessions.get(session_id)
        if entry is None:
            entry = self._sessions[session_id] = _zero()
        return entry


def usage_of(data: Mapping[str, Any]) -> tuple[float, float]:
    """The (tokens, cost) that ``data`` reports; zeros for fields that are absent or not numbers."""
    tokens = _number(data.get("tokens"))
    usage = data.get("usage")
    if not tokens and isinstance(usage, Mapping):
        tokens = _number(usage.get("total_tokens")) or (
            _number(usage.get("input_tokens")) + _number(usage.get("output_tokens"))
        ) or (_number(usage.get("prompt_tokens")) + _number(usage.get("completion_tokens")))
    cost = _number(data.get("cost"))
    if not cost and isinstance(usage, Mapping):
        cost = _number(usage.get("cost"))
    return tokens, cost


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return 0


def _zero() -> dict[str, float]:
    return {"tokens": 0, "cost": 0.0, "calls": 0}


BUILTINS: dict[str, Any] = {"logging": HookLogger, "metrics": HookMetrics, "cost": CostTracker}
