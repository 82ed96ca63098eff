"""Google ADK services on llmspell's store (extra ``[adk]``).

::

    from google.adk.runners import Runner
    from llmspell import Runtime
    from llmspell.integrations.adk import LLMSpellArtifactService, LLMSpellSessionService

    runtime = Runtime.from_config()
    runner = Runner(agent=agent, app_name="app",
                    session_service=LLMSpellSessionService(runtime),
                    artifact_service=LLMSpellArtifactService(runtime))

An ADK session is a llmspell session (tag ``adk``, named ``adk:<app>/<user>/<session>``), its
events and state live in that session's state scope; app and user state live in
``custom:adk``. See :mod:`~.sessions` and :mod:`~.artifacts`.
"""

from llmspell.integrations import require

require("google.adk.sessions", "adk")

from llmspell.integrations.adk.artifacts import LLMSpellArtifactService  # noqa: E402
from llmspell.integrations.adk.model import LLMSpellModel  # noqa: E402
from llmspell.integrations.adk.sessions import LLMSpellSessionService  # noqa: E402

__all__ = ["LLMSpellArtifactService", "LLMSpellModel", "LLMSpellSessionService"]
