"""The hook registry: register hooks at points, fire a point, and protect callers from hooks.

``fire(point, data)`` runs the hooks registered at ``point`` in priority order (ties in
registration order) and returns a :class:`HookOutcome`; a cancel raises
:class:`~llmspell.errors.HookCancelled`. A point with nothing registered costs one dict lookup
(and :meth:`HookRegistry.has` lets a hot path skip building the data at all). A hook that raises
is reported (a ``hook.error`` event through the injected ``publish`` callable and a log record on
``llmspell.hooks``) and the operation goes on, unless the hook was registered ``required``. A
circuit breaker (:mod:`llmspell.hooks.breaker`) takes a hook out of its chain after repeated
failures or time-budget overruns. Code that owns an operation calls :meth:`HookRegistry.before`,
:meth:`~HookRegistry.after` or :meth:`~HookRegistry.run`, which honour what the points table
says and report the rest (see :mod:`llmspell.hooks.runner`); registering at a point nothing
fires yet is reported too (``handle.notice`` and a warning).
"""

from __future__ import annotations

import builtins
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Unpack

from llmspell.config_schema import default
from llmspell.errors import HookCancelled, HookError, ResourceLimitExceeded, ValidationError
from llmspell.hooks import runner
from llmspell.hooks.breaker import (
    ACTIVE,
    CLOSED,
    DISABLED,
    HALF_OPEN,
    OPEN,
    UNREGISTERED,
    Breaker,
    BreakerPolicy,
    Clock,
    Publish,
)
from llmspell.hooks.builtin import BUILTINS
from llmspell.hooks.handle import Hook, HookHandle
from llmspell.hooks.points import (
    CANONICAL,
    CUSTOM_PREFIX,
    POINTS,
    aliases_of,
    is_fired,
    resolve_point,
    resolve_priority,
)
from llmspell.hooks.results import (
    CANCEL,
    CONTINUE,
    MODIFIED,
    SKIP,
    HookContext,
    HookOutcome,
    HookResult,
    Skipped,
    to_result,
)
from llmspell.protocols import OWN_PREFIX, FireContext

logger = logging.getLogger("llmspell.hooks")

#: ``observer(ctx, action, elapsed_seconds)``: sees every firing after its hooks ran.
Observer = Callable[[HookContext, str, float], None]

_MISSING: Any = object()
_MAX_WARNED = 1024  # (point, hook, action) triples warned about once; later ones every time


class _Chain:
    """The hooks that run at one point, sorted; replaced (never mutated) on every change."""

    __slots__ = ("hooks", "point", "probe_at")

    def __init__(self, point: str, hooks: tuple[HookHandle, ...], probe_at: float) -> None:
        self.point = point
        self.hooks = hooks
        self.probe_at = probe_at  # clock time an open hook may be probed again; 0: none


