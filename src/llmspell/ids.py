"""Correlation ids: the one rule every subsystem uses to tie an operation's hook firings,
events and journal entries together.

32 hex digits (128 bits, the form of ``uuid4().hex``) from :mod:`random`: an id tells
operations apart and guards nothing, and ``uuid4``/``os.urandom`` cost a system call per id
(a few microseconds on every agent call, session and artifact write). ``random`` reseeds in a
child after a fork, so two processes do not repeat each other's ids.
"""

from __future__ import annotations

import random

_bits = random.getrandbits


def correlation_id() -> str:
    """A new correlation id: 32 random hex digits."""
    return f"{_bits(128):032x}"
