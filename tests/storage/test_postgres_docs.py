"""docs/postgres.md: backup on sqlite and restore on postgres moves everything; its Python
block (the key-by-key copy) runs as written; its Lua block runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from backends import Backend, backend_fixture, make_backend
from cli_runner import Run
from llmspell.lua import LuaEngine

DOC = Path(__file__).resolve().parents[2] / "docs" / "postgres.md"
backend = backend_fixture(["postgres"])


def blocks(lang: str) -> list[str]:
    return [re.sub(r"(?m)^   ", "", b)
            for b in re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)]


def test_the_copy_moves_the_whole_store(backend: Backend, tmp_path: Path) -> None:
    with make_backend("sqlite", tmp_path / "embedded") as embedded:
        rt = embedded.runtime()
        s = rt.sessions.create("moved")
        rt.state.save(f"session:{s.id}", "progress", {"step": 3})
        rt.artifacts.store(s.id, "note.txt", b"kept")
        before = dict(rt.store.scan(""))
        rt.close()
        (code,) = blocks("python")
        namespace = {"embedded_url": embedded.url, "postgres_url": backend.url}
        exec(compile(code, str(DOC), "exec"), namespace)
        assert namespace["copied"] == len(before)
    moved = backend.runtime()
    assert dict(moved.store.scan("")) == before
    assert moved.sessions.get(s.id).name == "moved"
    assert moved.state.load(f"session:{s.id}", "progress") == {"step": 3}
    (stored,) = moved.artifacts.list(s.id)
    assert moved.artifacts.read(stored) == b"kept"


def test_the_lease_example_runs(backend: Backend) -> None:
    rt = backend.runtime()
    engine = LuaEngine(rt, script_name="postgres.md")
    try:
        for code in blocks("lua"):
            engine.run_string(code)
    finally:
        engine.close()
    (found,) = rt.sessions.list()
    lease = rt.sessions.lease(found)
    assert lease is not None and lease.token == 1 and lease.holder is None


def test_backup_on_sqlite_restore_on_postgres(backend: Backend, run: Run) -> None:
    made = run("exec", 'local s = Session.create{name = "moved"}\n'
               'State.save("session:" .. s.id, "p", 1)\n'
               'Artifact.store(s, "note.txt", "text")')
    assert made.exit_code == 0, made.output
    assert run("backup", "create", "-d", "before postgres").exit_code == 0
    (backup,) = json.loads(run("backup", "list", "--json").stdout)
    restored = run("--set", f'storage.url="{backend.url}"', "backup", "restore", backup["id"])
    assert restored.exit_code == 0, restored.output
    moved = backend.runtime()
    (session,) = moved.sessions.list()
    assert session.name == "moved" and moved.state.load(f"session:{session.id}", "p") == 1
    (note,) = moved.artifacts.list(session.id)
    assert moved.artifacts.read(note) == b"text"
