"""Filling a runtime's state for the backup tests (not conftest.py, so test modules can import
it by a name no other test directory uses). Runtimes come from tests/backends.py."""

from __future__ import annotations

from llmspell import Runtime


def fill(rt: Runtime) -> None:
    state = rt.state
    with state.transaction():
        for i in range(30):
            state.save(f"agent:a{i % 3}", f"k{i:03d}", {"i": i, "text": "x" * (i % 7)})
        state.save("workflow:w1", "step", {"n": 1, "bytes": b"\x00\x01\xff"})
        state.save("global", "config", {"theme": "dark"})
        state.save("session:s1", "notes", ["a", "b"])
