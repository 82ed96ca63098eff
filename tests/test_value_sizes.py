"""Sizes are counted before anything is copied or encoded, and a refused value writes nothing.

A value that holds one string (or bytes, or container) many times is counted as what it will
encode to, and refused past the limit before the encoder builds its text (issue 11, item 3):
the tests spy on the encoder to prove it never ran. A value exactly at the limit is kept
(the count never overestimates). Each public entry point that refuses an oversized value
leaves the store byte-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from backends import runtime_for
from llmspell import codec
from llmspell.errors import ArtifactTooLarge, ResourceLimitExceeded, ValueTooLarge
from llmspell.runtime import Runtime
from llmspell.state import records

LIMIT = 10_000
BIG = "x" * 1_000


class Spy:
    """Stands in for an encoder: records the size of what it was asked to encode."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def __call__(self, value: Any, *args: Any) -> Any:
        self.calls += 1
        return self.real(value, *args)


@pytest.fixture
def mem(tmp_path: Path) -> Any:
    rt = runtime_for("memory", tmp_path, state__max_value_bytes=LIMIT)
    yield rt
    rt.close()


def _dag(depth: int) -> list[Any]:
    node: list[Any] = [BIG]
    for _ in range(depth):
        node = [node, node]
    return node


def _under_many_keys(shared: dict[str, Any]) -> dict[str, Any]:
    return {f"k{i}": shared for i in range(1_000)}


SHARED = {
    "one string 1,000 times": lambda: [BIG] * 1_000,
    "one dict under 1,000 keys": lambda: _under_many_keys({"text": BIG}),
    "a list holding itself twice, 16 levels": lambda: _dag(16),
    "one bytes 1,000 times": lambda: [BIG.encode()] * 1_000,
    "bytes and text": lambda: {"b": b"\x00" * 100, "t": [BIG] * 1_000},
}


