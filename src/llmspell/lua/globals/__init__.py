"""The Lua globals, one module per global, installed in order by the engine.

Each module has ``install(engine)``, which builds a Lua table of plain functions (one crossing
per call, never attribute access on Python objects) and sets it as a global. A later global
(State, Hook, Event, Session, Artifact) adds its module here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llmspell.lua.globals import (
    args,
    artifact,
    config,
    event,
    hook,
    json,
    logger,
    session,
    state,
    state_admin,
    utils,
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
    state_admin.install,  # State.migrate/backup/restore/...: after State exists
    artifact.install,
]
