"""Where the store is (issue 19 item 2): the project is found upward like git finds its
repository, read-only commands never create a store and say where they looked, ``info``
says which store and why, and ``init`` where it cannot write is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import Run


def test_a_subdirectory_uses_the_projects_store(run: Run, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("init").exit_code == 0
    made = run("session", "create", "from the root", "--tag", "t")
    assert made.exit_code == 0, made.output
    sid = made.stdout.strip()
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    listed = run("session", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [s["id"] for s in json.loads(listed.stdout)] == [sid]
    assert "no store yet" not in listed.stderr
    info = json.loads(run("info", "--json").stdout)
    assert info["project"]["root"] == str(tmp_path.resolve())
    assert info["project"]["found_by"] == "llmspell.toml"
    assert info["config_file"] == str(tmp_path.resolve() / "llmspell.toml")
    assert info["storage"]["exists"] is True
    assert not (sub / ".llmspell").exists()


def test_a_data_directory_alone_marks_the_project(run: Run, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("state", "set", "global", "where", '"root"').exit_code == 0
    assert (tmp_path / ".llmspell").is_dir() and not (tmp_path / "llmspell.toml").exists()
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert json.loads(run("state", "get", "global", "where").stdout) == "root"
    info = json.loads(run("info", "--json").stdout)
    assert info["project"]["found_by"] == ".llmspell/"
    assert "found there" in run("info").stdout


@pytest.mark.slow  # about 2.5 s: ten commands, doctor among them
def test_read_only_commands_create_nothing_and_say_where_they_looked(run: Run,
                                                                    tmp_path: Path) -> None:
    for args in (["state", "list"], ["session", "list"], ["artifact", "list"],
                 ["backup", "list"], ["session", "list", "--json"], ["migrate", "status"],
                 ["state", "export"], ["doctor"], ["doctor", "--deep"], ["info"]):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert not (tmp_path / ".llmspell").exists(), args
    listed = run("session", "list", "--json")
    assert json.loads(listed.stdout) == []
    assert "no store yet at .llmspell/llmspell.db" in listed.stderr
    assert f"no llmspell.toml or .llmspell/ found in {tmp_path.resolve()}" in listed.stderr
    missing = run("session", "show", "0123")
    assert missing.exit_code == 1 and "no session has an id starting with" in missing.stderr
    doctor = json.loads(run("doctor", "--json").stdout)
    store = next(c for c in doctor["checks"] if c["name"] == "store")
    assert store["ok"] and "none yet at" in store["detail"]
    info = json.loads(run("info", "--json").stdout)
    assert info["storage"]["exists"] is False and info["project"]["found_by"] is None
    assert info["project"]["looked_in"][0] == str(tmp_path.resolve())
    assert not (tmp_path / ".llmspell").exists()


def test_the_ceiling_stops_the_search(run: Run, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("init").exit_code == 0
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    monkeypatch.setenv("LLMSPELL_CEILING_DIRECTORIES", str(tmp_path))
    info = json.loads(run("info", "--json").stdout)
    assert info["project"]["root"] == str(sub.resolve()) and info["config_file"] is None


def test_init_where_it_cannot_write_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    result = run("init", "blocker/project")
    assert result.exit_code == 4
    assert "cannot write blocker/project/llmspell.toml" in result.stderr
    assert "internal error" not in result.output


def test_doctor_says_when_the_store_cannot_be_created(run: Run, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    result = run("--set", f'storage.url="sqlite:///{tmp_path}/blocker/x/llmspell.db"',
                 "doctor", "--json")
    assert result.exit_code == 5
    store = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "store")
    assert not store["ok"] and "blocker is not a directory" in store["detail"]
