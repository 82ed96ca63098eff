"""``llmspell artifact ...``: store, list, show, cat (raw bytes), versions, delete and gc,
with and without --json, against a project's sqlite store (in-process; a real process in
test_cli_processes.py)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Run

ROOT = Path(__file__).resolve().parents[2]

CREATE = """
local s = Session.create{name = "cli"}
Artifact.store(s, "notes.txt", "first", {tags = {"n"}})
Artifact.store(s, "notes.txt", "second", {tags = {"n"}})
print(s.id)
"""


def test_artifact_commands(run: Run, tmp_path: Path) -> None:
    (tmp_path / "create.lua").write_text(CREATE)
    made = run("run", "create.lua")
    assert made.exit_code == 0, made.stderr
    sid = made.stdout.strip()

    binary = bytes(range(256)) * 3
    (tmp_path / "image.bin").write_bytes(binary)
    stored = run("artifact", "store", sid[:8], "image.bin", "--tag", "raw", "--json")
    assert stored.exit_code == 0, stored.stderr
    image = json.loads(stored.stdout)
    assert (image["name"], image["size"], image["tags"]) == ("image.bin", 768, ["raw"])
    piped = run("artifact", "store", sid, "-", "--name", "piped.txt",
                     stdin=b"from stdin")
    assert piped.exit_code == 0 and "piped.txt v1" in piped.stdout

    listed = run("artifact", "list", "--session", sid, "--json")
    assert [a["name"] for a in json.loads(listed.stdout)] == [
        "piped.txt", "image.bin", "notes.txt", "notes.txt"]  # newest first
    table = run("artifact", "list", "--tag", "n", "--latest").stdout
    assert "notes.txt" in table and table.count("notes.txt") == 1

    cat = run("artifact", "cat", image["id"])
    assert cat.exit_code == 0 and cat.stdout_bytes == binary  # raw bytes, unchanged
    by_name = run("artifact", "cat", "notes.txt", "--session", sid, "--version", "1")
    assert by_name.stdout == "first"
    short = image["id"].replace(sid, sid[:8])  # a session id prefix works in ids too
    shown = run("artifact", "show", short).stdout
    assert "mime_type:" in shown and "application/octet-stream" in shown

    versions = json.loads(run("artifact", "versions", sid, "notes.txt", "--json").stdout)
    assert [v["version"] for v in versions] == [1, 2]

    deleted = run("artifact", "delete", image["id"], "--yes")
    assert deleted.exit_code == 0 and "deleted" in deleted.stdout
    gone = run("artifact", "show", image["id"])
    assert gone.exit_code == 1 and "ArtifactNotFound" in gone.stderr

    dry = json.loads(run("artifact", "gc", "--grace", "0", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["blobs"]["blobs_removed"] == 1
    report = run("artifact", "gc", "--grace", "0")
    assert report.exit_code == 0 and "removed 1 blobs" in report.stdout


def test_errors_exit_with_a_message(run: Run, tmp_path: Path) -> None:
    missing = run("artifact", "versions", "nope", "x")
    assert missing.exit_code == 1
    assert "no session has an id starting with 'nope'" in missing.stderr
    bad = run("artifact", "show", "not-an-id")
    assert bad.exit_code == 2 and "is not an artifact id" in bad.stderr
