"""Workflows: sequential, parallel, conditional and loop runs of tools, agents, functions and
nested workflows, durable across crashes (docs/workflows.md).

``rt.workflows`` is the :class:`WorkflowService`; a definition is checked by
:mod:`.spec` (conditions: :mod:`.conditions`, input references: :mod:`.template`), run by
:class:`~llmspell.workflows.runner.Runner` and recorded, one batch per step, by
:mod:`.record`. :mod:`.home` keeps Lua code on the thread that owns the Lua state.
"""

from llmspell.workflows.home import route
from llmspell.workflows.service import Workflow, WorkflowService

__all__ = ["Workflow", "WorkflowService", "route"]
