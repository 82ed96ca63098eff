"""The Lua ``Artifact`` global: the seed's snippets unmodified (examples/artifacts.lua, run
through ``llmspell run``), rs-llmspell's call forms, every function, errors under pcall."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_runner import Run
from llmspell.config import Config
from llmspell.lua.engine import LuaEngine
from llmspell.runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "artifacts.lua"


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.chdir(tmp_path)
    with Runtime(Config.defaults(base_dir=tmp_path, storage__url="memory://")) as rt:
        yield rt


@pytest.fixture
def lua(runtime: Runtime) -> Iterator[Any]:
    engine = LuaEngine(runtime, script_name="test.lua")
    yield engine.run_string
    engine.close()


def test_the_seed_example_runs_unmodified(run: Run, tmp_path: Path) -> None:
    done = run("run", str(EXAMPLE))
    assert done.exit_code == 0, done.stderr
    out = done.stdout
    assert "stored:\tanalysis.json\tversion\t1\tapplication/json\tuser_input\tquarterly," \
           "finance" in out
    assert "content:\tMarket analysis complete\t1000000\t0.15" in out
    assert "found:\t1\ttrue" in out
    assert "file:\treport.pdf\tapplication/pdf\t55\tQ4 financial report" in out
    assert "version:\t1\t-\nversion:\t2\t1" in out
    assert "latest:\trevised\tfirst:\tMarket analysis complete" in out
    assert "traversal refused:\ttrue\tSecurityViolation: storeFile: argument 'path': " \
           "'../outside.txt' resolves to " in out
    assert "deleted:\ttrue\tArtifactNotFound: no artifact" in out
    kinds = [line.split("\t")[1:4] for line in out.splitlines() if "\tartifact." in line]
    assert kinds == [["artifact.stored", "analysis.json", "1"],
                     ["artifact.stored", "report.pdf", "1"],
                     ["artifact.stored", "analysis.json", "2"],
                     ["artifact.deleted", "analysis.json", "2"]]
    assert not (tmp_path / "report.pdf").exists()  # the script cleans up after itself


def test_store_forms(lua: Any, runtime: Runtime) -> None:
    ids = lua("""
        local s = Session.create{name = "forms"}
        local seed = Artifact.store(s.id, "a.txt", "plain")
        local handle = Artifact.store(s, "b.txt", "via a handle", {tags = {"h"}})
        local rs = Artifact.store(s.id, "tool_result", "calc", "42")
        local rs_meta = Artifact.store(s, "AgentOutput", "out", "hi", {description = "d"})
        local tbl = Artifact.store(s, "cfg", {}, nil)
        return seed, handle, rs, rs_meta, tbl
    """)
    arts = [runtime.artifacts.get(i) for i in ids]
    assert [(a.name, a.artifact_type) for a in arts] == [
        ("a.txt", "user_input"), ("b.txt", "user_input"), ("calc", "tool_result"),
        ("out", "agent_output"), ("cfg", "user_input")]
    assert arts[1].tags == ["h"] and arts[3].description == "d"
    assert runtime.artifacts.value(arts[4]) == {}


def test_get_returns_fields_content_and_metadata(lua: Any) -> None:
    assert lua("""
        local s = Session.create{}
        local id = Artifact.store(s, "n.json", {a = 1, list = {1, 2}}, {custom = {k = "v"}})
        local a = Artifact.get(s, id)
        return a.id == id, a.name, a.version, a.content.a, #a.content.list,
               a.metadata.mime_type, a.custom.k, a.previous_version == nil, a.encoding
    """) == (True, "n.json", 1, 1, 2, "application/json", "v", True, "json")


def test_binary_content_round_trips(lua: Any) -> None:
    assert lua("""
        local s = Session.create{}
        local bytes = string.char(0, 255, 137, 80, 78, 71)
        local id = Artifact.store(s, "raw", bytes)
        local back = Artifact.getContent(s, id)
        return back == bytes, #back, Artifact.get(s, id).mime_type
    """) == (True, 6, "application/octet-stream")


def test_versions_list_query_and_delete(lua: Any) -> None:
    result = lua("""
        local s = Session.create{}
        Artifact.store(s, "log", "one", {tags = {"x"}})
        local v2 = Artifact.store(s, "log", "two", {tags = {"x", "y"}})
        Artifact.store(s, "tool_result", "tool", "r")
        local versions = Artifact.versions(s, "log")
        local tagged = Artifact.list(s, {tags = {"x", "y"}})
        local latest = Artifact.list(s, {name = "lo*", latest = true})
        local tools = Artifact.query{session = s, type = "ToolResult"}
        local everywhere = Artifact.query{}
        local by_name = Artifact.getContent(s, "log")
        local first = Artifact.getContent(s, "log", 1)
        local deleted = Artifact.delete(s, v2)
        local after = Artifact.getContent(s, "log")
        return #versions, versions[2].previous_version, #tagged, latest[1].version,
               #tools, #everywhere, by_name, first, deleted, after
    """)
    assert result == (2, 1, 1, 2, 1, 3, "two", "one", True, "one")


def test_store_file_forms(lua: Any, tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    assert lua("""
        local s = Session.create{}
        local seed = Artifact.get(s, Artifact.storeFile(s.id, "data.csv", {description = "d"}))
        local rs = Artifact.get(s, Artifact.storeFile(s, "data.csv", "system_generated"))
        return seed.mime_type, seed.description, seed.artifact_type, rs.artifact_type,
               rs.version
    """) == ("text/csv", "d", "user_input", "system_generated", 2)


def test_permissions_from_lua(lua: Any) -> None:
    assert lua("""
        local owner, other = Session.create{name = "owner"}, Session.create{name = "other"}
        local id = Artifact.store(owner, "secret", "s3cr3t")
        local ok1, err1 = pcall(Artifact.get, other, id)
        Artifact.grant(owner, other)
        local content = Artifact.getContent(other, id)
        local ok2, err2 = pcall(Artifact.store, owner, "x", "y", nil, nil)
        local grants = Artifact.grants(owner)
        local revoked = Artifact.revoke(owner, other)
        local ok3 = pcall(Artifact.getContent, other, id)
        return ok1, err1:match("^SecurityViolation: session [%w-]+ may not read") ~= nil,
               content, grants[other.id], revoked, ok3
    """) == (False, True, "s3cr3t", "read", True, False)


def test_errors_under_pcall(lua: Any) -> None:
    result = lua("""
        local s = Session.create{}
        local function err(f, ...) local ok, e = pcall(f, ...) return e end
        return err(Artifact.store, s, "", "x"),
               err(Artifact.store, s, "n", nil),
               err(Artifact.store, "no-such-session", "n", "x"),
               err(Artifact.get, s, "missing"),
               err(Artifact.storeFile, s, "/etc/passwd"),
               err(Artifact.list, s, {colour = "red"}),
               err(Artifact.store, s, "n", "x", {tags = "notalist"})
    """)
    assert result[0] == ("ValidationError: argument 'name': must be a non-empty string "
                         "(got str '')")
    assert result[1].startswith("ValidationError: argument 'content': must be a string, bytes")
    assert result[2] == "SessionNotFound: no session has id 'no-such-session'"
    assert result[3].startswith("ArtifactNotFound: session ") and "'missing'" in result[3]
    assert result[4].startswith("SecurityViolation: storeFile: argument 'path': "
                                "'/etc/passwd' resolves to /etc/passwd, outside")
    assert result[5].startswith("ValidationError: argument 'filter' at .colour: unknown field")
    assert result[6].startswith("ValidationError: argument 'metadata.tags': must be a list")


def test_auto_collection_switch(lua: Any, runtime: Runtime) -> None:
    sid = lua("""
        local s = Session.create{}
        Artifact.setAutoCollect(s, false)
        return s.id
    """)
    runtime.hooks.fire("tool:after_execution", "x", component="t", session_id=sid)
    assert runtime.artifacts.list(sid) == []


def test_list_without_a_session_uses_the_current_one(lua: Any) -> None:
    assert lua("""
        local ok, err = pcall(Artifact.list)
        local s = Session.create{}
        Artifact.store(s, "a", "x")
        Session.setCurrent(s)
        return ok, err:match("^ValidationError: argument 'session': Artifact.list needs") ~= nil,
               #Artifact.list(), #Artifact.list("")
    """) == (False, True, 1, 1)


def test_the_docs_first_snippet_runs_after_its_session_line(run: Run, tmp_path: Path) -> None:
    """docs/artifacts.md: the line that makes a session, then the seed's snippet as written
    but for the file it stores (``/path/to/report.pdf`` does not exist here)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "artifacts.md").read_text()
    setup, seed = re.findall(r"```lua\n(.*?)```", doc, flags=re.S)[:2]
    assert "Session.create" in setup and "Artifact.storeFile" in seed
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 a small report")
    script = tmp_path / "snippet.lua"
    script.write_text(setup + seed.replace("/path/to/report.pdf", "report.pdf") +
                      "return {Artifact.get(session.id, file_id).description, #artifacts}\n")
    result = run("run", str(script), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ["Q4 financial report", 1]
