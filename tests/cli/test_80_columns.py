"""At 80 columns (issue 19 item 6): lists keep their id column whole enough to type (the
shortest unique prefix, cut in the middle only when even that does not fit), drop the least
useful columns, and ``session timeline`` prints one readable line per entry. Looked at in a
real 80x24 terminal (tmux); the captures are printed with the test output."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_runner import Run
from llmspell.cli.tables import Column, fit, middle, unique_prefixes

SETUP = """
local first
for i = 1, 6 do
    local s = Session.create({name = "burst session " .. i, tags = {"batch", "[draft]"}})
    first = first or s.id
end
local s = Session.create({name = "a session with a rather long name for a narrow terminal",
                          description = "the one with a timeline"})
State.save("session:" .. s.id, "plan", {steps = 3, title = "write the report"})
State.save("session:" .. s.id, "draft", "first paragraph of the report, which goes on")
State.delete("session:" .. s.id, "draft")
Artifact.store(s.id, "quarterly report [v2] final final.md", string.rep("x", 20000),
               {tags = {"report", "q3"}})
Artifact.store(s.id, "notes.txt", "short")
return s.id
"""


def test_middle_cuts_and_unique_prefixes() -> None:
    assert middle("0123456789", 10) == "0123456789"
    assert middle("0123456789", 5) == "01…89"
    assert middle("0123456789", 4) == "01…9"
    ids = ["01a2371e-4e0e-7a76-afc4-aaaa", "01a2371e-4e0e-7a76-bfc4-bbbb", "99ffffff-0000"]
    short = unique_prefixes(ids)
    assert short[ids[0]] == "01a2371e-4e0e-7a76-a" and short[ids[2]] == "99ffffff"
    assert unique_prefixes(["abcdefghij"], others=lambda p, me: p == "abcdefgh") == {
        "abcdefghij": "abcdefghi"}
    columns = [Column("ID", ident=True, short={"x" * 30: "x" * 10}), Column("NAME", keep=9),
               Column("EXTRA", keep=1)]
    kept, rows = fit(columns, [["x" * 30, "name", "extra"]], 20)
    assert kept == [0, 1] and rows == [["x" * 10, "name"]]
    kept, rows = fit(columns, [["y" * 30, "name", "extra"]], 20)
    assert kept == [0, 1] and rows[0][0] == middle("y" * 30, 14)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_lists_and_timeline_in_a_real_80x24_terminal(run: Run, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    made = run("exec", "--json", SETUP)
    assert made.exit_code == 0, made.output
    sid = json.loads(made.stdout)
    for note in ("[pre-upgrade] before the schema change", "nightly"):
        assert run("backup", "create", "-d", note).exit_code == 0
    ids = [b["id"] for b in json.loads(run("backup", "list", "--json").stdout)]
    assert run("state", "set", "global", "later", "1").exit_code == 0
    ambiguous = run("backup", "restore", ids[0][:9])
    assert ambiguous.exit_code == 1 and "is the start of 2 backup ids" in ambiguous.stderr
    prefix = unique_prefixes(ids)[ids[0]]
    assert run("backup", "restore", prefix).exit_code == 0  # by its unique prefix
    screens = {}
    for args in (["session", "list"], ["artifact", "list"], ["backup", "list"],
                 ["session", "timeline", sid[:20]]):
        screens[" ".join(args[:2])] = _tmux(tmp_path, args)
    with capsys.disabled():
        for name, screen in screens.items():
            print(f"\n--- llmspell {name} at 80x24 (tmux capture-pane) ---\n{screen}")
    for name, screen in screens.items():
        assert all(len(line) <= 80 for line in screen.splitlines()), name
    sessions = json.loads(run("session", "list", "--json").stdout)
    listed = screens["session list"].splitlines()
    assert listed[0].split()[:3] == ["ID", "NAME", "STATUS"]
    for s in sessions:  # every id shows as a prefix that names it alone
        row = next(line for line in listed if s["name"][:16] in line)
        shown = row.split()[0]
        assert s["id"].startswith(shown.rstrip("…"))
        assert sum(other["id"].startswith(shown) for other in sessions) == 1
    assert "burst session 6" in screens["session list"]
    artifacts = screens["artifact list"]
    assert "notes.txt" in artifacts and "quarterly report [v2]" in artifacts
    backups = screens["backup list"]
    assert "[pre-upgrade] before the" in backups and "safety" in backups
    timeline = screens["session timeline"].splitlines()
    assert len(timeline) == 6  # one line per entry
    assert "session.created" in timeline[0] and "a session with a rather" in timeline[0]
    assert 'plan = {"steps":3,"title":"write t' in timeline[1] and timeline[1].endswith("…")
    assert timeline[3].rstrip().endswith("draft deleted")
    assert "quarterly report [v2] final final." in timeline[4]
    assert "notes.txt v1 (5 B, text/plain)" in timeline[5]


def _tmux(cwd: Path, args: list[str]) -> str:
    """What ``llmspell ARGS`` shows in a fresh 80x24 tmux window."""
    socket = f"llmspell-test-{os.getpid()}-{time.monotonic_ns()}"
    env = {"LLMSPELL_CEILING_DIRECTORIES": str(cwd.parent)}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    command = (f"cd {shlex.quote(str(cwd))} && {exports} {shlex.quote(sys.executable)} -m "
               f"llmspell {' '.join(shlex.quote(a) for a in args)}; echo __done__; sleep 60")
    subprocess.run(["tmux", "-L", socket, "new-session", "-d", "-x", "80", "-y", "24", "-s",
                    "t", command], check=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            screen = subprocess.run(["tmux", "-L", socket, "capture-pane", "-p", "-t", "t"],
                                    capture_output=True, text=True, check=True).stdout
            if "__done__" in screen or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
    return screen.split("__done__")[0].rstrip("\n")
