"""Path confinement (llmspell.paths): one rule for Lua io and storeFile, file access that can be
turned off, and the configuration file and data directory protected from script writes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell.errors import ScriptError, SecurityViolation, ValidationError
from llmspell.lua import LuaEngine
from llmspell.paths import Confinement, protected_paths, writes
from llmspell.runtime import Runtime


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory (the current directory) with llmspell.toml, a file, a
    subdirectory, and a secret next to the project."""
    for name in [n for n in os.environ if n.startswith("LLMSPELL_")]:
        monkeypatch.delenv(name)
    root = tmp_path / "project"
    (root / "sub").mkdir(parents=True)
    (root / "f.txt").write_text("inside")
    (root / "llmspell.toml").write_text('[storage]\nurl = "memory://"\n')
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def make_runtime(project: Path) -> Iterator[object]:
    made: list[tuple[Runtime, list[LuaEngine]]] = []

    def make(**overrides: object) -> tuple[Runtime, LuaEngine]:
        runtime = Runtime.from_config(overrides=overrides, cwd=project)
        engine = LuaEngine(runtime, script_name="paths.lua")
        made.append((runtime, [engine]))
        return runtime, engine

    yield make
    for runtime, engines in made:
        for engine in engines:
            engine.close()
        runtime.close()


# -- one rule for io.open and storeFile ---------------------------------------------------


def lua_opens(engine: LuaEngine, path: str) -> str:
    """What ``io.open(path)`` gives: the content, or the error message."""
    try:
        return str(engine.run_string(f"local f = io.open({path!r}) local t = f:read('a') "
                                     "f:close() return t"))
    except ScriptError as exc:
        return str(exc)


def stores_file(runtime: Runtime, path: str) -> str:
    session = runtime.sessions.create("paths")
    try:
        return runtime.artifacts.read(runtime.artifacts.store_file(session, path)).decode()
    except SecurityViolation as exc:
        return str(exc)


@pytest.mark.parametrize("path", ["sub/../f.txt", "./sub/./../f.txt"])
def test_a_path_that_normalises_inside_is_allowed_by_both(make_runtime, path: str) -> None:
    runtime, engine = make_runtime()
    assert lua_opens(engine, path) == "inside"
    assert stores_file(runtime, path) == "inside"  # refused before: "has a '..' component"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "symlink_dir",
                                  "symlink_then_dotdot"])
def test_escapes_are_refused_by_both_alike(make_runtime, project: Path, kind: str) -> None:
    runtime, engine = make_runtime()
    secret = project.parent / "secret.txt"
    if kind == "dotdot":
        path = "../secret.txt"
    elif kind == "absolute":
        path = str(secret)
    elif kind == "symlink":
        (project / "link.txt").symlink_to(secret)
        path = "link.txt"
    elif kind == "symlink_dir":
        (project / "up").symlink_to(project.parent, target_is_directory=True)
        path = "up/secret.txt"
    else:
        # "away/.." is the project lexically, but the system applies ".." to where the link
        # leads (tmp/elsewhere/.. = tmp): the old sandbox checked the lexical form and
        # opened project/secret.txt; both now resolve as the system does, and refuse.
        (project / "away").symlink_to(project.parent / "elsewhere", target_is_directory=True)
        (project / "secret.txt").write_text("decoy")
        path = "away/../secret.txt"
    from_lua, from_store = lua_opens(engine, path), stores_file(runtime, path)
    rule = f"{path!r} resolves to {secret}, outside the allowed roots {project}"
    assert f"SecurityViolation: io.open: argument 'path': {rule}" in from_lua
    assert from_store.startswith(f"storeFile: argument 'path': {rule}")


# -- [runtime.security] allow_file_access -------------------------------------------------


@pytest.mark.parametrize("call", [
    "io.open('f.txt')", "io.open('new.txt', 'w')", "io.lines('f.txt')", "io.input('f.txt')",
    "io.output('out.txt')", "os.remove('f.txt')", "os.rename('f.txt', 'g.txt')",
    "dofile('f.txt')", "loadfile('f.txt')",
])
def test_allow_file_access_false_refuses_every_lua_file_function(make_runtime, project: Path,
                                                                 call: str) -> None:
    _, engine = make_runtime(**{"runtime.security.allow_file_access": False})
    with pytest.raises(ScriptError) as caught:
        engine.run_string(call)
    assert ("SecurityViolation: " in str(caught.value)
            and "file access is disabled by [runtime.security] allow_file_access = false"
            in str(caught.value))
    assert (project / "f.txt").read_text() == "inside"
    assert not (project / "new.txt").exists() and not (project / "g.txt").exists()


