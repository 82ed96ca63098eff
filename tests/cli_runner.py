"""The two ways tests run the ``llmspell`` command (the root conftest's fixtures ``run`` and
``process``): in-process through click's CliRunner (most tests: fast), or as a real
``python -m llmspell`` (one smoke test per command group, tests/cli/test_cli_processes.py).
(Not in conftest.py, so test modules can import the types.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from llmspell.cli.main import cli

#: ``run(*args, stdin=None) -> Result`` (``exit_code``, ``stdout``, ``stderr``, ``output``).
Run = Callable[..., Result]
#: ``process(*args, stdin=None, env=None) -> CompletedProcess[bytes]``.
Process = Callable[..., "subprocess.CompletedProcess[bytes]"]


def invoke(*args: str, stdin: str | bytes | None = None) -> Result:
    """Run the command in this process; exceptions other than exits propagate."""
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def spawn(cwd: Path, *args: str, stdin: bytes | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m llmspell`` in ``cwd`` without the caller's ``LLMSPELL_*`` variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LLMSPELL_")}
    clean["LLMSPELL_CEILING_DIRECTORIES"] = str(Path(cwd).resolve().parent)  # see conftest
    return subprocess.run([sys.executable, "-m", "llmspell", *args], cwd=cwd, input=stdin,
                          capture_output=True, timeout=60, env={**clean, **(env or {})})
