"""Sessions: long-running units of work that can be suspended, resumed, inspected and replayed.

``runtime.sessions`` is a :class:`SessionManager`. Modules: :mod:`~.model` (the Session record),
:mod:`~.transitions` (the lifecycle table), :mod:`~.manager` (create, read, move; with the
mixins :mod:`~.current` (the per-thread/per-task current session), :mod:`~.deletion` and
:mod:`~.enforcement` (admission, usage, timeouts)), :mod:`~.changes` (how a record moves),
:mod:`~.active` (the atomic active-session count), :mod:`~.query` and :mod:`~.index` (listing
without full scans), :mod:`~.policies` and :mod:`~.ratelimit` (timeouts, limits, rate limits,
composition), :mod:`~.recording` (state writes, hooks and events into the journal),
:mod:`~.settings` and :mod:`~.clock`. ``docs/sessions.md`` is the user guide;
:mod:`llmspell.journal` holds the journal itself.
"""

from llmspell.sessions.clock import Clock, ManualClock, SystemClock
from llmspell.sessions.manager import SessionManager
from llmspell.sessions.model import (
    ACTIVE,
    ARCHIVED,
    COMPLETED,
    FAILED,
    STATUSES,
    SUSPENDED,
    Counters,
    Limits,
    Session,
)
from llmspell.sessions.policies import (
    COMPOSITIONS,
    PolicyChain,
    Refusal,
    ResourceLimits,
    Usage,
    Verdict,
)
from llmspell.sessions.ratelimit import RateLimits, TokenBucket
from llmspell.sessions.recording import SessionRecorder
from llmspell.sessions.settings import SessionSettings
from llmspell.sessions.transitions import OPERATIONS, TABLE, TARGETS

__all__ = [
    "ACTIVE",
    "ARCHIVED",
    "COMPLETED",
    "COMPOSITIONS",
    "FAILED",
    "OPERATIONS",
    "STATUSES",
    "SUSPENDED",
    "TABLE",
    "TARGETS",
    "Clock",
    "Counters",
    "Limits",
    "ManualClock",
    "PolicyChain",
    "RateLimits",
    "Refusal",
    "ResourceLimits",
    "Session",
    "SessionManager",
    "SessionRecorder",
    "SessionSettings",
    "SystemClock",
    "TokenBucket",
    "Usage",
    "Verdict",
]
