"""Square brackets in user data show whole in every table and detail view (issue 19 item 1):
rich would read ``[draft]`` as markup and print nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Run

SETUP = """
local s = Session.create({name = "[s] plan", description = "[desc] of it",
                          tags = {"[draft]", "plain"}})
State.save("custom:[x]", "[k]", "[v]")
State.save("session:" .. s.id, "[key]", {note = "[n]"})
Artifact.store(s, "report [v2].md", "hello", {tags = {"[t]"}, description = "[ad] text"})
Artifact.store(s, "report [v2].md", "hello again")
return s.id
"""


@pytest.fixture
def sid(run: Run) -> str:
    made = run("exec", "--json", SETUP)
    assert made.exit_code == 0, made.output
    found = json.loads(made.stdout)
    assert isinstance(found, str)
    return found


def _ok(run: Run, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_session_views_keep_brackets(run: Run, sid: str) -> None:
    listed = _ok(run, "session", "list")
    assert "[s] plan" in listed and "[draft],plain" in listed
    shown = _ok(run, "session", "show", sid)
    assert "[s] plan" in shown and "[desc] of it" in shown and '["[draft]","plain"]' in shown
    timeline = _ok(run, "session", "timeline", sid)
    assert "[key]" in timeline and "report [v2].md" in timeline


def test_artifact_views_keep_brackets(run: Run, sid: str) -> None:
    listed = _ok(run, "artifact", "list")
    assert "report [v2].md" in listed and "[t]" in listed
    assert "report [v2].md" in _ok(run, "artifact", "versions", sid, "report [v2].md")
    shown = _ok(run, "artifact", "show", "report [v2].md", "--session", sid, "--version", "1")
    assert "[ad] text" in shown and '["[t]"]' in shown


def test_state_and_backup_views_keep_brackets(run: Run, sid: str) -> None:
    assert "custom:[x]\t[k]" in _ok(run, "state", "list")
    assert "[v]" in _ok(run, "state", "get", "custom:[x]", "[k]")
    _ok(run, "backup", "create", "-d", "[pre-upgrade] x")
    assert "[pre-upgrade] x" in _ok(run, "backup", "list")


def test_doctor_and_info_keep_brackets(run: Run, tmp_path: Path) -> None:
    (tmp_path / "llmspell.toml").write_text('[state]\nbakend = "sqlite"\n')
    info = run("info")
    assert "table [state], key 'bakend'" in info.output
    doctor = run("doctor")
    assert "[state]" in doctor.output and "'bakend'" in doctor.output
    assert "table , key" not in doctor.output
