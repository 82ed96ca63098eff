"""Issue 11 item 2: a default-sandbox script can neither turn the sandbox off for later runs
(by rewriting llmspell.toml) nor read or damage the store and the backups, whatever the
allowed roots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell.errors import ScriptError, SecurityViolation
from llmspell.lua import LuaEngine
from llmspell.runtime import Runtime


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (the current directory) on the default sqlite store, with / as an allowed
    root so only the protection stands between a script and the files."""
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    root = tmp_path / "project"
    root.mkdir()
    (root / "llmspell.toml").write_text('[runtime]\nallowed_paths = [".", "/"]\n')
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def running(project: Path) -> Iterator[tuple[Runtime, LuaEngine]]:
    runtime = Runtime.from_config(cwd=project)
    engine = LuaEngine(runtime, script_name="attack.lua")
    runtime.state.save("global", "secret", "kept")
    yield runtime, engine
    engine.close()
    runtime.close()


def test_a_script_cannot_turn_the_sandbox_off_for_later_runs(running, project: Path) -> None:
    _, engine = running
    config = project / "llmspell.toml"
    before = config.read_text()
    for mode in ("a", "w", "r+"):
        with pytest.raises(ScriptError, match=r"SecurityViolation: .*protected from scripts"):
            engine.run_string(f"local f = io.open('llmspell.toml', '{mode}') "
                              "f:write('[engines.lua]\\nsandbox = \"full\"\\n') f:close()")
    assert config.read_text() == before
    # the configuration stays readable
    assert engine.run_string("return io.open('llmspell.toml'):read('a')") == before


def test_a_script_cannot_truncate_or_read_the_store(running, project: Path) -> None:
    runtime, engine = running
    store = project / ".llmspell" / "llmspell.db"
    assert store.stat().st_size > 0
    for path in (str(store), ".llmspell/llmspell.db", "./.llmspell/../.llmspell/llmspell.db"):
        with pytest.raises(ScriptError, match=r"SecurityViolation: io\.open: .*protected from "
                                              "scripts, reads included"):
            engine.run_string(f"return io.open({path!r}, 'rb'):read('a')")
        with pytest.raises(ScriptError, match="SecurityViolation"):
            engine.run_string(f"io.open({path!r}, 'w'):close()")
    for call in ("io.lines('.llmspell/llmspell.db')", "io.input('.llmspell/llmspell.db-wal')",
                 "loadfile('.llmspell/llmspell.db')", "dofile('.llmspell/llmspell.db')"):
        with pytest.raises(ScriptError, match="protected from scripts, reads included"):
            engine.run_string(call)
    assert runtime.state.load("global", "secret") == "kept"


def test_a_script_cannot_read_a_backup(running, project: Path) -> None:
    runtime, engine = running
    runtime.backups.backup()
    [backup] = runtime.backups.directory.glob("*")
    assert backup.is_file() and str(backup).startswith(str(project / ".llmspell"))
    with pytest.raises(ScriptError, match="protected from scripts, reads included"):
        engine.run_string(f"return io.open({str(backup)!r}, 'rb'):read('a')")
    session = runtime.sessions.create("steal")
    with pytest.raises(SecurityViolation, match="protected from scripts, reads included"):
        runtime.artifacts.store_file(session, str(backup))


def test_lmdb_and_rocksdb_directories_are_sealed(tmp_path: Path) -> None:
    from llmspell.config import Config
    from llmspell.paths import sealed_paths

    for scheme in ("lmdb", "rocksdb"):
        config = Config.defaults(base_dir=tmp_path, **{"storage.url": f"{scheme}:///db/{scheme}"})
        assert str(tmp_path / "db" / scheme) in sealed_paths(config)
