"""Every example runs as a user would run them: one after another, twice, in one directory
(so each must cope with what the others, and its own earlier run, left in the store)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.lua"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 9


@pytest.mark.slow
def test_all_examples_run_in_one_directory_twice(tmp_path: Path) -> None:
    for round_ in (1, 2):
        for example in EXAMPLES:
            result = subprocess.run([sys.executable, "-m", "llmspell", "run", str(example)],
                                    cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (round_, example.name, result.stderr)
