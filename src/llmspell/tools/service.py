"""ToolService (``rt.tools``): the registry plus everything a call goes through.

``invoke(name, params)`` does, in order:

1. finds the tool (ToolNotFound names close matches) and says so if it cannot work here;
2. security: the tool's level against ``[runtime.security] max_security_level``;
   admission: the session (given, else the current one) admits one ``tool.invoke``
   operation through :meth:`SessionManager.admit
   <llmspell.sessions.manager.SessionManager.admit>`, as agents' model calls are admitted:
   ``max_operations`` and rate limits such as ``tool.invoke=10/s`` refuse the call before the
   tool runs (ResourceLimitExceeded / RateLimitExceeded, ``resource:limit_exceeded`` fired);
   with no session only the global and per-kind rate limits apply;
3. ``tool:before_execution`` (params; modified / skip / retry honoured), ``tool:validation``
   (modified; skip vouches for the parameters) and the schema check,
   ``execute`` (on a reused worker thread, bounded by the tool's timeout, unless the tool
   is ``inline`` or has none; :mod:`llmspell.tools.workers` says what happens to a call
   that times out),
   ``tool:after_execution`` (the result; modified / retry honoured; the artifact collector
   stores it as ``tool_result/<name>``) or ``tool:error`` (retry honoured), all through
   :meth:`HookRegistry.run <llmspell.hooks.HookRegistry.run>`;
4. events ``tool.started`` and ``tool.completed`` / ``tool.failed`` (``{tool, fingerprint,
   latency_ms, error}``, source ``tools``; no arguments);
5. a ``tool.call`` journal entry in the session (given, else the current one; written in one
   batch with the entry the session recorder makes of the ``tool.completed`` / ``tool.failed``
   event, right before it), in the shape
   agents write theirs: ``{tool, arguments, result: {success, output, error}, error_type,
   latency_ms, fingerprint}``, secrets redacted by the journal (and the tool's
   ``secret_fields`` masked first). ``fingerprint`` is
   :func:`llmspell.agents.calls.fingerprint` of the tool and the arguments: the same request
   always has the same one, so replay can serve a recorded call. A call an agent makes through
   :meth:`Tool.as_agent_tool <llmspell.tools.base.Tool.as_agent_tool>` is journaled once, by
   the agent (``record=False`` here);
6. a refused call (SecurityViolation from the level check or from a file tool's path check)
   fires ``security:violation`` and is journaled like any failure.

Returns a :class:`~llmspell.tools.base.ToolOutput` ``{text, result, metadata}``.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from llmspell import ids, intercept
from llmspell.agents.after import AfterAnswer
from llmspell.agents.calls import fingerprint
from llmspell.errors import SecurityViolation, SessionNotFound, ToolError, ValidationError
from llmspell.hooks import Skipped
from llmspell.journal import Draft
from llmspell.redact import Redactor, mask_fields
from llmspell.tools.base import Tool, ToolContext, ToolOutput, result_text
from llmspell.tools.registry import ToolRegistry, discover_filters
from llmspell.tools.security import ToolSecurity, report
from llmspell.tools.workers import CallTimedOut, run_bounded
from llmspell.validation import check_texts

logger = logging.getLogger("llmspell.tools")

TOOL_CALL = "tool.call"
KIND = "tool.invoke"
SOURCE = "tools"
#: The points a call may fire while its writes after the tool ran share a commit.
GROUPED = ("tool:after_execution", "tool:error")
Journal = Callable[[str | None, str, dict[str, Any], str], None]
#: ``admit(session_id_or_None, kind)``: admits one operation or raises; returns how many
#: operations it left for :data:`Settle` to count with the call's entry (0 or 1).
Admit = Callable[[str | None, str], int]
#: ``settle(session_id, kind, drafts, operations)``: counts ``operations`` and writes
#: ``drafts`` in one batch (:meth:`SessionManager.settle
#: <llmspell.sessions.manager.SessionManager.settle>`).
Settle = Callable[[str, str, list[Draft], int], Any]
#: ``after(session_id_or_None)``: the commit group of the call's writes after the tool ran.
After = Callable[[str | None], AfterAnswer]
Carry = Callable[[str, list[Draft]], AbstractContextManager[list[Draft]] | None]


class ToolService:
    """Tools of one runtime, and the one way to call them (see the module docstring).

    Args:
        security: what calls may do.
        hooks: the HookRegistry, or None.
        events: the EventBus, or None.
        journal: ``journal(session_id, kind, data, correlation_id)`` records an entry, or None.
        current_session: gives the current session id, or None.
        admit: ``admit(session_id_or_None, kind)`` admits one operation or raises
            (:meth:`SessionManager.admit_call
            <llmspell.sessions.manager.SessionManager.admit_call>`) and returns the operations
            it left to ``settle`` (0 or 1), or None when there are no sessions.
        settle: ``settle(session_id, kind, drafts, operations)`` counts what ``admit`` left,
            with the call's ``tool.call`` entry in the same batch; or None.
        after: ``after(session_id_or_None)``, the :class:`~llmspell.agents.after.AfterAnswer`
            that gives the writes after the tool ran (the collected artifact, the entry, the
            event's entry) one commit; or None.
        redactor: hides secrets in what tools return about the environment.
        tools: tools to register.
        carry: ``carry(session_id, drafts)``, a context manager in which the session
            recorder writes ``drafts`` with the next event entry of that session
            (:meth:`SessionRecorder.carrying
            <llmspell.sessions.recording.SessionRecorder.carrying>`), yielding what is left
            to write; None when events are not journaled (then the entry is written first,
            on its own); or None.
    """

    def __init__(self, security: ToolSecurity, *, hooks: Any = None, events: Any = None,
                 journal: Journal | None = None,
                 current_session: Callable[[], str | None] | None = None,
                 admit: Admit | None = None,
                 redactor: Redactor | None = None, tools: Iterable[Tool] = (),
                 carry: Carry | None = None, settle: Settle | None = None,
                 after: After | None = None) -> None:
        self.security = security
        self.hooks = hooks
        self.events = events
        self.journal = journal
        self.current_session = current_session or (lambda: None)
        self.admit = admit
        self.carry = carry
        self.settle = settle
        self.after = after
        self.redactor = redactor or Redactor()
        self.registry = ToolRegistry()
        for item in tools:
            self.register(item)

    @classmethod
    def from_runtime(cls, runtime: Any) -> ToolService:
        """The service of ``runtime``: the built-in tools, its hooks, events and sessions."""
        from llmspell.tools.builtins import builtin_tools

        config = runtime.config
        sessions_on = runtime.unavailable("sessions") is None

        def current() -> str | None:
            return runtime.sessions.current_id() if sessions_on else None

        def journal(sid: str | None, kind: str, data: dict[str, Any], cid: str) -> None:
            # The same path as an agent's calls: one batch through the session manager.
            if sid is not None and sessions_on:
                try:
                    runtime.sessions.append_entries(sid, [Draft(kind, data, cid)])
                except SessionNotFound:
                    logger.debug("session %s is gone; its %s entry is not written", sid, kind)

        def admit(sid: str | None, kind: str) -> int:
            if not sessions_on:
                return 0
            if sid is None:  # the global and per-kind rate limits only
                runtime.sessions.admit(None, kind)
                return 0
            return 0 if runtime.sessions.admit_call(sid, kind) else 1

        def settle(sid: str, kind: str, drafts: list[Draft], operations: int) -> Any:
            return runtime.sessions.settle(sid, kind, journal=drafts or None,
                                           operations=operations)

        def after(sid: str | None) -> AfterAnswer:
            return AfterAnswer.for_call(runtime.sessions.store if sessions_on else None, sid,
                                        runtime.hooks, GROUPED)

        def carry(sid: str, drafts: list[Draft]) -> AbstractContextManager[list[Draft]] | None:
            recorder = runtime.sessions.recorder if sessions_on else None
            if recorder is None or not recorder.journals_events:
                return None
            return recorder.carrying(sid, drafts)


        service = cls(ToolSecurity.from_config(config), hooks=runtime.hooks,
                      events=runtime.events, journal=journal, current_session=current,
                      admit=admit, redactor=Redactor(config.setting("state.redact_patterns")),
                      tools=builtin_tools(config), carry=carry, settle=settle, after=after)
        service.add_plugins()
        return service

    def add_plugins(self) -> dict[str, str]:
        """Register the tools of installed ``llmspell.tools`` plugins (:mod:`llmspell.plugins`)
        beside the built-ins, which win a name clash. Returns the error of each plugin or tool
        that was not added (each also logged as a warning)."""
        from llmspell import plugins

        found, errors = plugins.plugin_tools(lambda item: isinstance(item, Tool))
        for item in found:
            if self.exists(item.name):
                errors[item.name] = (f"tool plugin gives {item.name!r}, a name already "
                                     "registered (the built-in is kept)")
                logger.warning("%s", errors[item.name])
                continue
            self.register(item)
        return errors

    # -- the registry ---------------------------------------------------------------------

    def register(self, item: Tool, *, replace: bool = False) -> Tool:
        """Add a tool; its :meth:`~Tool.call` then goes through this service."""
        self.registry.register(item, replace=replace)
        return item.bind(self.invoke)

    def unregister(self, name: str) -> bool:
        return self.registry.unregister(name)

    def get(self, name: str) -> Tool:
        return self.registry.get(name)

    def exists(self, name: str) -> bool:
        return self.registry.exists(name)

    def list(self) -> list[Tool]:
        return self.registry.list()

    def categories(self) -> builtins.list[str]:
        return self.registry.categories()

    def discover(self, filters: dict[str, Any] | None = None) -> builtins.list[Tool]:
        """The tools matching ``filters`` (:meth:`ToolRegistry.discover`), inside
        ``tool:before_discovery`` (the filters: modified, skip with a ``result`` list of names)
        and ``tool:after_discovery`` (the list of names found: modified to narrow or reorder
        it). Names a hook gives that no tool has are dropped."""
        if self.hooks is None:
            return self.registry.discover(filters)

        def names(chosen: Any) -> builtins.list[str]:
            return [t.name for t in self.registry.discover(chosen or None)]

        found = self.hooks.run("tool:before_discovery", discover_filters(filters), names,
                               after="tool:after_discovery", component="tools")
        return [self.registry.get(n) for n in (found or []) if self.registry.exists(n)]

    def specs(self, names: Iterable[str] | None = None) -> builtins.list[Any]:
        """The provider-side definitions (ToolSpec) of ``names`` (default: every tool)."""
        chosen = (self.list() if names is None
                  else [self.get(n) for n in check_texts(names, "names", "tool names")])
        return [t.spec() for t in chosen]

    # -- calling --------------------------------------------------------------------------

    def invoke(self, name: str, params: Any = None, *, session_id: str | None = None,
               correlation_id: str | None = None, record: bool = True) -> ToolOutput:
        """Call the tool ``name`` with ``params`` (see the module docstring); ``record=False``
        leaves the journal entry to the caller (an agent journals its own tool calls).

        Raises:
            ToolNotFound: no such tool.
            ValidationError: ``params`` do not satisfy the tool's schema (names the path).
            SecurityViolation: the call was refused (names the setting to change).
            ResourceLimitExceeded / RateLimitExceeded: the session's limits or a rate limit
                refused the call (the tool did not run).
            HookCancelled: a hook cancelled the call.
            ToolError: the tool cannot work here, timed out, or failed.
        """
        item = self.registry.get(name)
        if session_id is not None and not isinstance(session_id, str):
            raise ValidationError("session_id", "must be a session id (a string; "
                                  "session.id of a Session)", got=session_id)
        if params is None:
            params = {}
        cid = correlation_id or ids.correlation_id()
        sid = session_id or self.current_session()
        print_ = fingerprint(tool=name, arguments=params)
        arguments = mask_fields(params, item.secret_fields)
        started = time.perf_counter()
        self._publish("tool.started", {"tool": name, "fingerprint": print_}, cid, sid)
        # Opened once the tool returned: the collected artifact, the entry and the event's
        # entry in one commit (never across the tool's own execution).
        group = self.after(sid) if self.after is not None else AfterAnswer(None)
        left = [0]  # operations the admission left to count with the entry

        def attempt() -> Any:
            missing = item.available()
            if missing is not None:
                raise ToolError(f"tool {name!r} is unavailable on this machine: {missing}")
            self.security.check(item)
            if self.admit is not None:
                left[0] = self.admit(sid, KIND)
            ctx = ToolContext(self.security.confinement, self.redactor, sid, cid, self.security)

            def operation(current: Any) -> Any:
                group.close()  # a retry runs the tool again: not inside the group
                output = self._execute(item, self._validate(item, current, cid, sid), ctx)
                group.open()
                return output

            if self.hooks is None:
                return operation(params)
            return self.hooks.run("tool:before_execution", params, operation,
                                  after="tool:after_execution", error="tool:error",
                                  component=name, correlation_id=cid, session_id=sid,
                                  metadata={"tool": name})

        with group:
            try:
                if record:  # a journaled call: a replay may serve it (llmspell.intercept)
                    result = intercept.through(
                        TOOL_CALL, print_, attempt,
                        describe=lambda: {"tool": name, "arguments": arguments},
                        restore=lambda data: data["result"]["output"])
                else:
                    result = attempt()
            except BaseException as exc:
                if isinstance(exc, SecurityViolation):
                    report(self.hooks, name, exc, session_id=sid, correlation_id=cid)
                elapsed = _ms(started)
                if isinstance(exc, Exception):
                    self._finish(record, sid, cid, {
                        "tool": name, "arguments": arguments,
                        "result": {"success": False, "output": None, "error": str(exc)},
                        "error_type": type(exc).__name__, "latency_ms": elapsed,
                        "fingerprint": print_,
                    }, "tool.failed", {"tool": name, "fingerprint": print_,
                                       "latency_ms": elapsed, "error": str(exc),
                                       "error_type": type(exc).__name__}, left[0])
                raise
            elapsed = _ms(started)
            self._finish(record, sid, cid, {
                "tool": name, "arguments": arguments,
                "result": {"success": True, "output": result, "error": None},
                "latency_ms": elapsed, "fingerprint": print_,
            }, "tool.completed", {"tool": name, "fingerprint": print_, "latency_ms": elapsed},
                left[0])
        metadata = {"tool": name, "category": item.category, "latency_ms": elapsed,
                    "fingerprint": print_, "correlation_id": cid, "session_id": sid}
        return ToolOutput(result_text(result), result, metadata)

    def _validate(self, item: Tool, params: Any, cid: str, sid: str | None) -> Any:
        """``tool:validation`` (the parameters: modified replaces them; skip means a hook
        vouched for them and the schema check is not run), then the schema check."""
        if self.hooks is None or not self.hooks.has("tool:validation"):
            return item.validate(params)
        checked = self.hooks.before("tool:validation", params, component=item.name,
                                    correlation_id=cid, session_id=sid)
        if isinstance(checked, Skipped):
            return params
        return item.validate(checked)

    def _execute(self, item: Tool, params: dict[str, Any], ctx: ToolContext) -> Any:
        """Run ``item.execute``; on a worker thread bounded by its timeout unless inline
        (:mod:`llmspell.tools.workers`: what happens to a call that times out). An OSError
        the tool let through (a missing file, a refused connection) becomes a ToolError
        naming the tool, with the OSError as its cause."""
        try:
            if item.inline or item.timeout is None:
                return item.execute(params, ctx)
            return run_bounded(item.execute, params, ctx, timeout=item.timeout)
        except CallTimedOut:
            raise ToolError(f"tool {item.name!r} did not finish within its timeout of "
                            f"{item.timeout} s (the call was abandoned)") from None
        except OSError as exc:  # a file or a connection the tool used: its failure, typed
            raise ToolError(f"tool {item.name!r} failed: {exc}") from exc

    def _finish(self, record: bool, sid: str | None, cid: str, entry: dict[str, Any],
                kind: str, event: dict[str, Any], operations: int = 0) -> None:
        """Journal the call's ``tool.call`` ``entry`` (unless ``record`` is False) and publish
        its last event. ``operations`` the admission left are counted in the entry's batch
        (``settle``). Else, in a session with a recorder, the entry rides with the event's
        entry: one batch, the ``tool.call`` entry first, written before other subscribers
        see the event (as when it was written on its own first)."""
        if operations and sid is not None and self.settle is not None:
            drafts = [Draft(TOOL_CALL, entry, cid)] if record and self.journal else []
            try:
                self.settle(sid, KIND, drafts, operations)
            except Exception:  # the call happened: a session that cannot take it is logged
                logger.exception("could not count and journal a call of tool %s in session "
                                 "%s", entry["tool"], sid)
            self._publish(kind, event, cid, sid)
            return
        carrier = None
        if record and sid is not None and self.journal is not None and self.carry is not None:
            carrier = self.carry(sid, [Draft(TOOL_CALL, entry, cid)])
        if carrier is None:
            if record:
                self._record(sid, cid, entry)
            self._publish(kind, event, cid, sid)
            return
        with carrier as left:
            self._publish(kind, event, cid, sid)
        if left:  # no event entry took it along (the session is gone, or that write failed)
            self._record(sid, cid, entry)

    def _record(self, sid: str | None, cid: str, data: dict[str, Any]) -> None:
        if self.journal is None or sid is None:
            return
        try:
            self.journal(sid, TOOL_CALL, data, cid)
        except Exception:  # the call happened: a journal that cannot take it is logged
            logger.exception("could not journal a call of tool %s in session %s",
                             data["tool"], sid)

    def _publish(self, kind: str, data: dict[str, Any], cid: str, sid: str | None) -> None:
        if self.events is not None:
            self.events.publish(kind, data, correlation_id=cid, session_id=sid, source=SOURCE)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


__all__ = ["KIND", "TOOL_CALL", "ToolService", "fingerprint"]
