"""Issue 19 item 2: a store that cannot be written. Reading works; writing fails with a
StoreReadOnly that says what to do (exit 4 in the CLI, never "internal error"), and the store
is left as it was.

Tests run as root, so file permissions do not stop a write: the store is made really
read-only with the immutable attribute (``chattr +i``), which binds root too. Where the
filesystem or the container does not allow it, the tests are skipped and say why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Run
from llmspell.errors import StoreReadOnly
from llmspell.storage.sqlite import SqliteStore
from read_only import immutable


def test_a_read_only_store_reads_and_refuses_writes_with_what_to_do(run: Run,
                                                                     tmp_path: Path) -> None:
    assert run("state", "set", "global", "k", '{"a": 1}').exit_code == 0
    sid = run("session", "create", "notes").stdout.strip()
    data = tmp_path / ".llmspell"
    db = data / "llmspell.db"
    before = db.read_bytes()
    with immutable(db, data):  # neither the file nor its directory can change
        got = run("state", "get", "global", "k", "--json")
        assert got.exit_code == 0, got.output
        assert json.loads(got.stdout)["value"] == {"a": 1}
        assert "is read-only" in got.stderr and "reading works" in got.stderr
        listed = json.loads(run("session", "list", "--json").stdout)
        assert [s["id"] for s in listed] == [sid]
        for command in (("state", "set", "global", "k", "2"), ("session", "create", "x"),
                        ("state", "delete", "global", "k")):
            refused = run(*command)
            assert refused.exit_code == 4, (command, refused.output)
            assert "StoreReadOnly" in refused.stderr and "internal error" not in refused.stderr
            assert "Reading works; to write, make the file and" in refused.stderr
            assert "chattr -i" in refused.stderr
    assert db.read_bytes() == before
    assert json.loads(run("state", "get", "global", "k", "--json").stdout)["value"] == {"a": 1}


def test_an_immutable_file_in_a_writable_directory(run: Run, tmp_path: Path) -> None:
    """SQLite opens such a file read-only by itself; its refusal is a StoreReadOnly too."""
    assert run("state", "set", "global", "k", "1").exit_code == 0
    db = tmp_path / ".llmspell" / "llmspell.db"
    with immutable(db):
        assert run("state", "get", "global", "k").stdout.strip() == "1"
        refused = run("state", "set", "global", "k", "2")
        assert refused.exit_code == 4 and "StoreReadOnly" in refused.stderr
        assert "Reading works" in refused.stderr
    assert run("state", "get", "global", "k").stdout.strip() == "1"


def test_the_store_api_says_it_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "s" / "llmspell.db"
    store = SqliteStore(path)
    store.put("a", b"1")
    store.close()
    with immutable(path, path.parent):
        ro = SqliteStore(path)
        try:
            assert ro.read_only and "could not be opened for writing" in ro.read_only
            assert ro.get("a") == b"1"
            with pytest.raises(StoreReadOnly, match=r"could not put 'b'\. Reading works"):
                ro.put("b", b"2")
            with pytest.raises(StoreReadOnly, match="could not delete 'a'"):
                ro.delete("a")
            assert ro.get("a") == b"1" and ro.get("b") is None
        finally:
            ro.close()
    writable = SqliteStore(path)
    assert writable.read_only is None
    writable.close()


def test_an_unwritable_project_directory_reads_empty_and_says_what_to_do(
        run: Run, tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "llmspell.toml").write_text("")
    with immutable(project):
        shown = run("--config", str(project / "llmspell.toml"), "session", "list", "--json")
        assert shown.exit_code == 0 and json.loads(shown.stdout) == []
        assert "no store yet" in shown.stderr
        refused = run("--config", str(project / "llmspell.toml"), "state", "set", "global",
                      "k", "1")
        assert refused.exit_code == 4 and "internal error" not in refused.stderr
        assert "cannot create directory" in refused.stderr
        assert "put the store where you can write ([storage] url" in refused.stderr
    assert not (project / ".llmspell").exists()
