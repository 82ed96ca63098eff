"""Content the artifact and blob benchmarks store: fresh bytes every call, and log-like text
that compresses the way real conversation logs do."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator


def unique(payload: bytes) -> Iterator[bytes]:
    """``payload`` with a distinct 8-byte prefix on each call: always new content."""
    for i in itertools.count():
        yield i.to_bytes(8, "little") + payload[8:]


def log_text(size: int) -> bytes:
    """``size`` bytes of repetitive, log-like text (deterministic)."""
    rng = random.Random(1)
    words = [b"session", b"agent", b"tool", b"result", b"ok", b"error", b"tokens", b"cost"]
    lines = [b" ".join(rng.choices(words, k=8)) + b" %d\n" % rng.randrange(10_000)
             for _ in range(size // 40 + 1)]
    return b"".join(lines)[:size]
