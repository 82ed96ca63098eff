"""process_executor: off by default, an allowlist, no shell, confined directory, timeout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmspell.errors import SecurityViolation, ToolError, ValidationError


def test_refused_by_default_naming_the_setting(rt: Any) -> None:
    seen: list[Any] = []
    rt.hooks.register("security:violation", lambda ctx: seen.append(ctx.data))
    with pytest.raises(SecurityViolation, match=r"allow_process_spawn = false"):
        rt.tools.invoke("process_executor", {"executable": "echo", "arguments": ["hi"]})
    assert seen[0]["tool"] == "process_executor"


def test_a_program_not_on_the_allowlist_is_refused(make_rt: Any) -> None:
    rt = make_rt(runtime__security__allow_process_spawn=True,
                 runtime__security__allowed_executables=["echo"])
    with pytest.raises(SecurityViolation, match=r"'rm' is not in \[runtime.security\] "
                       r"allowed_executables \(echo\)"):
        rt.tools.invoke("process_executor", {"executable": "rm", "arguments": ["-rf", "/x"]})
    with pytest.raises(ValidationError, match=r"\$.executable.*not a path"):
        rt.tools.invoke("process_executor", {"executable": "/bin/echo"})


def test_an_allowed_program_runs_without_a_shell(make_rt: Any, root: Path) -> None:
    rt = make_rt(runtime__security__allow_process_spawn=True,
                 runtime__security__allowed_executables=["echo", "cat", "pwd"])
    out = rt.tools.invoke("process_executor", {"executable": "echo",
                                               "arguments": ["$HOME", "; rm -rf /"]}).result
    assert out["stdout"] == "$HOME ; rm -rf /\n" and out["exit_code"] == 0
    assert rt.tools.invoke("process_executor", {"executable": "cat",
                                                "input": "piped"}).result["stdout"] == "piped"
    (root / "sub").mkdir()
    here = rt.tools.invoke("process_executor", {"executable": "pwd",
                                                "working_directory": str(root / "sub")})
    assert here.result["stdout"].strip() == str((root / "sub").resolve())
    with pytest.raises(SecurityViolation, match="outside the allowed roots"):
        rt.tools.invoke("process_executor", {"executable": "pwd",
                                             "working_directory": str(root.parent)})


def test_output_past_the_cap_is_dropped_and_counted(make_rt: Any) -> None:
    rt = make_rt(runtime__security__allow_process_spawn=True,
                 runtime__security__allowed_executables=["seq"])
    out = rt.tools.invoke("process_executor", {"executable": "seq",
                                               "arguments": ["1", "400000"]}).result
    full = "".join(f"{i}\n" for i in range(1, 400001))
    kept, _, note = out["stdout"].rpartition("\n[")
    assert out["exit_code"] == 0 and full.startswith(kept) and len(kept) == 1024 * 1024
    assert note == f"{len(full) - 1024 * 1024} more bytes dropped]"


def test_a_program_past_its_timeout_is_killed(make_rt: Any) -> None:
    rt = make_rt(runtime__security__allow_process_spawn=True,
                 runtime__security__allowed_executables=["sleep"])
    with pytest.raises(ToolError, match=r"ran past its timeout of 0.2 s and was killed"):
        rt.tools.invoke("process_executor", {"executable": "sleep", "arguments": ["30"],
                                             "timeout": 0.2})
    # a program that never reads a large input still ends at its timeout
    with pytest.raises(ToolError, match="was killed"):
        rt.tools.invoke("process_executor", {"executable": "sleep", "arguments": ["30"],
                                             "input": "x" * 1_000_000, "timeout": 0.2})
