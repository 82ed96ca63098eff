"""index_keys pads a new session's creation time with zfill, the general path (updated_key)
with the format spec 016d: both must spell every time alike, a sign, a small or an over-long
number included (a zfill that padded differently would move keys in the index)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llmspell.sessions.index import index_keys, updated_key
from llmspell.sessions.model import Session
from strategies import examples

SID = "01a23ac7-526c-7ec9-8233-b6be148150cc"


def _session(created: float) -> Session:
    return Session(SID, "n", "active", created, created, tags=["a/b", "c"])


def _check(created: float) -> None:
    session = _session(created)
    tail = f"{round(created * 1_000_000):016d}/{SID}"
    keys = index_keys(session)
    assert keys[-1] == updated_key(session)  # a new session: the general path's key
    assert all(key.endswith("/" + tail) for key in keys)


def test_edge_times_pad_as_the_format_spec() -> None:
    for created in (0.0, -0.0, 1e-7, 0.5e-6, -1.5, -1e-6, 1.0, 1764750000.123456,
                    9_999_999_999.999999, 1e10, 1e12, -1e12):
        _check(created)


@settings(max_examples=examples(500))
@given(st.floats(-1e13, 1e13, allow_nan=False))
def test_any_time_pads_as_the_format_spec(created: float) -> None:
    _check(created)
