"""Sessions: long-running units of work that can be suspended, resumed, inspected and replayed.

``runtime.sessions`` is a :class:`SessionManager`. Modules: :mod:`~.model` (the Session record),
:mod:`~.transitions` (the lifecycle table and how a record moves), :mod:`~.manager` (create,
read, move, delete; the current session), :mod:`~.enforcement` (the manager's policy
enforcer: admission, usage, timeouts), :mod:`~.counters` (the atomic active-session count and
the artifact counters artifact writes carry in their batches), :mod:`~.index` (the store
layout: every ``session/`` key is built there) and :mod:`~.query` (listing without full
scans), :mod:`~.policies` (``[session]`` settings, timeouts, limits, composition) and
:mod:`~.ratelimit`, :mod:`~.recording` (state writes, hooks and events into the journal),
and :mod:`~.clock`. ``docs/sessions.md`` is the user guide;
:mod:`llmspell.journal` holds the journal itself.
"""

from llmspell.sessions.clock import Clock, ManualClock, SystemClock
from llmspell.sessions.index import backup_ranges, in_progress_ranges, record_key
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
    SessionSettings,
    Usage,
    Verdict,
)
from llmspell.sessions.ratelimit import RateLimits, TokenBucket
from llmspell.sessions.recording import SessionRecorder
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
    "backup_ranges",
    "in_progress_ranges",
    "record_key",
]
