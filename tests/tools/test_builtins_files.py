"""file_operations, file_search, archive_handler and environment_reader, with the hostile set:
``..``, symlinks and absolute paths outside the roots, zip-slip, archive bombs, secrets."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import SecurityViolation, ToolError, ValidationError


def call(rt: Runtime, tool: str, **params: Any) -> Any:
    return rt.tools.invoke(tool, params).result


def test_a_file_the_tool_cannot_open_is_a_tool_error_naming_the_tool(rt: Runtime,
                                                                      root: Path) -> None:
    # An OSError used to come out raw (FileNotFoundError), which the docs do not promise.
    session = rt.sessions.create("files")
    for tool, params in (("file_operations", {"operation": "read", "path": "gone.txt"}),
                         ("diff_calculator", {"old_file": "gone.txt", "new_text": "a"}),
                         ("file_operations", {"operation": "copy", "source_path": "gone.txt",
                                              "target_path": "copy.txt"})):
        params = {k: str(root / v) if k.endswith(("path", "file")) else v
                  for k, v in params.items()}
        with pytest.raises(ToolError, match=f"tool '{tool}' failed: .*No such file") as info:
            rt.tools.invoke(tool, params, session_id=session.id)
        assert isinstance(info.value.__cause__, FileNotFoundError)
    failed = rt.sessions.journal.read(session.id, kinds="tool.call")
    assert [e.data["error_type"] for e in failed] == ["ToolError"] * 3


def test_file_operations_write_read_list_copy_move_delete(rt: Runtime, root: Path) -> None:
    notes = str(root / "notes.txt")
    call(rt, "file_operations", operation="write", path=notes, input="one\n")
    call(rt, "file_operations", operation="append", path=notes, input="two\n")
    assert call(rt, "file_operations", operation="read", path=notes)["content"] == "one\ntwo\n"
    call(rt, "file_operations", operation="mkdir", path=str(root / "a" / "b"), recursive=True)
    call(rt, "file_operations", operation="copy", source_path=notes,
         target_path=str(root / "a" / "copy.txt"))
    call(rt, "file_operations", operation="move", source_path=str(root / "a" / "copy.txt"),
         target_path=str(root / "a" / "b" / "moved.txt"))
    listing = call(rt, "file_operations", operation="list", path=str(root / "a"))
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("b", "directory")]
    assert call(rt, "file_operations", operation="info", path=notes)["size"] == 8
    call(rt, "file_operations", operation="delete", path=str(root / "a"), recursive=True)
    assert not (root / "a").exists()
    assert call(rt, "file_operations", operation="exists", path=str(root / "a")) == {
        "exists": False}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("top secret")
    return secret


def test_file_operations_refuses_dotdot_symlinks_and_absolute_paths(
        rt: Runtime, root: Path, outside: Path) -> None:
    seen: list[Any] = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    (root / "link").symlink_to(outside.parent)
    (root / "file_link").symlink_to(outside)
    for path in (str(root / ".." / "outside" / "secret.txt"), str(outside),
                 str(root / "link" / "secret.txt"), str(root / "file_link")):
        with pytest.raises(SecurityViolation, match=r"outside the allowed roots.*allowed_paths"):
            call(rt, "file_operations", operation="read", path=path)
    with pytest.raises(SecurityViolation, match="outside the allowed roots"):
        call(rt, "file_operations", operation="write", path=str(root / "link" / "new.txt"),
             input="x")
    assert not (outside.parent / "new.txt").exists()
    with pytest.raises(SecurityViolation, match="an allowed root itself"):
        call(rt, "file_operations", operation="delete", path=str(root), recursive=True)
    assert len(seen) == 6 and all(s["tool"] == "file_operations" for s in seen)


def test_file_access_off_refuses_naming_the_setting(make_rt: Any, root: Path) -> None:
    rt = make_rt(runtime__security__allow_file_access=False)
    (root / "a.txt").write_text("x")
    with pytest.raises(SecurityViolation, match="allow_file_access = false"):
        call(rt, "file_operations", operation="read", path=str(root / "a.txt"))


def test_file_operations_refuses_writing_the_data_directory(make_rt: Any, root: Path) -> None:
    rt = make_rt(runtime__data_dir=str(root / ".llmspell"))
    with pytest.raises(SecurityViolation, match="protected"):
        call(rt, "file_operations", operation="write", path=str(root / ".llmspell" / "x"),
             input="x")


def test_file_search_finds_text_and_skips_links_out(rt: Runtime, root: Path,
                                                    outside: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "a.py").write_text("import os\nTODO: fix\n")
    (root / "src" / "b.txt").write_text("todo later\n")
    (root / "escape.txt").symlink_to(outside)
    outside.write_text("TODO secret\n")
    found = call(rt, "file_search", path=str(root), pattern="todo")
    assert [(m["path"], m["matches"][0]["line"]) for m in found["matches"]] == [
        ("src/a.py", 2), ("src/b.txt", 1)]
    assert found["skipped"] == 1
    only_py = call(rt, "file_search", path=str(root), pattern="TODO", case_sensitive=True,
                   include_extensions=["py"])
    assert [m["path"] for m in only_py["matches"]] == ["src/a.py"]
    with pytest.raises(SecurityViolation, match="outside the allowed roots"):
        call(rt, "file_search", path=str(outside.parent), pattern="x")


def test_archive_create_list_extract(rt: Runtime, root: Path) -> None:
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text("alpha")
    (root / "b.txt").write_text("beta")
    for kind in ("zip", "tgz"):
        archive = str(root / f"out.{'zip' if kind == 'zip' else 'tar.gz'}")
        made = call(rt, "archive_handler", operation="create", path=archive,
                    input=[str(root / "docs"), str(root / "b.txt")])
        assert made["files"] == 2
        names = {e["name"] for e in call(rt, "archive_handler", operation="list",
                                         path=archive)["entries"]}
        assert names == {"docs/a.txt", "b.txt"}
        target = root / f"unpacked-{kind}"
        out = call(rt, "archive_handler", operation="extract", path=archive,
                   target_path=str(target))
        assert out["files"] == 2 and (target / "docs" / "a.txt").read_text() == "alpha"


def _zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)


def test_archive_refuses_zip_slip(rt: Runtime, root: Path, tmp_path: Path) -> None:
    _zip(root / "slip.zip", {"ok.txt": b"fine", "../../evil.txt": b"owned"})
    with pytest.raises(SecurityViolation, match=r"'../../evil.txt' would be written outside"):
        call(rt, "archive_handler", operation="extract", path=str(root / "slip.zip"),
             target_path=str(root / "out"))
    assert not (tmp_path / "evil.txt").exists() and not (root / "out" / "ok.txt").exists()
    _zip(root / "abs.zip", {"/tmp/evil.txt": b"owned"})
    with pytest.raises(SecurityViolation, match="would be written outside"):
        call(rt, "archive_handler", operation="extract", path=str(root / "abs.zip"),
             target_path=str(root / "out"))


def test_archive_refuses_links_in_a_tar(rt: Runtime, root: Path) -> None:
    with tarfile.open(root / "link.tar", "w") as tar:
        info = tarfile.TarInfo("passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(SecurityViolation, match="'passwd' is a symlink"):
        call(rt, "archive_handler", operation="extract", path=str(root / "link.tar"),
             target_path=str(root / "out"))


def test_archive_refuses_a_bomb_by_declared_and_by_actual_size(rt: Runtime, root: Path) -> None:
    _zip(root / "bomb.zip", {"zeros.bin": b"\0" * 5_000_000})
    assert (root / "bomb.zip").stat().st_size < 50_000
    with pytest.raises(SecurityViolation, match="more than max_size = 1000000"):
        call(rt, "archive_handler", operation="extract", path=str(root / "bomb.zip"),
             target_path=str(root / "out"), max_size=1_000_000)
    # A tar that understates its size cannot exist (tar sizes are exact); a zip whose
    # central directory lies is stopped by the byte count while writing.
    lying = io.BytesIO()
    with zipfile.ZipFile(lying, "w", zipfile.ZIP_STORED) as z:
        z.writestr("big.bin", b"x" * 3_000_000)
    data = bytearray(lying.getvalue())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # declared size: 10 bytes
    (root / "liar.zip").write_bytes(bytes(data))
    with pytest.raises(ValidationError, match="damaged or lies about its contents"):
        call(rt, "archive_handler", operation="extract", path=str(root / "liar.zip"),
             target_path=str(root / "out2"), max_size=1_000_000)
    leftovers = list((root / "out2").rglob("*")) if (root / "out2").exists() else []
    assert [p for p in leftovers if p.is_file()] == []
    with pytest.raises(SecurityViolation, match="more than max_files = 1"):
        _zip(root / "many.zip", {"a": b"1", "b": b"2"})
        call(rt, "archive_handler", operation="extract", path=str(root / "many.zip"),
             target_path=str(root / "out3"), max_files=1)


def test_environment_reader_redacts_secrets(rt: Runtime,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSPELL_TEST_PLAIN", "hello")
    monkeypatch.setenv("LLMSPELL_TEST_API_KEY", "abc123")
    monkeypatch.setenv("LLMSPELL_TEST_NOTE", "key sk-abcdefghijklmnopqrstuvwx inside")
    got = call(rt, "environment_reader", operation="pattern", pattern="LLMSPELL_TEST_*")
    assert got["variables"] == {"LLMSPELL_TEST_API_KEY": "[REDACTED]",
                                "LLMSPELL_TEST_NOTE": "key [REDACTED] inside",
                                "LLMSPELL_TEST_PLAIN": "hello"}
    assert call(rt, "environment_reader", operation="get",
                variable_name="LLMSPELL_TEST_PLAIN")["value"] == "hello"
    assert call(rt, "environment_reader", operation="get",
                variable_name="LLMSPELL_TEST_NONE")["exists"] is False
    with pytest.raises(ValidationError, match=r"\$.operation"):
        call(rt, "environment_reader", operation="set", variable_name="X")
    assert os.environ["LLMSPELL_TEST_PLAIN"] == "hello"


def test_restricted_tools_refused_under_a_safe_maximum(make_rt: Any, root: Path) -> None:
    rt = make_rt(runtime__security__max_security_level="safe")
    for name, params in (("file_operations", {"operation": "exists", "path": str(root)}),
                         ("environment_reader", {}),
                         ("archive_handler", {"operation": "list", "path": "a.zip"})):
        with pytest.raises(SecurityViolation, match="max_security_level"):
            rt.tools.invoke(name, params)
