"""Artifact ids as rs-llmspell scripts use them: ``store``/``storeFile`` results carry
``content_hash``, ``session_id`` and ``sequence`` and still work as our id; ``get``/``delete``
take rs-llmspell's id table; ``storeFile`` reads any readable path under the ``full`` sandbox
(rs-llmspell's ``sandbox_mode = false``), only the allowed roots by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from llmspell.lua import LuaEngine

MakeEngine = Callable[..., LuaEngine]

STORE = """
    s = Session.create({name = "shelf"})
    a = Artifact.store(s, "tool_result", "note.txt", "pencils: 12", {tags = {"stock"}})
"""


def test_a_stored_id_carries_rs_fields_and_works_as_our_id(engine: LuaEngine) -> None:
    rt = engine.runtime
    result = engine.run_string(STORE + """
        local listed = Artifact.list(s)[1]
        return {id = tostring(a), hash = a.content_hash, sid = a.session_id, seq = a.sequence,
                short = a.content_hash:sub(1, 8), same = listed.id == a, joined = "x" .. a,
                content = Artifact.getContent(s, a), by_id = Artifact.get(s, a.id).name,
                kept = State.save("global", "last", a), json = JSON.stringify({a})}""")
    art = rt.artifacts.get(result["id"])
    assert result["hash"] == art.content_hash and len(art.content_hash) >= 32
    assert result["sid"] == art.session_id and result["seq"] == art.version == 1
    assert result["short"] == art.content_hash[:8]
    assert result["same"] is True and result["joined"] == "x" + art.id
    assert result["content"] == "pencils: 12" and result["by_id"] == "note.txt"
    assert rt.state.load("global", "last") == art.id  # saved as the id string
    assert result["json"] == f'["{art.id}"]'
    assert engine.run_string("return a") == art.id


def test_get_and_delete_take_the_rs_id_table(engine: LuaEngine) -> None:
    rt = engine.runtime
    result = engine.run_string(STORE + """
        local rs_id = {content_hash = a.content_hash, session_id = a.session_id,
                       sequence = a.sequence}
        local got = Artifact.get(s, rs_id)
        local gone = Artifact.delete(s, {content_hash = a.content_hash, session_id = s.id})
        local ok, err = pcall(Artifact.get, s, rs_id)
        return {name = got.name, content = got.content, gone = gone, ok = ok, err = err}""")
    assert (result["name"], result["content"], result["gone"]) == ("note.txt", "pencils: 12",
                                                                  True)
    assert result["ok"] is False and "ArtifactNotFound" in result["err"]
    assert "content_hash" in result["err"]
    assert rt.artifacts.query() == []


@pytest.mark.parametrize(("table", "words"), [
    ("{content_hash = 5}", "argument 'ref.content_hash': must be a string"),
    ('{content_hash = "ab", colour = 1}', "argument 'ref' at .colour: unknown field"),
    ('{content_hash = "ab", session_id = s.id, sequence = 9}', "and sequence 9"),
])
def test_bad_rs_id_tables_are_named(engine: LuaEngine, table: str, words: str) -> None:
    engine.run_string(STORE)
    ok, err = engine.run_string(f"return pcall(Artifact.get, s, {table})")
    assert ok is False and words in err


def test_store_file_outside_the_roots_needs_the_full_sandbox(make_engine: MakeEngine,
                                                             tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "report.txt"
    outside.parent.mkdir()
    outside.write_text("quarterly")
    root = tmp_path / "root"
    root.mkdir()
    code = f'return Artifact.storeFile(Session.create({{}}), "{outside}", "user_input")'
    safe = make_engine(runtime__allowed_paths=[str(root)])
    ok, err = safe.run_string(f"return pcall(function() {code} end)")
    assert ok is False and "SecurityViolation: storeFile" in err and "outside the allowed" in err
    full = make_engine(runtime__allowed_paths=[str(root)], engines__lua__sandbox="full")
    stored = full.run_string(code)
    assert full.runtime.artifacts.value(stored) == b"quarterly"
    off = make_engine(runtime__allowed_paths=[str(root)], engines__lua__sandbox="full",
                      runtime__security__allow_file_access=False)
    ok, err = off.run_string(f"return pcall(function() {code} end)")
    assert ok is False and "file access is disabled" in err


def test_file_tools_may_use_the_temp_directory_under_the_full_sandbox(
        make_engine: MakeEngine, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    target = tmp_path / "upload.txt"  # pytest's tmp_path lies in the system temp directory
    code = (f'return Tool.invoke("file_operations", {{operation = "write", path = "{target}", '
            'input = "hello"}).success')
    safe = make_engine(runtime__allowed_paths=[str(root)])
    ok, err = safe.run_string(f"return pcall(function() {code} end)")
    assert ok is False and "outside the allowed roots" in err and not target.exists()
    full = make_engine(runtime__allowed_paths=[str(root)], engines__lua__sandbox="full")
    assert full.run_string(code) is True and target.read_text() == "hello"
