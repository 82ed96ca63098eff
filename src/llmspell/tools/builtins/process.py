"""``process_executor``: run an allowed program, never through a shell. Off by default.

It runs only when ``[runtime.security] allow_process_spawn = true`` and the program's name is
listed in ``allowed_executables``; the name may not contain a path (it is looked up on
``PATH``). Arguments are passed as a list (no shell, so no expansion or injection), the
environment is reduced to ``PATH``, ``HOME``, ``LANG`` and ``USER``, the working directory
(default: the first allowed root) is confined like every file, at most 1 MiB of each output
is kept (the rest is read and dropped), and a program past its timeout is killed with its
process group. Arguments are not paths the tool can check: allow only programs whose
arguments cannot reach outside what you mean to expose.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from typing import Any

from llmspell.errors import ToolError, ValidationError
from llmspell.tools.base import Tool, ToolContext

MAX_OUTPUT = 1024 * 1024
DRAIN_SECONDS = 5.0
MAX_TIMEOUT = 55.0
KEPT_ENV = ("PATH", "HOME", "LANG", "USER")


class ProcessExecutor(Tool):
    name = "process_executor"
    description = ("Run an allowed program with arguments (no shell) and return its exit "
                   "code and output; off unless [runtime.security] allow_process_spawn")
    category = "system"
    security_level = "privileged"
    capabilities = ("process",)
    timeout = 60.0
    parameters = {
        "type": "object",
        "properties": {
            "executable": {"type": "string", "minLength": 1},
            "arguments": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
            "working_directory": {"type": "string"},
            "input": {"type": "string", "maxLength": MAX_OUTPUT},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIMEOUT,
                        "default": 30},
        },
        "required": ["executable"],
        "additionalProperties": False,
    }

    def execute(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        executable = params["executable"]
        if os.sep in executable or (os.altsep and os.altsep in executable):
            raise ValidationError("params", "must be a program name, not a path (it is looked "
                                  "up on PATH)", path="$.executable", got=executable)
        roots = ctx.confinement.roots
        default = os.fsdecode(roots[0]) if roots else "."  # the first allowed root
        cwd = ctx.resolve(params.get("working_directory", default), tool=self.name,
                          argument="working_directory")
        code, out, err = run_program(ctx, self.name, executable, params.get("arguments", []),
                                     cwd=cwd, limit=float(params.get("timeout", 30)),
                                     stdin=params.get("input"))
        return {"executable": executable, "exit_code": code, "stdout": out, "stderr": err,
                "success": code == 0}


def run_program(ctx: ToolContext, tool: str, executable: str, arguments: list[str], *,
                cwd: str, limit: float, stdin: str | None = None) -> tuple[int, str, str]:
    """Run ``executable`` (a name looked up on PATH) for ``tool`` as this module's docstring
    says: only if :meth:`ToolSecurity.check_process
    <llmspell.tools.security.ToolSecurity.check_process>` allows it, no shell, a reduced
    environment, output capped, killed with its group past ``limit`` seconds. Returns the exit
    code, stdout and stderr.

    Raises:
        SecurityViolation: starting it is not allowed.
        ToolError: it is not on PATH, or it ran past ``limit``.
    """
    if ctx.security is None:
        raise ToolError(f"{tool} needs the security settings of a runtime")
    ctx.security.check_process(tool, executable)
    program = shutil.which(executable)
    if program is None:
        raise ToolError(f"{tool}: {executable!r} is allowed but not found on PATH")
    env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
    with subprocess.Popen([program, *arguments], cwd=cwd, env=env,
                          stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True) as proc:
        out, err = _Capture(proc.stdout), _Capture(proc.stderr)
        if stdin is not None and proc.stdin is not None:  # fed by a thread: a program
            threading.Thread(target=_feed, args=(proc.stdin, stdin.encode()),
                             daemon=True).start()  # that never reads cannot block us
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise ToolError(f"{tool}: {executable!r} ran past its timeout of {limit} s and "
                            "was killed") from None
        finally:
            out.join()
            err.join()
    return proc.returncode, out.text(), err.text()


def _feed(stdin: Any, data: bytes) -> None:
    try:
        stdin.write(data)
        stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the program did not read all of its input; its exit code tells


class _Capture:
    """Drains a pipe in a thread, keeping the first MAX_OUTPUT bytes (the rest is read and
    dropped, so a program that writes without end neither blocks nor fills the memory)."""

    def __init__(self, stream: Any) -> None:
        self.kept = bytearray()
        self.dropped = 0
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream: Any) -> None:
        while chunk := stream.read(65536):
            room = MAX_OUTPUT - len(self.kept)
            self.kept += chunk[:room]
            self.dropped += max(len(chunk) - room, 0)

    def join(self) -> None:
        # The pipe closes when the program (and its group) ends; a grandchild that left the
        # group may keep it open, so the wait is bounded.
        self.thread.join(DRAIN_SECONDS)

    def text(self) -> str:
        shown = bytes(self.kept).decode("utf-8", errors="replace")
        return shown + (f"\n[{self.dropped} more bytes dropped]" if self.dropped else "")
