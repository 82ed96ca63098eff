"""The workflow crash test: a 5-step durable workflow SIGKILLed during step 3, then resumed.

Run it as a command::

    python -m llmspell.testing.workflow_crash --kills 50

Each round forks a child process (the parent has loaded every module, so the child starts at
once) that runs the workflow on a SQLite store. Steps 1 and 2
call a ``counter`` tool that appends one line per call to a log file (fsynced) and returns a
random token; step 3 logs that it started and sleeps about 40 ms; steps 4 and 5 combine the
outputs. The parent waits until step 3 has started, kills the child at a random moment within
the next 50 ms (during step 3, its commit, or the steps after it), then resumes the run in its
own process with the same definition. Every round checks that the run completed, that its
final output holds the tokens steps 1 and 2 returned in the killed process (so the recorded
outputs were served), and that steps 1 and 2 ran exactly once for the run (step 3, the one
interrupted, may run twice: at-least-once for that step only). It prints the figures and exits
1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmspell.errors import WorkflowError
from llmspell.runtime import Runtime
from llmspell.tools import Tool
from llmspell.workflows import Workflow

__all__ = ["build", "main", "run_workflow_crash_test"]

STEP3_SECONDS = 0.04
KILL_WINDOW = 0.05


def _log(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def build(rt: Runtime, counter: Path) -> Workflow:
    """Register the counter tool and the 5-step workflow on ``rt``; calls log to ``counter``."""
    def count(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
        token = uuid.uuid4().hex[:8]
        _log(counter, f"{params['step']} {params['run']} {token}")
        return {"token": token}

    rt.tools.register(Tool("counter", "Log a call and return a random token.", parameters={
        "type": "object", "properties": {"step": {"type": "string"},
                                         "run": {"type": "string"}},
        "required": ["step", "run"]}, fn=count, inline=True), replace=True)

    def slow(input: Any, ctx: dict[str, Any]) -> str:
        _log(counter, f"step3 {ctx['run_id']} started")
        time.sleep(STEP3_SECONDS)
        return f"{input['a']}+{input['b']}"

    def combine(input: Any, ctx: dict[str, Any]) -> str:
        return f"[{input}]"

    return rt.workflows.sequential({"name": "crash5", "steps": [
        {"name": "one", "tool": "counter", "input": {"step": "step1", "run": "{{input:run}}"}},
        {"name": "two", "tool": "counter", "input": {"step": "step2", "run": "{{input:run}}"}},
        {"name": "three", "fn": slow, "input": {"a": "{{step:one:output.token}}",
                                                 "b": "{{step:two:output.token}}"}},
        {"name": "four", "fn": combine, "input": "{{step:three:output}}"},
        {"name": "five", "fn": combine, "input": "{{step:four:output}}"},
    ]})


def _open(url: str) -> Runtime:
    return Runtime.memory(storage__url=url)


def _child(url: str, counter: str, run_id: str) -> None:
    with _open(url) as rt:
        build(rt, Path(counter)).execute({"run": run_id}, run_id=run_id)


def _calls(counter: Path, run_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"step1": [], "step2": [], "step3": []}
    if counter.exists():
        for line in counter.read_text().splitlines():
            step, run, value = line.split(" ")
            if run == run_id:
                found[step].append(value)
    return found


def run_workflow_crash_test(kills: int, directory: Path, *, seed: int = 0,
                            report: Callable[[str], None] | None = None) -> dict[str, int]:
    """Kill and resume ``kills`` times; files under ``directory``. Returns the tally:
    ``kills``, ``resumed`` (completed after resume), ``failures``, ``step3_reruns``
    (rounds where the interrupted step ran again), ``finished_before_kill``."""
    rng = random.Random(seed)
    url = f"sqlite:///{directory / 'workflows.db'}"
    counter = directory / "counter.log"
    tally = {"kills": 0, "resumed": 0, "failures": 0, "step3_reruns": 0,
             "finished_before_kill": 0}
    with _open(url) as rt:  # create the store once, before the children race to
        rt.state.save("global", "crash_test", True)
    with _open(url) as rt:  # load every module now: a forked child starts at once
        build(rt, counter)
    for round_ in range(kills):
        run_id = f"crash-{seed}-{round_}"
        pid = os.fork()
        if pid == 0:  # the child: run the workflow, and leave without cleaning up
            code = 0
            try:
                _child(url, str(counter), run_id)
            except BaseException:
                code = 1
            os._exit(code)
        deadline = time.monotonic() + 60
        while not _calls(counter, run_id)["step3"] and time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                pid = 0  # it ended before step 3: the check below says why
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0, KILL_WINDOW))
        status = 0
        if pid:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                tally["finished_before_kill"] += 1
            else:
                os.kill(pid, signal.SIGKILL)
                tally["kills"] += 1
                _, status = os.waitpid(pid, 0)
        problems = _check_round(url, counter, run_id, tally)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
            problems.append("the child failed on its own")
        if problems:
            tally["failures"] += 1
            if report is not None:
                report(f"round {round_}: " + "; ".join(problems))
        if report is not None and (round_ + 1) % 10 == 0:
            report(f"{round_ + 1} rounds: {tally}")
    return tally


def _check_round(url: str, counter: Path, run_id: str, tally: dict[str, int]) -> list[str]:
    problems = []
    with _open(url) as rt:
        build(rt, counter)  # the same definition: resume needs the workflow's code
        try:
            stored = rt.workflows.run(run_id)
        except WorkflowError as exc:
            return [f"no run recorded: {exc}"]
        if stored["status"] == "completed":
            result = {"success": True, "output": stored["output"]}
        else:
            result = rt.workflows.resume(run_id)
            tally["resumed"] += 1 if result["success"] else 0
    calls = _calls(counter, run_id)
    if not result["success"]:
        problems.append(f"the run did not complete: {result.get('error')}")
    if len(calls["step1"]) != 1 or len(calls["step2"]) != 1:
        problems.append(f"steps 1-2 ran {len(calls['step1'])} and {len(calls['step2'])} times")
    elif result["output"] != f"[[{calls['step1'][0]}+{calls['step2'][0]}]]":
        problems.append(f"final output {result['output']!r} does not hold the tokens of the "
                        f"first calls {calls['step1']} {calls['step2']}")
    if len(calls["step3"]) > 1:
        tally["step3_reruns"] += 1
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmspell.testing.workflow_crash",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="llmspell-wfcrash-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        tally = run_workflow_crash_test(args.kills, directory, seed=args.seed, report=print)
        print(f"{tally} in {time.monotonic() - started:.1f} s")
    return 1 if tally["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
