"""How an operation honours its hooks: :func:`run`, behind ``HookRegistry.run``.

Subsystems that guard an operation with hooks (a state write, a tool call, an agent step) call
``hooks.run(before, data, operation, after=..., error=...)`` instead of firing points by hand:

1. ``before`` fires with ``data``. ``modified`` data is what ``operation`` receives. ``skip``
   means the operation does not run: ``run`` returns the skipping hook's ``result`` (None if it
   gave none) and fires neither ``after`` nor ``error``. ``retry`` waits ``delay`` seconds and
   fires ``before`` again (with the original data). ``cancel`` raises HookCancelled.
2. ``operation(data)`` runs. If it raises and ``error`` is given, ``error`` fires with
   ``{"error": str(exc), "error_type": name, "input": data}``: ``retry`` waits and starts a
   new attempt at step 1; ``cancel`` raises HookCancelled (chained to the original error);
   anything else re-raises the original error.
3. ``after`` fires with the operation's result as data (the input is in
   ``ctx.metadata["input"]``). ``modified`` replaces the result; ``retry`` waits and starts a
   new attempt at step 1 (a hook rejecting an LLM answer, say); ``skip`` just stops the
   remaining after-hooks.

A retry's ``attempts`` caps the total number of attempts, the first included. When a retry is
asked for with no attempts left, the call fails: with the operation's own error at the error
point, with HookCancelled (naming the point and the number of attempts) elsewhere.
``ctx.metadata`` is one dict for the whole call, holding ``attempt`` (1, 2, ...), so hooks can
pass notes from before to after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmspell.errors import HookCancelled
from llmspell.hooks.points import resolve_point
from llmspell.hooks.results import RETRY, SKIP, HookOutcome

Fire = Callable[..., HookOutcome]


def run(
    fire: Fire,
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
    sleep: Callable[[float], Any] = time.sleep,
) -> Any:
    """Run ``operation(data)`` inside the ``point``/``after``/``error`` hook points.

    Args:
        fire: ``HookRegistry.fire``.
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
    context = {"component": component, "correlation_id": correlation_id,
               "session_id": session_id, "metadata": meta}
    attempt = 0
    while True:
        attempt += 1
        meta["attempt"] = attempt
        before = fire(point, data, **context)
        if before.action == SKIP:
            return before.result
        if before.action == RETRY:
            _wait_or_give_up(before, attempt, point, sleep)
            continue
        current = before.data
        try:
            result = operation(current)
        except HookCancelled:
            raise
        except Exception as exc:
            if error is None:
                raise
            failed = fire(
                error, {"error": str(exc), "error_type": type(exc).__name__, "input": current},
                **context,
            )
            if failed.action != RETRY or attempt >= failed.attempts:
                raise
            sleep(failed.delay)
            continue
        if after is None:
            return result
        meta["input"] = current
        done = fire(after, result, **context)
        if done.action == RETRY:
            _wait_or_give_up(done, attempt, after, sleep)
            continue
        return done.data


def _wait_or_give_up(
    outcome: HookOutcome, attempt: int, point: str, sleep: Callable[[float], Any]
) -> None:
    if attempt >= outcome.attempts:
        raise HookCancelled(
            resolve_point(point),
            f"a hook still asked to retry after {attempt} of {outcome.attempts} attempts",
        )
    sleep(outcome.delay)
