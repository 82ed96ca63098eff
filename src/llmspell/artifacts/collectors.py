"""Automatic collection: tool results and agent outputs become artifacts of the current session.

Two hooks, registered by the Runtime at priority ``lowest`` (so they see what other hooks
changed) and named ``artifact-collector:tool`` / ``artifact-collector:agent``:

- ``tool:after_execution``: the result (``ctx.data``) is stored as ``tool_result/<tool>``,
  type ``tool_result``, ``created_by`` ``tool:<tool>``;
- ``agent:after_execution``: the output (``ctx.data["output"]`` or ``["text"]`` when the data
  is a table holding one, else the whole data) as ``agent_output/<agent>``, type
  ``agent_output``; a ``usage`` table is kept as a custom field.

The tool or agent is ``ctx.component``; the session is ``ctx.session_id``, else the current
session; with neither, nothing is collected. Each call is a new version of the same name, so
``versions(session, "tool_result/calculator")`` is the tool's history. Collection is on by
default; ``[session] artifact_auto_collect = false`` turns it off everywhere (the hooks are
not registered), a session's metadata ``auto_collect_artifacts = false`` or
``artifacts.set_auto_collect(session, False)`` for one session. A collection that fails (the
session is suspended, a limit is reached) never fails the tool call: it is logged and
published as an ``artifact.collect_failed`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from llmspell.artifacts.validate import CollectionOff
from llmspell.errors import ArtifactError, ResourceLimitExceeded, SessionError, ValidationError
from llmspell.protocols import OWN_PREFIX, EventPublisher, HookRegistrar
from llmspell.sessions.ride import collect_later

logger = logging.getLogger("llmspell.artifacts")

TOOL_POINT = "tool:after_execution"
AGENT_POINT = "agent:after_execution"
#: The start of the collecting hooks' names: llmspell's own (HookRegistry.user_names_at).
NAME_PREFIX = OWN_PREFIX
_EXPECTED = (SessionError, ResourceLimitExceeded, ArtifactError, ValidationError)


class ArtifactCollector:
    """The two collecting hooks. ``artifacts()`` gives the ArtifactManager (built lazily, so
    registering costs nothing until a tool or agent runs); ``current()`` the current
    session id, or None."""

    def __init__(self, artifacts: Callable[[], Any], current: Callable[[], str | None], *,
                 events: EventPublisher | None = None) -> None:
        self.artifacts = artifacts
        self.current = current
        self.events = events
        self.enabled = True
        self.handles: list[Any] = []

    def install(self, hooks: HookRegistrar) -> ArtifactCollector:
        """Register both hooks on ``hooks`` (a HookRegistry)."""
        self.handles = [
            # Tools do not fire their point yet: ready for when they do.
            hooks.register(TOOL_POINT, self.collect_tool, priority="lowest",
                           name=NAME_PREFIX + "tool", expect_unfired=True),
            hooks.register(AGENT_POINT, self.collect_agent, priority="lowest",
                           name=NAME_PREFIX + "agent"),
        ]
        return self

    def uninstall(self) -> None:
        for handle in self.handles:
            handle.unregister()
        self.handles = []

    def collect_tool(self, ctx: Any) -> None:
        component = ctx.component or "tool"
        self._collect(ctx, "tool_result", component, ctx.data, {})

    def collect_agent(self, ctx: Any) -> None:
        component = ctx.component or "agent"
        data = ctx.data
        custom: dict[str, Any] = {}
        if isinstance(data, dict):
            if isinstance(data.get("usage"), dict):
                custom["usage"] = data["usage"]
            for key in ("output", "text", "content"):
                if key in data:
                    data = data[key]
                    break
        self._collect(ctx, "agent_output", component, data, custom)

    def _collect(self, ctx: Any, kind: str, component: str, content: Any,
                 custom: dict[str, Any]) -> None:
        if not self.enabled or content is None:
            return
        sid = ctx.session_id or self.current()
        if sid is None:
            return
        ride = collect_later(sid)
        if ride is not None:  # stored with the journal's next entries (sessions.ride)
            ride.defer(lambda: self._store(sid, kind, component, content, custom, ctx))
            return
        self._store(sid, kind, component, content, custom, ctx)

    def _store(self, sid: str, kind: str, component: str, content: Any,
               custom: dict[str, Any], ctx: Any) -> None:
        creator = f"{'tool' if kind == 'tool_result' else 'agent'}:{component}"
        try:
            artifacts = self.artifacts()
            if not artifacts.auto_collect(sid):
                return
            if ctx.correlation_id:
                custom["correlation_id"] = ctx.correlation_id
            artifacts.store(sid, f"{kind}/{component}", content, artifact_type=kind,
                            created_by=creator, custom=custom, as_session=sid,
                            collected=True)
        except CollectionOff:  # switched off by another process meanwhile: as if off
            return
        except _EXPECTED as exc:
            logger.warning("could not collect the %s of %s into session %s: %s", kind,
                           component, sid, exc)
            if self.events is not None:
                self.events.publish("artifact.collect_failed",
                                    {"point": ctx.point, "component": component,
                                     "artifact_type": kind, "error": str(exc),
                                     "error_type": type(exc).__name__},
                                    correlation_id=ctx.correlation_id, session_id=sid,
                                    source="artifacts", redact=True)


def install_collectors(runtime: Any) -> ArtifactCollector:
    """Register the collecting hooks on ``runtime.hooks`` (the Runtime calls this)."""
    return ArtifactCollector(lambda: runtime.artifacts, lambda: runtime.sessions.current_id(),
                             events=runtime.events).install(runtime.hooks)
