"""A three-step LangGraph graph on a llmspell sqlite store, for the kill-and-resume test.

``python lg_graph.py DIR THREAD``: opens ``DIR/llmspell.db``, runs the graph on THREAD (or
resumes it), appending each step's name to ``DIR/steps.log`` as it starts; step ``two``
waits forever when ``DIR/hang`` exists (the test kills the process there).
"""

from __future__ import annotations

import operator
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from llmspell import Runtime
from llmspell.integrations.langgraph import LLMSpellSaver


class Steps(TypedDict):
    done: Annotated[list[str], operator.add]


def build(directory: Path, runtime: Runtime) -> Any:
    def step(name: str) -> Any:
        def run(state: Steps) -> dict[str, list[str]]:
            with (directory / "steps.log").open("a") as log:
                log.write(name + "\n")
            if name == "two" and (directory / "hang").exists():
                while True:
                    time.sleep(0.05)
            return {"done": [name]}
        return run

    builder = StateGraph(Steps)
    for name in ("one", "two", "three"):
        builder.add_node(name, step(name))
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", "three")
    builder.add_edge("three", END)
    return builder.compile(checkpointer=LLMSpellSaver(runtime))


def runtime_at(directory: Path) -> Runtime:
    return Runtime.memory(storage__url=f"sqlite:///{directory / 'llmspell.db'}",
                          base_dir=directory, runtime__data_dir=str(directory / "data"))


if __name__ == "__main__":
    where, thread = Path(sys.argv[1]), sys.argv[2]
    with runtime_at(where) as rt:
        # "sync": each checkpoint is stored before the next step starts (LangGraph's default,
        # "async", stores it while the next step runs, so a kill may lose the newest one).
        build(where, rt).invoke({"done": []}, {"configurable": {"thread_id": thread}},
                                durability="sync")
