"""Sessions across runs and the ``llmspell session`` commands (in-process; a real process in
test_cli_processes.py)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Run

ROOT = Path(__file__).resolve().parents[2]

CREATE = """
local s = Session.create{name = "nightly report", tags = {"report", "nightly"}}
State.save("session:" .. s.id, "progress", {step = 3, of = 5})
Session.suspend(s)
print(s.id)
"""

RESUME = """
local id = ARGS[1]
local waiting = Session.list{status = "suspended", tag = "report"}
assert(#waiting == 1 and waiting[1].id == id, "the suspended session is listed")
local s = Session.load(id)
Session.resume(s)
local progress = State.load("session:" .. id, "progress")
print(s.status, progress.step, progress.of)
"""


def test_suspend_in_one_run_resume_in_the_next(run: Run, tmp_path: Path) -> None:
    (tmp_path / "create.lua").write_text(CREATE)
    (tmp_path / "resume.lua").write_text(RESUME)
    first = run("run", "create.lua")
    assert first.exit_code == 0, first.stderr
    session_id = first.stdout.strip()
    second = run("run", "resume.lua", session_id)
    assert second.exit_code == 0, second.stderr
    assert second.stdout.split() == ["active", "3", "5"]

    listed = run("session", "list", "--status", "active", "--tag", "nightly", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [s["id"] for s in json.loads(listed.stdout)] == [session_id]
    table = run("session", "list")
    assert session_id in table.stdout and "nightly report" in table.stdout

    timeline = run("session", "timeline", session_id[:8], "--json")
    assert timeline.exit_code == 0, timeline.stderr
    kinds = [e["kind"] for e in json.loads(timeline.stdout)]
    assert kinds == ["session.created", "state.write", "session.suspended", "session.loaded",
                     "session.resumed"]
    state_only = run("session", "timeline", session_id, "--kind", "state")
    assert "state.write" in state_only.stdout and "session.created" not in state_only.stdout

    shown = run("session", "show", session_id, "--json")
    data = json.loads(shown.stdout)
    assert data["status"] == "active" and data["journal_entries"] == 5

    for command, status in (("suspend", "suspended"), ("resume", "active"),
                            ("complete", "completed"), ("archive", "archived")):
        moved = run("session", command, session_id)
        assert moved.exit_code == 0, moved.stderr
        assert moved.stdout.strip() == f"{session_id} {status}"

    refused = run("session", "resume", session_id)
    assert refused.exit_code == 1
    assert "InvalidTransition: cannot resume session" in refused.stderr
    assert "it is archived" in refused.stderr

    deleted = run("session", "delete", session_id, "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    missing = run("session", "show", session_id)
    assert missing.exit_code == 1
    assert "SessionNotFound" in missing.stderr
