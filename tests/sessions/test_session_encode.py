"""Session.encode is orjson.dumps(to_record()) byte for byte: its constant forms of the default
limits and counters are taken only when they are the defaults' very objects. The strategies
plant what equals a default without encoding as one (False, 0.0 and -0.0 for an int 0,
0 and -0.0 for the cost, 0 for a None limit)."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.sessions.model import Counters, Limits, Session
from strategies import examples

_lookalikes = st.sampled_from([0, False, 0.0, -0.0, 1, True, 2**40])
_counts = st.one_of(st.just(0), _lookalikes, st.integers(-(2**63), 2**63 - 1))
_costs = st.one_of(st.just(Counters().cost), st.sampled_from([0, 0.0, -0.0, False, 1.5]),
                   st.floats(allow_nan=False, allow_infinity=False))
_limit = st.one_of(st.none(), st.none(), _lookalikes, st.floats(0, 1e6))

_limits = st.one_of(st.builds(Limits), st.builds(Limits, _limit, _limit, _limit, _limit, _limit,
                                                  _limit))
_counters = st.one_of(st.builds(Counters), st.builds(Counters, _counts, _counts, _counts,
                                                      _costs, _counts))
_times = st.one_of(st.none(), st.floats(0, 2e9))


@settings(max_examples=examples(500))
@given(limits=_limits, counters=_counters, name=st.text(max_size=8),
       tags=st.lists(st.text(max_size=4), max_size=3), started=_times,
       metadata=st.dictionaries(st.text(max_size=4), st.integers(-9, 9) | st.text(max_size=4),
                                max_size=3))
def test_encode_is_the_record_json(limits: Limits, counters: Counters, name: str,
                                   tags: list[str], started: float | None,
                                   metadata: dict[str, object]) -> None:
    session = Session("01a23ac7-526c-7ec9-8233-b6be148150cc", name, "active", 1.5, 2.0,
                      "", tags, metadata, None, started, None, None, 30.0, limits,
                      counters, 3.25, 0.0, started, None)
    assert session.encode() == orjson.dumps(session.to_record())


def test_each_lookalike_of_a_default_encodes_as_itself() -> None:
    """Every field of the defaults, set to a value equal to its default that orjson writes
    otherwise, keeps its own form."""
    for name in ("operations", "artifacts", "tokens", "artifact_bytes", "cost"):
        for odd in (False, -0.0, 0.0 if name != "cost" else 0):
            counters = Counters(**{name: odd})
            session = Session("i", "", "active", 1.0, 1.0, counters=counters)
            assert session.encode() == orjson.dumps(session.to_record())
    for name in ("operations", "tokens", "cost", "artifacts", "artifact_bytes", "memory"):
        for odd in (0, False):
            session = Session("i", "", "active", 1.0, 1.0, limits=Limits(**{name: odd}))
            assert session.encode() == orjson.dumps(session.to_record())