class HookRegistry:
    """Hooks by point, with priorities, a circuit breaker and built-in observers.

    Thread-safe: registration changes are serialised; firing reads immutable chains.
    ``HookRegistry.Skipped`` is the class :meth:`before` returns for a skip.

    Args:
        publish: called as ``publish(type, data, correlation_id=, session_id=, source=)`` to
            report ``hook.error`` and ``hook.circuit_*`` events (``EventBus.publish`` fits).
        breaker: when a hook's circuit opens and when it is probed again.
        default_time_budget: seconds a hook may take per call unless it names its own budget;
            None means hooks are not timed.
        max_hooks: how many hooks may be registered at once.
        clock: what the circuit breaker's cool-downs and the hooks' time budgets are measured
            on (default ``time.monotonic``; a test passes a manual clock instead of sleeping).
    """

    Skipped: ClassVar[type[Skipped]] = Skipped

    def __init__(
        self,
        *,
        publish: Publish | None = None,
        breaker: BreakerPolicy | None = None,
        default_time_budget: float | None = None,
        max_hooks: int = default("runtime.hooks.max_hooks"),
        clock: Clock = time.monotonic,
    ) -> None:
        self.max_hooks = max_hooks
        self.default_time_budget = _budget(default_time_budget, "default_time_budget")
        self._lock = threading.RLock()
        self._breaker = Breaker(breaker or BreakerPolicy(), publish, self._lock, self._rebuild,
                                clock)
        self._seq = itertools.count(1)
        self._hooks: dict[str, builtins.list[HookHandle]] = {}  # canonical point -> handles
        self._by_id: dict[str, HookHandle] = {}
        self._observers: tuple[Observer, ...] = ()
        self._executed_observers: tuple[Observer, ...] = ()  # only firings where hooks ran
        self._builtins: dict[str, Any] = {}
        self._warned: set[tuple[str, str | None, str]] = set()
        # Every accepted spelling of a point -> its chain, or None when firing it does nothing.
        # Custom points appear once something is registered at them.
        self._chains: dict[str, _Chain | None] = dict.fromkeys(CANONICAL)
        #: Changes on every change of any point's hooks (registered, removed, enabled,
        #: disabled, tripped): what a caller keeping a :meth:`list` of a point compares.
        self.generation = 0
        #: point -> (generation, the names of the user's hooks there): see user_names_at.
        self._user_names: dict[str, tuple[int, tuple[str, ...]]] = {}

    # -- registration ---------------------------------------------------------------------

    def register(
        self,
        point: str,
        fn: Hook,
        *,
        priority: str | int = "normal",
        name: str | None = None,
        required: bool = False,
        time_budget: float | None = None,
        expect_unfired: bool = False,
    ) -> HookHandle:
        """Register ``fn(ctx) -> result`` at ``point``.

        A built-in point that nothing fires (not in ``llmspell.hooks.points.FIRED``) still
        takes the hook, but the handle's ``notice`` says so and a warning is logged, unless
        ``expect_unfired``.

        Args:
            point: a hook point, an rs-llmspell alias or ``custom:<name>``.
            fn: called with a :class:`HookContext`; returns None, a :class:`HookResult`, a
                bool, a string or a dict (see :mod:`llmspell.hooks.results`).
            priority: ``highest``, ``high``, ``normal``, ``low``, ``lowest`` or an integer in
                -1000..1000; larger runs earlier, ties run in registration order.
            name: for messages and events; defaults to the function's name.
            required: the operation fails (HookError) when this hook fails, and the breaker
                never disables it.
            time_budget: seconds per call before it counts as an overrun (default: the
                registry's ``default_time_budget``).
            expect_unfired: the caller knows the point is not fired yet: no warning.

        Raises:
            ValidationError: unknown point, bad priority, non-callable ``fn`` or bad budget.
            ResourceLimitExceeded: ``max_hooks`` hooks are registered already.
        """
        canonical = resolve_point(point)
        if not callable(fn):
            raise ValidationError("fn", "must be callable", got=fn)
        rank = resolve_priority(priority)
        budget = _budget(time_budget, "time_budget")
        with self._lock:
            if len(self._by_id) >= self.max_hooks:
                raise ResourceLimitExceeded(
                    f"cannot register a hook at '{canonical}': the registry holds "
                    f"{len(self._by_id)} hooks, its max_hooks limit"
                )
            seq = next(self._seq)
            label = name or getattr(fn, "__name__", None) or f"hook-{seq}"
            handle = HookHandle(
                self, seq, canonical, fn, rank, str(label), bool(required),
                self.default_time_budget if budget is None else budget,
            )
            self._hooks.setdefault(canonical, []).append(handle)
            self._by_id[handle.id] = handle
            self._rebuild(canonical)
        if not is_fired(canonical):
            handle.notice = (f"hook point '{canonical}' is not fired yet: nothing in llmspell "
                             "fires it; the hook runs only when code fires it itself "
                             "(Hook.fire, hooks.fire)")
            if not expect_unfired:
                logger.warning("hook '%s': %s", handle.name, handle.notice)
        return handle

    def unregister(self, hook: HookHandle | str) -> bool:
        """Remove a hook by handle or id; False if it is not (or no longer) registered."""
        hook_id = _hook_id(hook)
        with self._lock:
            handle = self._by_id.pop(hook_id, None)
            if handle is None:
                return False
            self._hooks[handle.point].remove(handle)
            handle.state = UNREGISTERED
            self._rebuild(handle.point)
            return True

    def get(self, hook_id: str) -> HookHandle:
        """The handle with ``hook_id``.

        Raises:
            ValidationError: no hook has that id.
        """
        handle = self._by_id.get(hook_id) if isinstance(hook_id, str) else None
        if handle is None:
            raise ValidationError("hook_id", "no registered hook has this id", got=hook_id)
        return handle

    def list(
        self,
        point: str | None = None,
        *,
        name: str | None = None,
        state: str | None = None,
        where: Callable[[HookHandle], bool] | None = None,
    ) -> builtins.list[HookHandle]:
        """Registered hooks in the order they run (point by point), optionally filtered.

        Args:
            point: only hooks at this point (any accepted spelling).
            name: only hooks with this name.
            state: only hooks in this state (``closed``, ``open``, ...).
            where: only hooks for which this returns True.

        Raises:
            ValidationError: ``point`` is not a hook point.
        """
        points = [resolve_point(point)] if point is not None else None
        if where is not None and not callable(where):
            raise ValidationError("where", "must be a function of a hook handle, or None",
                                  got=where)
        with self._lock:
            handles = [
                h for p in (points if points is not None else builtins.list(self._hooks))
                for h in sorted(self._hooks.get(p, ()), key=HookHandle.run_order)
            ]
        return [
            h for h in handles
            if (name is None or h.name == name)
            and (state is None or h.state == state)
            and (where is None or where(h))
        ]

    def user_names_at(self, point: str) -> tuple[str, ...]:
        """The names of the hooks registered at ``point`` (any accepted spelling, any state)
        that are the user's, not llmspell's own (``OWN_PREFIX``), in run order; listed again only
        when the hooks changed (:attr:`generation`): a call asks at every point it fires,
        and a listing takes the lock and sorts."""
        generation = self.generation  # read first: a change during the listing is seen next
        if point.__class__ is not str:
            point = resolve_point(point)  # a bad one raises (and may not be hashable)
        kept = self._user_names.get(point)
        if kept is None or kept[0] != generation:
            kept = (generation, tuple(h.name for h in self.list(point)
                                      if not h.name.startswith(OWN_PREFIX)))
            self._user_names[point] = kept
        return kept[1]

    def has(self, point: str) -> bool:
        """Whether firing ``point`` would run anything. Cheap: a hot path can skip the call."""
        if point.__class__ is not str:
            point = resolve_point(point)
        return self._chains.get(point) is not None

    # -- circuit breaker ------------------------------------------------------------------

    def enable(self, hook: HookHandle | str) -> None:
        """Put a disabled or tripped hook back in its chain (publishes ``hook.circuit_closed``
        if its circuit was open).

        Raises:
            ValidationError: the hook is not registered.
        """
        handle = self._handle(hook)
        with self._lock:
            was = handle.state
            handle.state = CLOSED
            handle.failures = 0
            self._rebuild(handle.point)
        if was in (OPEN, HALF_OPEN):
            self._breaker.report(handle, "hook.circuit_closed", "re-enabled")

    def disable(self, hook: HookHandle | str) -> None:
        """Take a hook out of its chain until :meth:`enable` (no breaker event).

        Raises:
            ValidationError: the hook is not registered.
        """
        handle = self._handle(hook)
        with self._lock:
            handle.state = DISABLED
            self._rebuild(handle.point)

    # -- firing ---------------------------------------------------------------------------

    def fire(
        self,
        point: str,
        data: Any = None,
        *,
        component: str | None = None,
        correlation_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> HookOutcome:
        """Run the hooks at ``point`` and return what they decided.

        Hooks run by priority. ``modified`` replaces the data for later hooks and for the
        caller; ``skip`` and ``retry`` stop the chain and are returned for the caller to
        honour (:meth:`run` does); ``cancel`` stops the chain and raises.

        Raises:
            HookCancelled: a hook cancelled; carries the point, hook name and reason.
            HookError: a hook registered ``required`` failed.
            ValidationError: ``point`` is not a hook point, or ``metadata`` not a dict.
        """
        if point.__class__ is not str:
            point = resolve_point(point)
        if metadata is not None and metadata.__class__ is not dict:
            _check_metadata(metadata)
        chain = self._chains.get(point, _MISSING)
        if chain is None:
            return HookOutcome(data)
        if chain is _MISSING:
            chain = self._unregistered_chain(point)
            if chain is None:
                return HookOutcome(data)
        if chain.probe_at and chain.probe_at <= self._breaker.clock():
            self._breaker.probe(chain.point, self._hooks.get(chain.point, ()))
            chain = self._chains.get(chain.point) or chain
        observers = self._observers
        if self._executed_observers and chain.hooks:
            observers = observers + self._executed_observers
        started = time.perf_counter() if observers else 0.0
        ctx = HookContext(
            chain.point, component, correlation_id, session_id, data,
            {} if metadata is None else metadata,
        )
        breaker = self._breaker
        clock = breaker.clock
        elapsed = 0.0
        outcome: HookOutcome | None = None
        action = CONTINUE
        decider: str | None = None
        try:
            for hook in chain.hooks:
                budget = hook.time_budget
                try:
                    if budget is None:
                        result = hook.fn(ctx)
                    else:
                        called = clock()
                        result = hook.fn(ctx)
                        elapsed = clock() - called
                    if result is not None and result.__class__ is not HookResult:
                        result = to_result(result)
                except HookCancelled:
                    raise
                except Exception as exc:
                    breaker.failed(hook, ctx, exc)
                    continue
                if budget is not None and elapsed > budget:
                    breaker.overran(hook, ctx, elapsed)
                elif hook.failures:
                    breaker.recovered(hook)
                if result is None:
                    continue
                kind = result.action
                if kind == CONTINUE:
                    continue
                if kind == MODIFIED:
                    ctx.data = result.data
                    action = MODIFIED
                    decider = hook.name
                    continue
                if kind == CANCEL:
                    raise HookCancelled(chain.point, result.reason, hook=hook.name)
                outcome = HookOutcome(
                    ctx.data, kind, result.result, result.reason, result.delay, result.attempts,
                    hook.name,
                )
                break
        except HookCancelled:
            if observers:
                self._observe(observers, ctx, CANCEL, started)
            raise
        except HookError:
            if observers:
                self._observe(observers, ctx, "error", started)
            raise
        if outcome is None:
            outcome = HookOutcome(ctx.data, action, hook=decider)
        if observers:
            self._observe(observers, ctx, outcome.action, started)
        return outcome

    def run(
        self,
        point: str,
        data: Any,
        operation: Callable[[Any], Any],
        *,
        after: str | None = None,
        error: str | None = None,
        component: str | None = None,
        correlation_id: str | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Any:
        """Run ``operation(data)`` inside its hook points, honouring every result.

        See :func:`llmspell.hooks.runner.run` for the full rules. In short: ``point`` fires
        first (skip returns the hook's ``result`` without running the operation; retry waits
        and fires it again); ``after`` fires with the result as data (modified replaces the
        result; retry runs the operation again); ``error`` fires when the operation raises
        (retry runs it again, anything else re-raises). A retry's ``attempts`` caps the total
        number of attempts.

        Raises:
            HookCancelled: a hook cancelled, or kept asking to retry past its attempts.
            HookError: a required hook failed.
            ValidationError: a point is not a hook point.
            Exception: whatever ``operation`` raised, when no error hook retried it.
        """
        if (point.__class__ is not str or (after is not None and after.__class__ is not str)
                or (error is not None and error.__class__ is not str)):
            for given, argument in ((point, "point"), (after, "after"), (error, "error")):
                if given is not None:
                    resolve_point(given, argument=argument)
        if metadata is not None and metadata.__class__ is not dict:
            _check_metadata(metadata)
        chains = self._chains
        if (
            chains.get(point, _MISSING) is None
            and (after is None or chains.get(after, _MISSING) is None)
            and (error is None or chains.get(error, _MISSING) is None)
        ):
            return operation(data)
        return runner.run(
            self, point, data, operation, after=after, error=error, component=component,
            correlation_id=correlation_id, session_id=session_id, metadata=metadata,
        )

    def before(self, point: str, data: Any, **context: Unpack[FireContext]) -> Any:
        """Fire ``point`` before an operation: the data to go on with, or a ``Skipped``.

        ``context``: ``component``, ``correlation_id``, ``session_id``, ``metadata``, as for
        :meth:`fire`. The one call a subsystem makes before an operation it lets hooks guard.
        ``modified`` data is returned where the point honours it; ``skip`` returns
        :class:`~llmspell.hooks.results.Skipped` (``.result``, ``.reason``); ``retry`` waits and
        fires again. Outcomes the point does not honour (``llmspell.hooks.points.TABLE``) are
        reported as ``hook.outcome_ignored`` and otherwise ignored. With nothing registered
        this returns ``data`` at once.

        Raises:
            HookCancelled: a hook cancelled, or still asked to retry with no attempts left.
            HookError: a required hook failed.
            ValidationError: ``point`` is not a hook point.
        """
        if point.__class__ is not str:
            point = resolve_point(point)
        if self._chains.get(point, _MISSING) is None:
            return data
        outcome = runner.decide(self, point, data, **context)
        if outcome.action == SKIP:
            return Skipped(outcome.result, outcome.reason)
        return outcome.data

    def after(self, point: str, data: Any, **context: Unpack[FireContext]) -> Any:
        """Fire ``point`` after something happened: the data, modified where the point
        honours it (other outcomes are reported, as in :meth:`before`).

        Raises:
            HookCancelled: a hook cancelled (the change it reports stays made).
            HookError: a required hook failed.
            ValidationError: ``point`` is not a hook point.
        """
        if point.__class__ is not str:
            point = resolve_point(point)
        if self._chains.get(point, _MISSING) is None:
            return data
        return runner.decide(self, point, data, **context).data

    def decide(self, point: str, data: Any = None, **context: Unpack[FireContext]) -> HookOutcome:
        """Fire ``point`` and return the outcome as the point honours it (what ``Hook.fire``
        gives a script): a honoured retry at a before-point already waited out and fired again
        (at an after or error point it comes back, for the caller to run its operation again),
        anything not honoured reported and turned into continue.

        Raises:
            as :meth:`before`.
        """
        if point.__class__ is not str:
            point = resolve_point(point)
        if self._chains.get(point, _MISSING) is None:
            return HookOutcome(data)
        return runner.decide(self, point, data, **context)

    def report_ignored(self, point: str, action: str, outcome: HookOutcome,
                       honoured: frozenset[str], *, correlation_id: str | None = None,
                       session_id: str | None = None) -> None:
        """Report that a hook at ``point`` answered ``action``, which the point does not
        honour: a ``hook.outcome_ignored`` event each time, a warning once per point, hook and
        action."""
        canonical = resolve_point(point)
        allowed = sorted((*honoured, CANCEL))
        key = (canonical, outcome.hook, action)
        if key not in self._warned:
            if len(self._warned) < _MAX_WARNED:
                self._warned.add(key)
            logger.warning(
                "hook '%s' at '%s' answered '%s', which this point does not honour (it "
                "honours %s); ignored", outcome.hook, canonical, action, ", ".join(allowed),
            )
        ctx = HookContext(canonical, None, correlation_id, session_id, None, {})
        self._breaker.emit("hook.outcome_ignored", ctx, {
            "point": canonical, "action": action, "hook": outcome.hook, "honours": allowed,
        })

    # -- observers and built-ins ----------------------------------------------------------

    def observe(self, observer: Observer, *, executed_only: bool = False) -> Observer:
        """Call ``observer(ctx, action, elapsed)`` after every firing of every point.

        Observers see points with no hooks too (so observing makes every fire take the slow
        path), unless ``executed_only``: then only firings where at least one hook ran, and
        points with no hooks stay free. ``action`` is ``continue``, ``modified``, ``skip``,
        ``retry``, ``cancel`` or ``error``; ``elapsed`` is the seconds the hooks took. An
        observer that raises is logged and otherwise ignored. Returns ``observer`` (to pass to
        :meth:`unobserve`).
        """
        with self._lock:
            if executed_only:
                self._executed_observers = (*self._executed_observers, observer)
            else:
                self._observers = (*self._observers, observer)
                self._rebuild_all()
        return observer

    def unobserve(self, observer: Observer) -> bool:
        """Stop calling ``observer``; False if it was not observing."""
        with self._lock:
            if observer in self._executed_observers:
                self._executed_observers = tuple(
                    o for o in self._executed_observers if o is not observer)
                return True
            if observer not in self._observers:
                return False
            self._observers = tuple(o for o in self._observers if o is not observer)
            self._rebuild_all()
            return True

    def enable_builtin(self, name: str, **options: Any) -> Any:
        """Turn on a built-in hook by name and return it (the same one if already on).

        Names: ``logging`` (:class:`~llmspell.hooks.builtin.HookLogger`), ``metrics``
        (:class:`~llmspell.hooks.builtin.HookMetrics`), ``cost``
        (:class:`~llmspell.hooks.builtin.CostTracker`); ``options`` go to its constructor.

        Raises:
            ValidationError: an unknown name.
        """
        factory = BUILTINS.get(name) if isinstance(name, str) else None
        if factory is None:
            raise ValidationError(
                "name", "must be one of " + ", ".join(sorted(BUILTINS)), got=name
            )
        with self._lock:
            current = self._builtins.get(name)
            if current is None:
                current = self._builtins[name] = factory(**options)
                self.observe(current)
            return current

    def disable_builtin(self, name: str) -> bool:
        """Turn off a built-in hook; False if it was not on."""
        with self._lock:
            current = self._builtins.pop(name, None)
            return current is not None and self.unobserve(current)

    def builtin(self, name: str) -> Any:
        """The built-in hook turned on under ``name``, or None.

        Raises:
            ValidationError: ``name`` is not one of the built-in hooks' names.
        """
        if not isinstance(name, str) or name not in BUILTINS:
            raise ValidationError("name", "must be one of " + ", ".join(sorted(BUILTINS)),
                                  got=name)
        return self._builtins.get(name)

    # -- internals ------------------------------------------------------------------------

    def _handle(self, hook: HookHandle | str) -> HookHandle:
        return self.get(_hook_id(hook))

    def _unregistered_chain(self, point: str) -> _Chain | None:
        """A point not in ``_chains``: validate it; with observers on, give it a chain."""
        point = resolve_point(point)  # only custom points get here: every other is listed
        if not self._observers:
            return None
        with self._lock:
            self._rebuild(point)
            return self._chains[point]

    def _rebuild(self, point: str) -> None:
        """Recompute the chain of canonical ``point`` (caller holds the lock)."""
        self.generation += 1
        handles = self._hooks.get(point, [])
        running = tuple(sorted((h for h in handles if h.state in ACTIVE), key=HookHandle.run_order))
        probe_at = self._breaker.probe_at(handles)
        chain = (
            _Chain(point, running, probe_at)
            if running or probe_at or self._observers else None
        )
        for spelling in aliases_of(point):
            self._chains[spelling] = chain

    def _rebuild_all(self) -> None:
        customs = {p for p in self._chains if p.startswith(CUSTOM_PREFIX)}
        for point in {*POINTS, *self._hooks, *customs}:
            self._rebuild(point)

    def _observe(
        self, observers: tuple[Observer, ...], ctx: HookContext, action: str, started: float
    ) -> None:
        elapsed = time.perf_counter() - started
        for observer in observers:
            try:
                observer(ctx, action, elapsed)
            except Exception:
                logger.exception("hook observer %r failed at '%s'", observer, ctx.point)


def _budget(value: object, argument: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ValidationError(argument, "must be a number of seconds > 0, or None", got=value)


def _hook_id(hook: object) -> str:
    """The id of ``hook``, a :class:`HookHandle` or an id."""
    if isinstance(hook, str):
        return hook
    if isinstance(hook, HookHandle):
        return hook.id
    raise ValidationError("hook", "must be a hook handle or a hook id", got=hook)


def _check_metadata(metadata: object) -> None:
    """A hook call's ``metadata``: a dict (a subclass of one too)."""
    if not isinstance(metadata, dict):
        raise ValidationError("metadata", "must be a dict or None", got=metadata)
