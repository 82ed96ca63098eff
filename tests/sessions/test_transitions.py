"""Every cell of the lifecycle table (DESIGN.md section 9): allowed cells move the session
(persisted, journaled, published, hooked), the others raise InvalidTransition naming both
statuses and change nothing."""

from __future__ import annotations

import pytest

from llmspell.errors import InvalidTransition
from llmspell.events import EventBus
from llmspell.hooks import HookRegistry
from llmspell.sessions import OPERATIONS, STATUSES, TABLE, SessionManager
from llmspell.sessions.transitions import TARGETS, target
from llmspell.storage import open_store

# How to bring a new (active) session into each status.
PATHS = {
    "active": [],
    "suspended": ["suspend"],
    "completed": ["complete"],
    "failed": ["fail"],
    "archived": ["complete", "archive"],
}

EXPECTED = {
    ("active", "suspend"): "suspended",
    ("active", "complete"): "completed",
    ("active", "fail"): "failed",
    ("suspended", "resume"): "active",
    ("suspended", "complete"): "completed",
    ("suspended", "fail"): "failed",
    ("completed", "archive"): "archived",
    ("failed", "archive"): "archived",
}


def test_the_table_is_the_design_table() -> None:
    cells = {(s, op): new for s, row in TABLE.items() for op, new in row.items()}
    assert cells == EXPECTED
    assert set(TABLE) == set(STATUSES)


@pytest.fixture
def wired() -> tuple[SessionManager, list[str], list[str]]:
    hooks = HookRegistry()
    fired: list[str] = []
    for point in ("session:start", "session:end", "session:suspend", "session:resume"):
        hooks.register(point, lambda ctx: fired.append(f"{ctx.point}:{ctx.data['operation']}"))
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe("session.*", lambda event: seen.append(event.type))
    return SessionManager(open_store("memory://"), hooks=hooks, events=bus), fired, seen


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_cell(wired: tuple[SessionManager, list[str], list[str]], status: str,
                    operation: str) -> None:
    manager, fired, seen = wired
    session = manager.create("cell")
    for step in PATHS[status]:
        getattr(manager, step)(session)
    assert manager.get(session).status == status
    before = manager.journal.last_seq(session.id)
    fired.clear()
    seen.clear()
    expected = EXPECTED.get((status, operation))
    if expected is None:
        with pytest.raises(InvalidTransition) as caught:
            getattr(manager, operation)(session)
        text = str(caught.value)
        assert f"cannot {operation} session {session.id}" in text
        assert f"it is {status}" in text
        assert f"-> {TARGETS[operation]}" in text
        assert caught.value.status == status  # type: ignore[attr-defined]
        assert caught.value.target == TARGETS[operation]  # type: ignore[attr-defined]
        assert manager.get(session).status == status
        assert manager.journal.last_seq(session.id) == before
        assert fired == [] and seen == []
        return
    moved = getattr(manager, operation)(session)
    assert moved.status == expected
    # Persisted at once: a fresh manager on the same store sees it.
    assert SessionManager(manager.store).get(session.id).status == expected
    entry = manager.journal.read(session.id)[-1]
    assert entry.seq == before + 1
    assert entry.kind == f"session.{expected if operation != 'resume' else 'resumed'}"
    assert entry.data["from"] == status and entry.data["to"] == expected
    assert seen == [entry.kind]
    point = {"suspend": "session:suspend", "resume": "session:resume"}.get(operation,
                                                                           "session:end")
    assert fired == [f"{point}:{operation}"]


def test_target_refuses_an_unknown_operation() -> None:
    with pytest.raises(ValueError, match="must be one of suspend, resume"):
        target("s1", "active", "pause")
