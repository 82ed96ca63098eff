"""An agent paused in one process is loaded in another with its conversation intact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

CHILD = '''
import sys, orjson
from llmspell.config import Config
from llmspell.providers.scripted import ScriptedProvider
from llmspell.runtime import Runtime

url, step = sys.argv[1], sys.argv[2]
rt = Runtime(Config.defaults(storage__url=url))
scripted = ScriptedProvider("scripted", ["Nice to meet you, Ada.", "Your name is Ada."])
rt.providers.add("scripted", scripted)
if step == "first":
    agent = rt.agents.create("assistant", "scripted/demo", system_prompt="Remember names.")
    agent.invoke("My name is Ada.")
    agent.pause()                       # saves to scope agent:assistant
    out = {"state": agent.state}
else:
    agent = rt.agents.restore("assistant")
    before = agent.state
    agent.resume()
    scripted.add_replies([])
    agent.invoke("What is my name?")
    sent = [[m.role, m.content] for m in scripted.requests[-1].messages]
    out = {"before": before, "sent": sent}
rt.close()
print(orjson.dumps(out).decode())
'''


def run(url: str, step: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, url, step], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def test_paused_agent_loads_in_another_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert run(url, "first") == {"state": "paused"}
    second = run(url, "second")
    assert second["before"] == "paused"
    # the new process's first request carried the first process's conversation
    # (its scripted double starts again at its first reply)
    assert second["sent"] == [
        ["system", "Remember names."], ["user", "My name is Ada."],
        ["assistant", "Nice to meet you, Ada."], ["user", "What is my name?"]]
