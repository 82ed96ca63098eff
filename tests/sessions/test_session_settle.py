"""SessionManager.settle: a reservation made at admit replaced by measured amounts, refused
after counting when they pass a token or cost limit."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.errors import ResourceLimitExceeded
from llmspell.runtime import Runtime


def test_settle_replaces_the_reservation_and_refuses_past_a_limit() -> None:
    with Runtime.memory() as rt:
        fired: list[Any] = []
        rt.hooks.register("resource:limit_exceeded", lambda ctx: fired.append(ctx.data))
        manager = rt.sessions
        s = manager.create("s", limits={"tokens": 100, "cost": 1.0})
        manager.admit(s, "agent.execute", tokens=40)
        assert manager.get(s).counters.tokens == 40
        settled = manager.settle(s, "agent.execute", reserved_tokens=40, tokens=100, cost=0.5)
        assert settled is not None and settled.counters.tokens == 100  # at the limit: fine
        assert fired == []
        with pytest.raises(ResourceLimitExceeded, match=r"tokens 101 > limit 100"):
            manager.settle(s, "agent.execute", tokens=1)
        with pytest.raises(ResourceLimitExceeded, match=r"cost 1\.5 > limit 1"):
            manager.settle(s, "agent.execute", cost=1.0)
        assert manager.get(s).counters.cost == pytest.approx(1.5)  # counted all the same
        assert [f["kind"] for f in fired] == ["agent.execute", "agent.execute"]
        assert manager.settle(None, "agent.execute", tokens=5) is None  # no current session
