"""Replay, time travel and fork, on the session journal (DESIGN.md section 11).

- :mod:`~.recording`: run a script recorded in a session (script text, args, config digest,
  inputs); :mod:`~.tape`: the clock, environment, seed and id reads of a run.
- :mod:`~.runner`: replay a session's runs (exact or live), with :mod:`~.source` serving the
  calls from the journal and :mod:`~.steps` for step mode, breakpoints and progress.
- :mod:`~.fork`: a new session with another's state and artifacts at a seq.
- :mod:`~.compare`: the structural diff replay reports (and ``compare_json``).

State-at and diff live with sessions (``rt.sessions.state_at``, ``rt.sessions.diff``).
``docs/replay.md`` is the user guide.
"""

from llmspell.replay.compare import Comparison, compare
from llmspell.replay.fork import fork_session
from llmspell.replay.recording import RunResult, record_run
from llmspell.replay.runner import (
    ReplayReport,
    Run,
    find_runs,
    replay_metadata,
    replay_session,
    replayable_sessions,
)
from llmspell.replay.steps import Breakpoints, ReplayStopped

__all__ = [
    "Breakpoints",
    "Comparison",
    "ReplayReport",
    "ReplayStopped",
    "Run",
    "RunResult",
    "compare",
    "find_runs",
    "fork_session",
    "record_run",
    "replay_metadata",
    "replay_session",
    "replayable_sessions",
]
