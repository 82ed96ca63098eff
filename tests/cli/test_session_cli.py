"""Sessions across processes and the ``llmspell session`` commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def llmspell(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run([sys.executable, "-m", "llmspell", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=60, env=env)


def test_suspend_in_one_run_resume_in_the_next(tmp_path: Path) -> None:
    (tmp_path / "create.lua").write_text(CREATE)
    (tmp_path / "resume.lua").write_text(RESUME)
    first = llmspell("run", "create.lua", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    session_id = first.stdout.strip()
    second = llmspell("run", "resume.lua", session_id, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["active", "3", "5"]

    listed = llmspell("session", "list", "--status", "active", "--tag", "nightly", "--json",
                      cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [s["id"] for s in json.loads(listed.stdout)] == [session_id]
    table = llmspell("session", "list", cwd=tmp_path)
    assert session_id in table.stdout and "nightly report" in table.stdout

    timeline = llmspell("session", "timeline", session_id[:8], "--json", cwd=tmp_path)
    assert timeline.returncode == 0, timeline.stderr
    kinds = [e["kind"] for e in json.loads(timeline.stdout)]
    assert kinds == ["session.created", "state.write", "session.suspended", "session.loaded",
                     "session.resumed"]
    state_only = llmspell("session", "timeline", session_id, "--kind", "state", cwd=tmp_path)
    assert "state.write" in state_only.stdout and "session.created" not in state_only.stdout

    shown = llmspell("session", "show", session_id, "--json", cwd=tmp_path)
    data = json.loads(shown.stdout)
    assert data["status"] == "active" and data["journal_entries"] == 5

    for command, status in (("suspend", "suspended"), ("resume", "active"),
                            ("complete", "completed"), ("archive", "archived")):
        moved = llmspell("session", command, session_id, cwd=tmp_path)
        assert moved.returncode == 0, moved.stderr
        assert moved.stdout.strip() == f"{session_id} {status}"

    refused = llmspell("session", "resume", session_id, cwd=tmp_path)
    assert refused.returncode == 1
    assert "InvalidTransition: cannot resume session" in refused.stderr
    assert "it is archived" in refused.stderr

    deleted = llmspell("session", "delete", session_id, "--yes", cwd=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    missing = llmspell("session", "show", session_id, cwd=tmp_path)
    assert missing.returncode == 1
    assert "SessionNotFound" in missing.stderr