@pytest.mark.parametrize("make", SHARED.values(), ids=SHARED.keys())
def test_state_save_refuses_a_shared_value_before_encoding_it(
        mem: Runtime, monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    dumps = Spy(records._dumps)
    monkeypatch.setattr(records, "_dumps", dumps)
    with pytest.raises(ValueTooLarge) as info:
        mem.state.save("global", "k", make())
    assert dumps.calls == 0  # refused before the encoder built any text
    message = str(info.value)
    assert "global/k" in message and f"{LIMIT:,} bytes" in message
    assert "max_value_bytes" in message and "counted before encoding" in message


def test_bytes_shared_many_times_are_not_base64_encoded_past_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    b64 = Spy(codec.base64.b64encode)
    monkeypatch.setattr(codec.base64, "b64encode", b64)
    with pytest.raises(ValueTooLarge):
        codec.to_jsonable([b"y" * 1_000] * 1_000, max_bytes=LIMIT)
    assert b64.calls < 10  # stopped where the count passed the limit, not after 1,000 copies


def test_codec_encode_refuses_before_dumping(monkeypatch: pytest.MonkeyPatch) -> None:
    class Orjson:
        dumps = Spy(orjson.dumps)
        loads = orjson.loads

    monkeypatch.setattr(codec, "orjson", Orjson)
    with pytest.raises(ValueTooLarge, match="must encode to at most 10,000 bytes"):
        codec.encode({"a": [BIG] * 1_000}, max_bytes=LIMIT)
    assert Orjson.dumps.calls == 0


def test_a_long_string_is_refused_before_it_is_encoded(
        mem: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    dumps = Spy(records._dumps)
    monkeypatch.setattr(records, "_dumps", dumps)
    with pytest.raises(ValueTooLarge, match="global/s"):
        mem.state.save("global", "s", "z" * (LIMIT * 10))
    assert dumps.calls == 0


EXACT = [
    [BIG] * 9,
    {"a": BIG, "b": [1, 2.5, True, None, "é"], "c": {}},
    [b"\x00\x01" * 100, "t", [], {"k": b""}],
    (1, (2, (3,))),
    b"abc" * 50,
    "plain text",
    -(2**63),
]


@pytest.mark.parametrize("value", EXACT)
def test_a_value_exactly_at_the_limit_is_kept(value: Any) -> None:
    """The count is a lower bound: a limit equal to the encoded size never refuses."""
    jsonable, _ = codec.to_jsonable(value)
    size = len(orjson.dumps(jsonable))
    codec.to_jsonable(value, max_bytes=size)  # no error
    assert records.encode_value(value, max_bytes=size).data == orjson.dumps(jsonable)


def test_state_keeps_a_value_exactly_at_the_limit(tmp_path: Path) -> None:
    value = {"a": [BIG] * 3, "b": b"\x00" * 30}
    size = len(records.encode_value(value).data)
    with runtime_for("memory", tmp_path, state__max_value_bytes=size) as rt:
        rt.state.save("global", "k", value)
        assert rt.state.load("global", "k") == value
        with pytest.raises(ValueTooLarge):
            rt.state.save("global", "k", {**value, "c": 1})


def test_session_metadata_is_refused_before_it_is_copied(
        mem: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell.sessions import model

    dumps = Spy(model.orjson.dumps)

    class Orjson:
        pass

    Orjson.dumps = dumps  # type: ignore[attr-defined]
    Orjson.loads = orjson.loads  # type: ignore[attr-defined]
    Orjson.JSONDecodeError = orjson.JSONDecodeError  # type: ignore[attr-defined]
    monkeypatch.setattr(model, "orjson", Orjson)
    with pytest.raises(ValueTooLarge, match=r"argument 'metadata'.*counted before encoding"):
        mem.sessions.create("s", metadata={"notes": [BIG] * 1_000})
    assert dumps.calls == 0


# -- a refused call writes nothing --------------------------------------------------------

SHARED_BIG = [BIG] * 100  # about 100 kB encoded, ten times LIMIT


@pytest.fixture(params=["memory", "sqlite"])
def rt(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    runtime = runtime_for(request.param, tmp_path, state__max_value_bytes=LIMIT,
                          session__max_artifact_size=LIMIT)
    runtime.state.save("global", "kept", "before")
    session = runtime.sessions.create("s", metadata={"note": "small"})
    runtime.sessions.set_current(session)  # state writes are journaled in it too
    runtime.artifacts.store(session, "first", b"small")
    runtime.sessions.create("limited", limits={"artifact_bytes": 100})
    yield runtime
    runtime.sessions.set_current(None)
    runtime.close()


def _everything(rt: Runtime) -> tuple[dict[str, bytes], list[tuple[str, bytes]]]:
    """The whole store, and every file under the data directory, as bytes."""
    data = Path(rt.config.runtime.data_dir)
    files = sorted((str(p.relative_to(data)), p.read_bytes())
                   for p in data.rglob("*") if p.is_file() and "store" not in p.name)
    return dict(rt.store.scan("")), files


def _in_tx(rt: Runtime) -> None:
    with rt.state.transaction() as tx:
        tx.save("global", "a", 1)
        tx.save("global", "b", SHARED_BIG)


def _session(rt: Runtime) -> Any:
    return rt.sessions.get_current()


REFUSED = {
    "State.save": lambda rt: rt.state.save("global", "k", SHARED_BIG),
    "State.save in a session scope": lambda rt: rt.state.save(
        f"session:{_session(rt).id}", "k", SHARED_BIG),
    "State.save_many": lambda rt: rt.state.save_many(
        [("global", "a", 1), ("global", "b", SHARED_BIG)]),
    "State.transaction": _in_tx,
    "State.compare_and_set": lambda rt: rt.state.compare_and_set(
        "global", "kept", "before", SHARED_BIG),
    "Session.create": lambda rt: rt.sessions.create("t", metadata={"n": SHARED_BIG}),
    "Artifact.store bytes": lambda rt: rt.artifacts.store(
        _session(rt), "big", b"z" * (LIMIT + 1)),
    "Artifact.store a table": lambda rt: rt.artifacts.store(
        _session(rt), "big", {"rows": SHARED_BIG}),
    "Artifact.store_stream": lambda rt: rt.artifacts.store_stream(
        _session(rt), "big", iter([b"z" * 4_000] * 4)),
    "Artifact.store over the session's artifact_bytes": lambda rt: rt.artifacts.store(
        _limited(rt), "big", b"z" * 500, as_session=None),
    "Artifact.store_stream over the session's artifact_bytes": lambda rt: rt.artifacts.store_stream(
        _limited(rt), "big", iter([b"z" * 300] * 2), as_session=None),
}


def _limited(rt: Runtime) -> Any:
    """The session the fixture made with an artifact_bytes limit of 100."""
    return next(s for s in rt.sessions.list() if s.name == "limited")


@pytest.mark.parametrize("name", REFUSED)
def test_a_refused_oversized_value_writes_nothing(rt: Runtime, name: str) -> None:
    before = _everything(rt)
    expected = (ResourceLimitExceeded if "artifact_bytes" in name
                else ArtifactTooLarge if name.startswith("Artifact") else ValueTooLarge)
    with pytest.raises(expected):
        REFUSED[name](rt)
    after = _everything(rt)
    assert after[0] == before[0]
    assert after[1] == before[1]


def test_an_artifact_table_is_refused_before_it_is_encoded(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmspell.artifacts import sources

    class Orjson:
        dumps = Spy(orjson.dumps)

    monkeypatch.setattr(sources, "orjson", Orjson)
    with pytest.raises(ArtifactTooLarge, match=r"'big' is more than 10,000 bytes"):
        rt.artifacts.store(rt.sessions.get_current(), "big", {"rows": SHARED_BIG})
    assert Orjson.dumps.calls == 0