def test_allow_file_access_false_refuses_store_file(make_runtime, project: Path) -> None:
    (project / "llmspell.toml").write_text("[runtime.security]\nallow_file_access = false\n"
                                           '[storage]\nurl = "memory://"\n')
    runtime, engine = make_runtime()
    session = runtime.sessions.create("off")
    with pytest.raises(SecurityViolation, match=r"storeFile: file access is disabled by "
                       r"\[runtime.security\] allow_file_access = false"):
        runtime.artifacts.store_file(session, "f.txt")
    assert runtime.artifacts.list(session) == []
    assert engine.run_string("return Artifact.store(Session.create{name = 'x'}, 'n', 'v') "
                             "~= nil")  # content the script holds is still stored


def test_allow_file_access_true_is_the_default(make_runtime) -> None:
    runtime, engine = make_runtime()
    assert runtime.config.setting("runtime.security.allow_file_access") is True
    assert lua_opens(engine, "f.txt") == "inside"


# -- protected paths ------------------------------------------------------------------------


def test_scripts_may_read_but_not_write_the_config_file(make_runtime, project: Path) -> None:
    _, engine = make_runtime()
    config = project / "llmspell.toml"
    before = config.read_text()
    assert "memory://" in lua_opens(engine, "llmspell.toml")
    for call in ("io.open('llmspell.toml', 'w')", "io.open('llmspell.toml', 'a')",
                 "io.open('llmspell.toml', 'r+')", "io.output('llmspell.toml')",
                 "os.remove('llmspell.toml')", "os.rename('llmspell.toml', 'moved.toml')",
                 "os.rename('f.txt', 'llmspell.toml')", "os.rename('.', '../moved')"):
        with pytest.raises(ScriptError, match=rf"SecurityViolation: .*which is or holds "
                                              rf"{project}/\S+, protected from scripts"):
            engine.run_string(call)
    assert config.read_text() == before and (project / "f.txt").exists()


def test_scripts_may_not_write_into_the_data_directory(make_runtime, project: Path) -> None:
    _, engine = make_runtime()
    data = project / ".llmspell"
    (data / "blobs").mkdir(parents=True)
    (data / "llmspell.db").write_bytes(b"store")
    for call in ("io.open('.llmspell/llmspell.db', 'wb')", "os.remove('.llmspell/llmspell.db')",
                 "io.open('.llmspell/blobs/new', 'w')", "os.rename('.llmspell', 'gone')",
                 "os.remove('.llmspell')"):
        with pytest.raises(ScriptError, match="protected from scripts"):
            engine.run_string(call)
    assert (data / "llmspell.db").read_bytes() == b"store"
    assert not (data / "blobs" / "new").exists()
    # other files of the project are still the script's to write
    engine.run_string("local f = assert(io.open('sub/out.txt', 'w')) f:write('x') f:close() "
                      "os.rename('sub/out.txt', 'sub/moved.txt')")
    assert (project / "sub" / "moved.txt").read_text() == "x"


def test_protected_paths_of_a_config(make_runtime, project: Path) -> None:
    runtime, _ = make_runtime(**{"state.backup_dir": "/var/tmp/llmspell-backups-test"})
    config = runtime.config
    assert set(protected_paths(config)) == {
        str(project / ".llmspell"), "/var/tmp/llmspell-backups-test",
        str(project / ".llmspell" / "blobs"), str(project / "llmspell.toml")}


# -- the module's own API --------------------------------------------------------------------


def test_resolve_returns_the_real_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("x")
    (tmp_path / "alias").symlink_to(tmp_path / "a", target_is_directory=True)
    guard = Confinement([tmp_path])
    real = str((tmp_path / "a" / "f").resolve())
    assert guard.resolve(tmp_path / "alias" / "f", what="test") == real
    assert guard.resolve_bytes(os.fsencode(tmp_path / "a" / ".." / "a" / "f"),
                               what="test") == os.fsencode(real)
    assert guard.resolve(tmp_path, what="test") == str(tmp_path.resolve())  # the root itself


