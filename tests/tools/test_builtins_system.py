"""file_converter, file_watcher and system_monitor: main uses and refusals."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from llmspell import Runtime
from llmspell.errors import SecurityViolation, ValidationError


def call(rt: Runtime, tool: str, **params: Any) -> Any:
    return rt.tools.invoke(tool, params).result


def test_file_converter_encoding_line_endings_and_tabs(rt: Runtime, root: Path) -> None:
    legacy = root / "legacy.txt"
    legacy.write_bytes("café\r\nthé\r\n".encode("latin-1"))
    call(rt, "file_converter", operation="encoding", path=str(legacy),
         from_encoding="latin-1", to_encoding="utf-8", target_path=str(root / "utf8.txt"))
    assert (root / "utf8.txt").read_bytes() == "café\r\nthé\r\n".encode()
    call(rt, "file_converter", operation="line_endings", path=str(root / "utf8.txt"),
         line_ending="lf")
    assert (root / "utf8.txt").read_bytes() == "café\nthé\n".encode()
    (root / "tabs.py").write_text("def f():\n\treturn 1\n")
    call(rt, "file_converter", operation="indentation", path=str(root / "tabs.py"), tab_size=4)
    assert (root / "tabs.py").read_text() == "def f():\n    return 1\n"


def test_file_converter_refusals(rt: Runtime, root: Path, tmp_path: Path) -> None:
    (root / "u.txt").write_text("€uro")
    with pytest.raises(ValidationError, match=r"\$.to_encoding.*ascii cannot hold '€'"):
        call(rt, "file_converter", operation="encoding", path=str(root / "u.txt"),
             to_encoding="ascii")
    with pytest.raises(ValidationError, match=r"\$.from_encoding.*not a known text encoding"):
        call(rt, "file_converter", operation="encoding", path=str(root / "u.txt"),
             from_encoding="klingon")
    with pytest.raises(SecurityViolation, match="outside the allowed roots"):
        call(rt, "file_converter", operation="encoding", path=str(root / "u.txt"),
             target_path=str(tmp_path / "out.txt"))
    assert not (tmp_path / "out.txt").exists()


def test_file_watcher_reports_a_change_and_times_out_without_one(rt: Runtime,
                                                                root: Path) -> None:
    (root / "watched").mkdir()
    quiet = call(rt, "file_watcher", input=[str(root / "watched")], timeout_seconds=0.05)
    assert quiet == {"events": [], "timed_out": True}
    done = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not done.is_set():
            (root / "watched" / "new.txt").write_text(str(n))
            n += 1
            done.wait(0.02)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        out = call(rt, "file_watcher", input=[str(root / "watched")], timeout_seconds=30,
                   poll_interval_ms=10)
    finally:
        done.set()
        writer.join()
    assert out["timed_out"] is False
    assert out["events"][0]["path"].endswith("new.txt")
    with pytest.raises(ValidationError, match=r"\$.timeout_seconds"):
        call(rt, "file_watcher", input=[str(root)], timeout_seconds=3600)
    with pytest.raises(SecurityViolation, match="outside the allowed roots"):
        call(rt, "file_watcher", input=["/"], timeout_seconds=0.01)


def test_system_monitor(rt: Runtime, root: Path) -> None:
    out = call(rt, "system_monitor")
    assert out["cpu"]["count"] >= 1
    assert out["disk"][0]["path"] == str(root.resolve()) and out["disk"][0]["total_bytes"] > 0
    assert set(call(rt, "system_monitor", operation="memory")) == {"memory"}
    with pytest.raises(ValidationError, match=r"\$.operation"):
        call(rt, "system_monitor", operation="processes")
