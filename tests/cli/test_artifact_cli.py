"""``llmspell artifact ...`` as a user runs it: store, list, show, cat (raw bytes), versions,
delete and gc, with and without --json, against a project's sqlite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CREATE = """
local s = Session.create{name = "cli"}
Artifact.store(s, "notes.txt", "first", {tags = {"n"}})
Artifact.store(s, "notes.txt", "second", {tags = {"n"}})
print(s.id)
"""


def llmspell(*args: str, cwd: Path,
             stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    return subprocess.run([sys.executable, "-m", "llmspell", *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=60, env=env)


def test_artifact_commands(tmp_path: Path) -> None:
    (tmp_path / "create.lua").write_text(CREATE)
    made = llmspell("run", "create.lua", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    sid = made.stdout.decode().strip()

    binary = bytes(range(256)) * 3
    (tmp_path / "image.bin").write_bytes(binary)
    stored = llmspell("artifact", "store", sid[:8], "image.bin", "--tag", "raw", "--json",
                      cwd=tmp_path)
    assert stored.returncode == 0, stored.stderr
    image = json.loads(stored.stdout)
    assert (image["name"], image["size"], image["tags"]) == ("image.bin", 768, ["raw"])
    piped = llmspell("artifact", "store", sid, "-", "--name", "piped.txt", cwd=tmp_path,
                     stdin=b"from stdin")
    assert piped.returncode == 0 and b"piped.txt v1" in piped.stdout

    listed = llmspell("artifact", "list", "--session", sid, "--json", cwd=tmp_path)
    assert [a["name"] for a in json.loads(listed.stdout)] == [
        "piped.txt", "image.bin", "notes.txt", "notes.txt"]  # newest first
    table = llmspell("artifact", "list", "--tag", "n", "--latest", cwd=tmp_path).stdout.decode()
    assert "notes.txt" in table and table.count("notes.txt") == 1

    cat = llmspell("artifact", "cat", image["id"], cwd=tmp_path)
    assert cat.returncode == 0 and cat.stdout == binary  # raw bytes, unchanged
    by_name = llmspell("artifact", "cat", "notes.txt", "--session", sid, "--version", "1",
                       cwd=tmp_path)
    assert by_name.stdout == b"first"
    short = image["id"].replace(sid, sid[:8])  # a session id prefix works in ids too
    shown = llmspell("artifact", "show", short, cwd=tmp_path).stdout.decode()
    assert "mime_type:" in shown and "application/octet-stream" in shown

    versions = json.loads(llmspell("artifact", "versions", sid, "notes.txt", "--json",
                                   cwd=tmp_path).stdout)
    assert [v["version"] for v in versions] == [1, 2]

    deleted = llmspell("artifact", "delete", image["id"], "--yes", cwd=tmp_path)
    assert deleted.returncode == 0 and b"deleted" in deleted.stdout
    gone = llmspell("artifact", "show", image["id"], cwd=tmp_path)
    assert gone.returncode == 1 and b"ArtifactNotFound" in gone.stderr

    dry = json.loads(llmspell("artifact", "gc", "--grace", "0", "--dry-run", "--json",
                              cwd=tmp_path).stdout)
    assert dry["dry_run"] and dry["blobs"]["blobs_removed"] == 1
    report = llmspell("artifact", "gc", "--grace", "0", cwd=tmp_path)
    assert report.returncode == 0 and b"removed 1 blobs" in report.stdout


def test_errors_exit_with_a_message(tmp_path: Path) -> None:
    missing = llmspell("artifact", "versions", "nope", "x", cwd=tmp_path)
    assert missing.returncode == 1
    assert b"no session has an id starting with 'nope'" in missing.stderr
    bad = llmspell("artifact", "show", "not-an-id", cwd=tmp_path)
    assert bad.returncode == 2 and b"is not an artifact id" in bad.stderr
