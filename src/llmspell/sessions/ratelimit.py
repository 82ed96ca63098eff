"""Rate limits as token buckets: global, per session and per operation kind.

A rule is written ``TARGET=COUNT/UNIT`` with an optional ``burst N``:
``global=100/s``, ``session=20/min``, ``agent.execute=5/s burst 10``. ``global`` is one bucket
for the whole runtime, ``session`` one bucket per session, and any other target names an
operation kind (``agent.execute`` matches that kind and ``agent.execute.*``). The burst (the
bucket's size) defaults to the count per unit, at least 1.

Each admitted operation takes one token from every bucket that applies. With ``mode="wait"``
it sleeps (on the injected clock) until a token is there, for at most ``max_wait`` seconds in
all; with ``mode="fail"``, or past ``max_wait``, it is refused with the time after which a
retry would succeed. Buckets live in this process's memory.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

from llmspell.config_schema import default
from llmspell.errors import ValidationError
from llmspell.sessions.clock import Clock
from llmspell.sessions.model import Session
from llmspell.sessions.policies import Refusal, Usage

_RULE = re.compile(
    r"\s*(?P<target>[A-Za-z0-9_.:\-]+)\s*=\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<unit>[a-z]+)"
    r"(?:\s+burst\s+(?P<burst>\d+))?\s*"
)
_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
          "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_RULE_HELP = ("must be rate rules such as 'global=100/s', 'session=20/min' or "
              "'agent.execute=5/s burst 10' (units: s, min, hour, day)")
MAX_SESSION_BUCKETS = 10_000
#: Token amounts this close to a whole token count as one (float rounding of clock reads).
_EPSILON = 1e-6
_MAX_WAITS = 100


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; starts full."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.stamp = clock.now()
        self.lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 if taken, else the seconds until one will be there (not taken)."""
        with self.lock:
            now = self.clock.now()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0 - _EPSILON:
                self.tokens = max(0.0, self.tokens - 1.0)
                return 0.0
            return (1.0 - self.tokens) / self.rate

    def give_back(self) -> None:
        with self.lock:
            self.tokens = min(self.burst, self.tokens + 1.0)


def parse_rule(text: object, index: int = 0) -> tuple[str, float, float]:
    """``"agent.execute=5/s burst 10"`` -> ``("agent.execute", 5.0 per second, burst 10.0)``."""
    match = _RULE.fullmatch(text) if isinstance(text, str) else None
    if match is None or match["unit"] not in _UNITS or float(match["count"]) <= 0:
        raise ValidationError("rate_limits", _RULE_HELP, path=f"[{index}]", got=text)
    count = float(match["count"])
    rate = count / _UNITS[match["unit"]]
    burst = float(match["burst"]) if match["burst"] else max(1.0, count)
    return match["target"], rate, burst


class RateLimits:
    """The rate-limit policy: callable as ``policy(session, usage) -> Refusal | None``."""

    name = "rate_limit"

    def __init__(self, rules: Iterable[str], clock: Clock, *,
                 mode: str = default("session.rate_limit_mode"),
                 max_wait: float = float(default("session.rate_limit_max_wait_seconds"))) -> None:
        if mode not in ("wait", "fail"):
            raise ValidationError("rate_limit_mode", "must be 'wait' or 'fail'", got=mode)
        self.clock = clock
        self.mode = mode
        self.max_wait = max_wait
        self.global_bucket: TokenBucket | None = None
        self.session_rule: tuple[float, float] | None = None
        self.kinds: dict[str, TokenBucket] = {}
        self._sessions: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()
        for i, text in enumerate(rules):
            target, rate, burst = parse_rule(text, i)
            if target == "global":
                self.global_bucket = TokenBucket(rate, burst, clock)
            elif target == "session":
                self.session_rule = (rate, burst)
            else:
                self.kinds[target] = TokenBucket(rate, burst, clock)

    def __bool__(self) -> bool:
        return bool(self.global_bucket or self.session_rule or self.kinds)

    def buckets(self, session: Session | None, kind: str) -> list[tuple[str, TokenBucket]]:
        """The buckets an operation of ``kind`` in ``session`` takes a token from."""
        found = []
        if self.global_bucket is not None:
            found.append(("global", self.global_bucket))
        if session is not None and self.session_rule is not None:
            found.append((f"session {session.id}", self._session_bucket(session.id)))
        for target, bucket in self.kinds.items():
            if kind == target or kind.startswith(target + "."):
                found.append((f"operation {target}", bucket))
        return found

    def __call__(self, session: Session | None, usage: Usage) -> Refusal | None:
        taken: list[TokenBucket] = []
        waited = 0.0
        for label, bucket in self.buckets(session, usage.kind):
            for attempt in range(_MAX_WAITS + 1):
                wait = bucket.take()
                if wait == 0.0:
                    taken.append(bucket)
                    break
                if self.mode == "fail" or waited + wait > self.max_wait or (
                        attempt == _MAX_WAITS):
                    for done in taken:
                        done.give_back()
                    how = ("rate_limit_mode is 'fail'" if self.mode == "fail" else
                           f"waiting would pass rate_limit_max_wait_seconds={self.max_wait:g}")
                    return Refusal(self.name, f"{label} rate limit of {bucket.rate:g}/s "
                                   f"(burst {bucket.burst:g}) reached; retry in {wait:.3g} s "
                                   f"({how})", rate_limited=True, retry_after=wait)
                self.clock.sleep(wait)
                waited += wait
        return None

    def refund(self, session: Session | None, usage: Usage) -> None:
        """Give back the tokens an admitted-then-refused operation took."""
        for _, bucket in self.buckets(session, usage.kind):
            bucket.give_back()

    def _session_bucket(self, session_id: str) -> TokenBucket:
        with self._lock:
            bucket = self._sessions.get(session_id)
            if bucket is None:
                assert self.session_rule is not None
                rate, burst = self.session_rule
                bucket = self._sessions[session_id] = TokenBucket(rate, burst, self.clock)
                if len(self._sessions) > MAX_SESSION_BUCKETS:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(session_id)
            return bucket
