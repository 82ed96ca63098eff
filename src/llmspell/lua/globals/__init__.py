"""The Lua globals, one module per global, installed in order by the engine.

Each module has ``install(engine)``, which calls :meth:`LuaEngine.install_global
<llmspell.lua.engine.LuaEngine.install_global>` with the global's Python functions (a Lua table
of plain functions: one crossing per call, never attribute access on Python objects) and, when
the global has Lua code of its own, its file in ``llmspell/lua/scripts/``. A global whose
subsystem is off in the configuration still exists; each of its functions raises the reason.
A new global adds its module here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llmspell.lua.globals import (
    agent,
    args,
    artifact,
    config,
    event,
    hook,
    json,
    logger,
    replay,
    session,
    state,
    streaming,
    tool,
    utils,
    workflow,
)

if TYPE_CHECKING:
    from llmspell.lua.engine import LuaEngine

Installer = Callable[["LuaEngine"], None]

INSTALLERS: list[Installer] = [
    json.install,
    logger.install,
    config.install,
    utils.install,
    args.install,
    hook.install,
    event.install,
    session.install,
    state.install,
    artifact.install,
    streaming.install,
    agent.install,
    tool.install,
    workflow.install,
    replay.install,
]
