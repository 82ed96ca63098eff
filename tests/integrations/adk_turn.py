"""One ADK Runner turn on a llmspell sqlite store, as its own process.

``python adk_turn.py DIR MESSAGE REPLY``: opens ``DIR/llmspell.db``; creates session ``s1``
of app ``notes`` / user ``ada`` unless it exists; runs an LlmAgent whose model is the
ScriptedProvider answering REPLY; the agent's tool saves an artifact. Prints the session's
event texts, one per line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from google.adk.agents import LlmAgent
from google.adk.runners import Runner
from google.adk.tools.tool_context import ToolContext
from google.genai import types

from llmspell import Runtime
from llmspell.integrations.adk import (
    LLMSpellArtifactService,
    LLMSpellModel,
    LLMSpellSessionService,
)
from llmspell.providers.scripted import ScriptedProvider


async def remember(note: str, tool_context: ToolContext) -> dict[str, str]:
    """Save a note as an artifact."""
    version = await tool_context.save_artifact("note.txt", types.Part.from_text(text=note))
    tool_context.state["notes"] = tool_context.state.get("notes", 0) + 1
    return {"saved": f"note.txt v{version}"}


async def main(directory: Path, message: str, reply: str) -> None:
    runtime = Runtime.memory(storage__url=f"sqlite:///{directory / 'llmspell.db'}",
                             base_dir=directory, runtime__data_dir=str(directory / "data"))
    provider = ScriptedProvider(replies=[
        {"tool_calls": [{"name": "remember", "arguments": {"note": message}, "id": "c1"}]},
        reply])
    agent = LlmAgent(name="scribe", model=LLMSpellModel(provider=provider),
                     instruction="Keep notes.", tools=[remember])
    sessions = LLMSpellSessionService(runtime)
    runner = Runner(agent=agent, app_name="notes", session_service=sessions,
                    artifact_service=LLMSpellArtifactService(runtime))
    if await sessions.get_session(app_name="notes", user_id="ada", session_id="s1") is None:
        await sessions.create_session(app_name="notes", user_id="ada", session_id="s1")
    async for _ in runner.run_async(user_id="ada", session_id="s1", new_message=types.Content(
            role="user", parts=[types.Part.from_text(text=message)])):
        pass
    session = await sessions.get_session(app_name="notes", user_id="ada", session_id="s1")
    assert session is not None
    for event in session.events:
        for part in (event.content.parts or []) if event.content else []:
            if part.text:
                print(f"{event.author}: {part.text}")
    print(f"state notes={session.state.get('notes')}")
    runtime.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
