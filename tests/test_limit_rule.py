"""One rule for ``limit`` and ``offset`` (llmspell.validation.check_limit / check_offset) in
every list, query and read: a limit is None or an integer >= 0, and 0 means no limit, as None
does; an offset is an integer >= 0; a bad one gets the same message everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llmspell.errors import ValidationError
from llmspell.runtime import Runtime
from llmspell.validation import check_limit, check_offset

LIMIT_RULE = r"argument 'limit': must be an integer >= 0 \(0 or none: no limit\)"
OFFSET_RULE = r"argument 'offset': must be an integer >= 0"


def test_the_rule() -> None:
    assert check_limit(None) is None and check_limit(0) is None and check_limit(7) == 7
    assert check_offset(0) == 0 and check_offset(3) == 3
    for bad in (-1, True, 1.5, "3"):
        with pytest.raises(ValidationError, match=LIMIT_RULE):
            check_limit(bad)
    for bad in (-1, None, False, 2.0):
        with pytest.raises(ValidationError, match=OFFSET_RULE):
            check_offset(bad)


@pytest.fixture
def filled(rt: Runtime) -> tuple[Runtime, Any]:
    session = rt.sessions.create("limits")
    rt.sessions.create("other")
    for name in ("a", "b", "c"):
        rt.artifacts.store(session, name, name.encode())
    for _ in range(2):
        rt.workflows.sequential({"name": "w", "steps": [
            {"name": "s", "fn": lambda i, c: 1}]}).execute()
    return rt, session


def listings(rt: Runtime, session: Any) -> dict[str, Callable[..., list[Any]]]:
    """Every public list, query and read that takes a limit, with what 'all' is."""
    return {
        "sessions.list": lambda **kw: rt.sessions.list(**kw),
        "artifacts.list": lambda **kw: rt.artifacts.list(session, **kw),
        "artifacts.list by name": lambda **kw: rt.artifacts.list(session, sort="name", **kw),
        "artifacts.query": lambda **kw: rt.artifacts.query(session=session, **kw),
        "journal.read": lambda **kw: rt.sessions.journal.read(session.id, **kw),
        "workflows.runs": lambda **kw: rt.workflows.runs(**kw),
    }


def test_a_limit_of_0_is_no_limit_everywhere(filled: tuple[Runtime, Any]) -> None:
    rt, session = filled
    for name, listed in listings(rt, session).items():
        everything = listed()
        assert len(everything) >= 2, name
        # artifacts.list(limit=0) returned nothing before: its creation-order index walk
        # stopped after 0 matches
        assert listed(limit=0) == everything, name
        assert listed(limit=1) == everything[:1], name


def test_a_bad_limit_or_offset_gets_one_message(filled: tuple[Runtime, Any]) -> None:
    rt, session = filled
    for listed in listings(rt, session).values():
        for bad in (-1, True, "2"):
            with pytest.raises(ValidationError, match=LIMIT_RULE):
                listed(limit=bad)
    for offset_taker in (lambda: rt.sessions.list(offset=-1),
                         lambda: rt.artifacts.list(session, offset=-1),
                         lambda: rt.artifacts.query(session=session, offset=None)):
        with pytest.raises(ValidationError, match=OFFSET_RULE):
            offset_taker()
