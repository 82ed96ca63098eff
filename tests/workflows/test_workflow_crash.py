"""The acceptance crash test: a 5-step workflow SIGKILLed during step 3, 50 times, resumes each
time to the same result; steps 1-2 ran exactly once per run
(:mod:`llmspell.testing.workflow_crash`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspell.testing.workflow_crash import run_workflow_crash_test


@pytest.mark.slow
def test_fifty_kills_during_step_three_resume_to_the_same_result(tmp_path: Path) -> None:
    problems: list[str] = []
    tally = run_workflow_crash_test(50, tmp_path, seed=14, report=problems.append)
    assert tally["failures"] == 0, problems
    assert tally["kills"] >= 40  # most rounds were killed (not finished before the kill)
    assert tally["step3_reruns"] >= 25  # and most kills landed inside step 3


def test_one_kill_and_resume(tmp_path: Path) -> None:
    tally = run_workflow_crash_test(1, tmp_path, seed=1)
    assert tally["failures"] == 0 and tally["kills"] + tally["finished_before_kill"] == 1