def test_a_root_is_a_directory_not_a_name_prefix(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root2").mkdir()
    with pytest.raises(SecurityViolation, match="outside the allowed roots"):
        Confinement([tmp_path / "root"]).resolve(tmp_path / "root2" / "x", what="test")


def test_bad_paths(tmp_path: Path) -> None:
    guard = Confinement([tmp_path])
    for bad in (None, 3, "", b""):
        with pytest.raises(ValidationError, match=r"argument 'file': test needs a non-empty "
                                                  "file name string"):
            guard.resolve(bad, what="test", argument="file")
    with pytest.raises(SecurityViolation, match=r"test: argument 'path': the path .* contains a "
                                                "NUL byte"):
        guard.resolve(f"{tmp_path}/a\0b", what="test")
    with pytest.raises(SecurityViolation, match=r"outside the allowed roots \(none\)"):
        Confinement([]).resolve(tmp_path, what="test")


def test_protected_applies_to_writes_only(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    guard = Confinement([tmp_path], protected=[tmp_path / "data"])
    inside = tmp_path / "data" / "x"
    assert guard.resolve(inside, what="read") == str(inside)
    for target in (inside, tmp_path / "data", tmp_path):
        with pytest.raises(SecurityViolation, match="protected from scripts"):
            guard.resolve(target, what="write", write=True)
    assert guard.resolve(tmp_path / "other", what="write", write=True)


@pytest.mark.parametrize(("mode", "expected"), [
    (None, False), ("r", False), ("rb", False), (b"r", False), ("w", True), ("wb", True),
    ("a", True), ("r+", True), ("a+b", True),
])
def test_writes(mode: object, expected: bool) -> None:
    assert writes(mode) is expected


def test_writes_needs_a_string() -> None:
    with pytest.raises(ValidationError, match="argument 'mode': must be a file mode string"):
        writes(1)


def test_allow_file_access_false_holds_in_the_full_sandbox_too(make_runtime,
                                                               project: Path) -> None:
    _, engine = make_runtime(**{"runtime.security.allow_file_access": False,
                                "engines.lua.sandbox": "full"})
    for call in ("io.open('f.txt')", "io.lines('f.txt')", "io.output('o.txt')",
                 "os.remove('f.txt')", "os.rename('f.txt', 'g.txt')", "dofile('f.txt')",
                 "loadfile('f.txt')", "io.input('f.txt')"):
        with pytest.raises(ScriptError, match=r"SecurityViolation: \S+: file access is "
                                              r"disabled by \[runtime.security\] "
                                              "allow_file_access = false"):
            engine.run_string(call)
    assert (project / "f.txt").exists() and not (project / "o.txt").exists()
    assert engine.run_string("return type(debug.getinfo(1))") == "table"  # still "full"


def test_the_full_sandbox_with_file_access_uses_files_freely(make_runtime,
                                                            project: Path) -> None:
    _, engine = make_runtime(**{"engines.lua.sandbox": "full"})
    assert engine.run_string("return io.open('../secret.txt'):read('a')") == "top secret"


def test_a_store_outside_the_data_directory_is_protected_too(make_runtime,
                                                             project: Path) -> None:
    (project / "llmspell.toml").write_text('[storage]\nurl = "sqlite:///db/main.db"\n')
    (project / "db").mkdir()
    runtime, engine = make_runtime()
    db = project / "db" / "main.db"
    assert {str(db), f"{db}-wal", f"{db}-shm", f"{db}-journal"} <= set(
        protected_paths(runtime.config))
    runtime.state.save("global", "k", 1)  # the store exists and is in use
    for call in ("io.open('db/main.db', 'wb')", "os.remove('db/main.db-wal')",
                 "io.open('db/main.db-journal', 'w')", "os.rename('db', 'olddb')"):
        with pytest.raises(ScriptError, match="protected from scripts"):
            engine.run_string(call)
    assert runtime.state.load("global", "k") == 1
    engine.run_string("local f = assert(io.open('db/notes.txt', 'w')) f:close()")
    assert (project / "db" / "notes.txt").exists()
