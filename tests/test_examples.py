"""Every example runs as a user would run them: one after another, twice, in one directory
(so each must cope with what the others, and its own earlier run, left in the store)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import Run

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


def test_quickstart_tells_the_story_offline_across_two_runs(run: Run) -> None:
    """The README's first command: an agent answers in a session, the answer is an artifact,
    a run counter kept in State goes up on the second run, the timeline shows the call."""
    quickstart = EXAMPLES[0].parent / "quickstart.lua"
    outputs = []
    for _ in (1, 2):
        result = run("run", str(quickstart), "--", "hello", "world")
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    first, second = outputs
    assert "run number 1\n" in first and "run number 2\n" in second
    assert "agent:\tYou said: hello world. This is run 2." in second
    assert "artifact:\tagent_output/assistant\tversion 1" in second
    assert "timeline:\t4\tllm.call" in second and "artifact.stored" in second
    assert "completed" in second.splitlines()[-1]
