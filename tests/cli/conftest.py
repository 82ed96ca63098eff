"""``run(*args, stdin=None)`` runs the ``llmspell`` command in-process (CliRunner) and
``process(*args, stdin=None, env=None)`` as a real process (the one smoke test per command
group, test_cli_processes.py); both in an empty project directory (``tmp_path``, default
sqlite store) without ``LLMSPELL_*`` variables. See runners.py."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from runners import Process, Run, invoke, spawn


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("LLMSPELL_"):
            monkeypatch.delenv(name)
    return invoke


@pytest.fixture
def process(tmp_path: Path) -> Process:
    return functools.partial(spawn, tmp_path)
