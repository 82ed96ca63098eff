"""The sandbox: what 'safe' refuses (clearly), what it confines, and what 'full' allows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import MakeEngine
from llmspell.errors import ScriptError
from llmspell.lua import LuaEngine

HINT = "(set [engines.lua] sandbox = \"full\" to allow it)"


@pytest.mark.parametrize("call, name", [
    ('os.execute("true")', "os.execute"),
    ("os.execute()", "os.execute"),
    ("os.tmpname()", "os.tmpname"),
    ('os.setlocale("C")', "os.setlocale"),
    ('io.popen("ls")', "io.popen"),
    ("io.tmpfile()", "io.tmpfile"),
    ("string.dump(print)", "string.dump"),
    ('("x").dump(print)', "string.dump"),
    ('require("os")', "require"),
    ('package.loadlib("libc.so.6", "system")', "package.loadlib"),
    ("debug.getinfo(1)", "debug.getinfo"),
    ("debug.sethook()", "debug.sethook"),
    ("debug.getregistry()", "debug.getregistry"),
    ('collectgarbage("stop")', 'collectgarbage("stop")'),
    ('collectgarbage("generational")', 'collectgarbage("generational")'),
])
def test_safe_refuses_with_a_clear_error(engine: LuaEngine, call: str, name: str) -> None:
    with pytest.raises(ScriptError) as caught:
        engine.run_string(f"local x = 1\n{call}", "s.lua")
    assert str(caught.value) == (f"s.lua:2: SecurityViolation: {name} is not allowed in the "
                                 f"'safe' sandbox {HINT}")
    assert caught.value.line == 2
    ok, message = engine.run_string(f"return pcall(function() return {call} end)")
    assert ok is False
    assert message.startswith(f"SecurityViolation: {name} is not allowed")


def test_safe_keeps_the_harmless_parts(engine: LuaEngine) -> None:
    assert engine.run_string(
        "local t = debug.traceback('here') return type(os.time()), type(os.clock()), "
        "os.date('!%Y', 0), collectgarbage('count') > 0, t:sub(1, 4), "
        "load('return 1 + 1')(), string.format('%d', 3), math.max(1, 2), utf8.char(72)"
    ) == ("number", "number", "1970", True, "here", 2, "3", 2, "H")


def test_load_refuses_bytecode_from_string_dump(make_engine: MakeEngine) -> None:
    full = make_engine(engines__lua__sandbox="full")
    bytecode = full.run_string("return string.dump(function() return 7 end)")
    assert isinstance(bytecode, bytes) and bytecode.startswith(b"\x1bLua")
    safe = make_engine()
    safe.lua.globals()[b"CODE"] = bytecode
    with pytest.raises(ScriptError, match="SecurityViolation: load: binary \\(precompiled\\) "
                                          "chunks are not allowed"):
        safe.run_string("return load(CODE)")
    with pytest.raises(ScriptError, match="SecurityViolation: load: binary"):
        safe.run_string("return load('return 1', 'x', 'b')")
    # A reader function cannot slip bytecode past the text-only mode either.
    ok, message = safe.run_string(
        "local done = false\n"
        "return load(function() if done then return nil end done = true return CODE end)")
    assert ok is None and "attempt to load a binary chunk" in message
    assert full.run_string("local b = string.dump(function() return 7 end) "
                           "return load(b)()") == 7


def test_load_keeps_an_explicit_env(engine: LuaEngine) -> None:
    assert engine.run_string("return load('return x', 'c', 't', {x = 5})()") == 5
    assert engine.run_string("x = 1 return load('return x')()") == 1


def test_gc_metamethods_are_refused(engine: LuaEngine) -> None:
    with pytest.raises(ScriptError, match="SecurityViolation: __gc metamethods are not allowed"):
        engine.run_string("setmetatable({}, {__gc = function() end})")
    assert engine.run_string("return getmetatable(setmetatable({}, {__index = {a = 1}})) ~= nil")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    inside = tmp_path / "root"
    inside.mkdir()
    (tmp_path / "secret.txt").write_text("top secret")
    (inside / "data.txt").write_text("line one\nline two\n")
    return inside


@pytest.fixture
def confined(make_engine: MakeEngine, root: Path) -> LuaEngine:
    return make_engine(runtime__allowed_paths=[str(root)])


def test_io_inside_the_root_works(confined: LuaEngine, root: Path) -> None:
    path = str(root / "data.txt")
    out = str(root / "sub_out.txt")
    assert confined.run_string(f"""
        local f = assert(io.open({path!r}))
        local first = f:read("l")
        f:close()
        local lines = {{}}
        for line in io.lines({path!r}) do lines[#lines + 1] = line end
        local w = assert(io.open({out!r}, "w"))
        w:write("written")
        w:close()
        os.rename({out!r}, {out!r} .. ".2")
        local back = io.open({out!r} .. ".2"):read("a")
        os.remove({out!r} .. ".2")
        return first, #lines, back
    """) == ("line one", 2, "written")
    assert not (root / "sub_out.txt.2").exists()


def test_missing_file_inside_the_root_is_a_normal_nil_result(confined: LuaEngine,
                                                              root: Path) -> None:
    ok, message, _ = confined.run_string(f"return io.open({str(root / 'none.txt')!r})")
    assert ok is None and "No such file" in message


@pytest.mark.parametrize("what", ["absolute", "dotdot", "symlink", "symlink_dir", "relative"])
def test_io_outside_the_root_is_refused(confined: LuaEngine, root: Path, what: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = root.parent / "secret.txt"
    if what == "absolute":
        path = str(secret)
    elif what == "dotdot":
        path = str(root / ".." / "secret.txt")
    elif what == "symlink":
        (root / "link.txt").symlink_to(secret)
        path = str(root / "link.txt")
    elif what == "symlink_dir":
        (root / "up").symlink_to(root.parent, target_is_directory=True)
        path = str(root / "up" / "secret.txt")
    else:
        monkeypatch.chdir(root)
        path = "../secret.txt"
    for call in (f"io.open({path!r})", f"io.lines({path!r})", f"io.input({path!r})",
                 f"io.output({path!r})", f"os.remove({path!r})", f"dofile({path!r})",
                 f"loadfile({path!r})", f"os.rename({str(root / 'data.txt')!r}, {path!r})"):
        with pytest.raises(ScriptError) as caught:
            confined.run_string(call, "io.lua")
        message = str(caught.value)
        assert message.startswith("io.lua:1: SecurityViolation: ")
        assert f"{path!r} resolves to {secret}, outside the allowed roots {root}" in message
    assert secret.read_text() == "top secret"


def test_dofile_and_loadfile_inside_the_root(confined: LuaEngine, root: Path) -> None:
    lib = root / "lib.lua"
    lib.write_text("return {answer = 42}")
    assert confined.run_string(f"return dofile({str(lib)!r}).answer") == 42
    assert confined.run_string(f"return loadfile({str(lib)!r})().answer") == 42
    with pytest.raises(ScriptError, match="dofile without a file name"):
        confined.run_string("dofile()")


def test_nul_byte_in_a_path_is_refused(confined: LuaEngine, root: Path) -> None:
    with pytest.raises(ScriptError, match="contains a NUL byte"):
        confined.run_string(f"io.open({str(root / 'data.txt')!r} .. '\\0/../x')")


def test_getenv_refuses_secret_names(engine: LuaEngine,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_PLAIN", "visible")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-hidden")
    assert engine.run_string("return os.getenv('LLMSPELL_TEST_PLAIN')") == "visible"
    assert engine.run_string("return os.getenv('LLMSPELL_TEST_UNSET_VARIABLE')") is None
    with pytest.raises(ScriptError, match=r"SecurityViolation: os.getenv\('OPENAI_API_KEY'\) "
                                          "is not allowed in the 'safe' sandbox"):
        engine.run_string("return os.getenv('OPENAI_API_KEY')")


def test_full_allows_the_standard_library(make_engine: MakeEngine, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-visible-in-full")
    engine = make_engine(engines__lua__sandbox="full", runtime__allowed_paths=[str(tmp_path)])
    marker = tmp_path / "ran"
    assert engine.run_string(f'return os.execute("touch {marker}")') == (True, "exit", 0)
    assert marker.exists()
    outside = tmp_path.parent / f"llmspell-full-{os.getpid()}.txt"
    try:
        engine.run_string(f"local f = io.open({str(outside)!r}, 'w') f:write('x') f:close()")
        assert outside.read_text() == "x"
    finally:
        outside.unlink(missing_ok=True)
    assert engine.run_string("return os.getenv('OPENAI_API_KEY'), type(require('string')), "
                             "type(debug.getinfo(1))") == ("sk-visible-in-full", "table", "table")


def test_unknown_sandbox_level_is_refused_by_config(make_engine: MakeEngine) -> None:
    from llmspell.errors import ConfigError

    with pytest.raises(ConfigError, match="sandbox"):
        make_engine(engines__lua__sandbox="open")
