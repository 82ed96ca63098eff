"""What a hook outcome means to the operation that fired the point: the one place that says.

Every subsystem that fires a hook point goes through one of these calls (methods of
``HookRegistry``, all built on :func:`decide`):

- ``before``: a point fired before an operation. Returns the data the operation should
  use (``modified`` data where the point honours it), or a ``Skipped``
  (:class:`~llmspell.hooks.results.Skipped`) when a hook skipped the operation. ``retry``
  waits ``delay`` seconds and fires the point again with the original data, up to the hook's
  ``attempts`` (the first included); with none left it raises HookCancelled.
- ``after``: a point fired after something happened (``state:after_write``,
  ``resource:limit_exceeded``). Returns the data, modified where the point honours it.
- :func:`run`: an operation wrapped in before, after and error points (tools, agents).

``cancel`` always raises HookCancelled. Any other outcome the point does not honour (its row in
:data:`llmspell.hooks.points.TABLE`) is *reported*, not dropped: a warning on the
``llmspell.hooks`` logger (once per point, hook and outcome) and a ``hook.outcome_ignored``
event ``{point, action, hook, honours}`` on every occurrence; the operation then goes on as if
the hook had said continue. Custom points honour everything.

:func:`run` in detail:

1. ``before`` fires with ``data`` as in ``HookRegistry.before``; a skip returns the skipping
   hook's ``result`` (None if it gave none) and fires neither ``after`` nor ``error``.
2. ``operation(data)`` runs. If it raises and ``error`` is given, ``error`` fires with
   ``{"error": str(exc), "error_type": name, "input": data}``: ``retry`` waits and starts a
   new attempt at step 1; ``cancel`` raises HookCancelled (chained to the original error);
   anything else re-raises the original error.
3. ``after`` fires with the operation's result as data (the input is in
   ``ctx.metadata["input"]``). ``modified`` replaces the result; ``retry`` waits and starts a
   new attempt at step 1 (a hook rejecting an LLM answer, say).

Attempts count across the whole call. When a retry is asked for with no attempts left, the
call fails: with the operation's own error at the error point, with HookCancelled (naming the
point and the number of attempts) elsewhere. ``ctx.metadata`` is one dict for the whole call,
holding ``attempt`` (1, 2, ...), so hooks can pass notes from before to after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.errors import HookCancelled
from llmspell.hooks.points import RERUNS, honours, resolve_point
from llmspell.hooks.results import CONTINUE, MODIFIED, RETRY, SKIP, HookOutcome

if TYPE_CHECKING:
    from llmspell.hooks.registry import HookRegistry

Sleep = Callable[[float], Any]


def decide(
    registry: HookRegistry,
    point: str,
    data: Any,
    *,
    component: str | None = None,
    correlation_id: str | None = None,
    session_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    refire: bool | None = None,
    sleep: Sleep = time.sleep,
) -> HookOutcome:
    """Fire ``point`` and keep only what the point honours.

    A honoured retry is waited out and the point fired again when ``refire`` (default: unless
    the point is an after or error point, :data:`~llmspell.hooks.points.RERUNS`, where a retry
    means running the operation again: it is returned for the owner to do, as :func:`run`
    does). Every outcome the point does not honour is reported and turned into ``continue``.

    Raises:
        HookCancelled: a hook cancelled, or still asked to retry with no attempts left.
        HookError: a required hook failed.
        ValidationError: ``point`` is not a hook point.
    """
    if metadata is None:
        meta = {"attempt": 1}
    else:
        meta = metadata
        meta.setdefault("attempt", 1)
    outcome = registry.fire(point, data, component=component, correlation_id=correlation_id,
                            session_id=session_id, metadata=meta)
    action = outcome.action
    if outcome.data is data and action in (CONTINUE, MODIFIED):
        return outcome  # the common case, kept cheap: nothing to honour or report
    allowed = honours(point)
    if action == RETRY and RETRY in allowed and (point not in RERUNS if refire is None
                                                 else refire):
        attempt = meta["attempt"]
        while action == RETRY:
            if attempt >= outcome.attempts:
                raise _gave_up(point, attempt, outcome)
            sleep(outcome.delay)
            attempt += 1
            meta["attempt"] = attempt
            outcome = registry.fire(point, data, component=component,
                                    correlation_id=correlation_id, session_id=session_id,
                                    metadata=meta)
            action = outcome.action
    kept = outcome.data
    if kept is data and action in (CONTINUE, MODIFIED):
        return outcome
    if kept is not data and MODIFIED not in allowed:
        registry.report_ignored(point, MODIFIED, outcome, allowed,
                                correlation_id=correlation_id, session_id=session_id)
        kept = data
    if action in (SKIP, RETRY) and action not in allowed:
        registry.report_ignored(point, action, outcome, allowed,
                                correlation_id=correlation_id, session_id=session_id)
        action = CONTINUE
    if kept is outcome.data and action == outcome.action:
        return outcome
    if action in (MODIFIED, CONTINUE):
        return HookOutcome(kept, MODIFIED if kept is not data else CONTINUE)
    return HookOutcome(kept, action, outcome.result, outcome.reason, outcome.delay,
                       outcome.attempts, outcome.hook)


def _gave_up(point: str, attempt: int, outcome: HookOutcome) -> HookCancelled:
    return HookCancelled(
        resolve_point(point),
        f"a hook still asked to retry after {attempt} of {outcome.attempts} attempts",
    )


def run(
    registry: HookRegistry,
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
    sleep: Sleep = time.sleep,
) -> Any:
    """Run ``operation(data)`` inside the ``point``/``after``/``error`` hook points.

    Args:
        registry: the HookRegistry.
        point: fired before the operation.
        data: what before-hooks see and the operation receives.
        operation: called with the (possibly modified) data; its return value is the result.
        after: fired with the result, or None.
        error: fired when the operation raises, or None.
        component, correlation_id, session_id: passed to every hook context.
        metadata: copied into the one metadata dict the hooks of this call share.
        sleep: how to wait before a retry.

    Raises:
        HookCancelled: a hook cancelled, or asked to retry with no attempts left.
        HookError: a required hook failed.
        Exception: the operation's own error, unless an error hook retried it.
    """
    meta = dict(metadata) if metadata else {}
    context: dict[str, Any] = {"component": component, "correlation_id": correlation_id,
               "session_id": session_id, "metadata": meta, "sleep": sleep}
    attempt = 0
    while True:
        attempt += 1
        meta["attempt"] = attempt
        ahead = decide(registry, point, data, **context)
        if ahead.action == SKIP:
            return ahead.result
        current = ahead.data
        attempt = meta["attempt"]  # before-point retries count too
        try:
            result = operation(current)
        except HookCancelled:
            raise
        except Exception as exc:
            if error is None:
                raise
            failed = decide(
                registry, error,
                {"error": str(exc), "error_type": type(exc).__name__, "input": current},
                refire=False, **context,
            )
            if failed.action != RETRY or attempt >= failed.attempts:
                raise
            sleep(failed.delay)
            continue
        if after is None:
            return result
        meta["input"] = current
        done = decide(registry, after, result, refire=False, **context)
        if done.action == RETRY:
            if attempt >= done.attempts:
                raise _gave_up(after, attempt, done)
            sleep(done.delay)
            continue
        return done.data
