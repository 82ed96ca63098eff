"""OpenTelemetry spans for agent, tool and workflow calls (extra ``[otel]``).

::

    from llmspell.integrations.otel import instrument

    tracing = instrument(runtime)            # the global tracer provider, or tracer_provider=
    ...
    tracing.close()                          # stop (spans still open are ended as cancelled)

Spans follow the OpenTelemetry GenAI semantic conventions where they have a name for the
operation: an agent call is ``invoke_agent {agent}`` (``gen_ai.operation.name``
``invoke_agent``, ``gen_ai.agent.name``, ``gen_ai.request.model``, ``gen_ai.provider.name``,
``gen_ai.usage.input_tokens``/``output_tokens``, ``gen_ai.response.finish_reasons``), a tool
call through ``runtime.tools`` is ``execute_tool {tool}`` (``gen_ai.tool.name``); a workflow
run (no GenAI name exists) is ``workflow {name}`` with ``llmspell.workflow.*`` attributes.
Every span carries ``llmspell.correlation_id`` and, in a session, ``llmspell.session_id``; a
failure sets the span's status to ERROR with ``error.type``.

How: the runtime's own signals, nothing patched. An agent call opens its span at the
``agent:before_execution`` hook point (registered here, so agents take the hook path only
while instrumented) and closes it on the ``agent.execution_completed``/``failed`` event; tools
and workflows open and close on their ``*.started`` and end events. A span opened in a thread
while another span opened in that thread is still open is its child (a workflow's sequential
tool steps are children of the workflow's span); otherwise the caller's current span is the
parent (steps of a parallel workflow run on pool threads: they get no llmspell parent).
Not traced: the tools an agent calls inside its own tool loop (their calls are in
the ``invoke_agent`` span's journal, not separate spans) and individual model calls.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from llmspell.errors import ValidationError
from llmspell.integrations import require

require("opentelemetry.trace", "otel")

from opentelemetry import trace  # noqa: E402
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider  # noqa: E402

if TYPE_CHECKING:
    from llmspell.events.event import Event
    from llmspell.hooks.results import HookContext
    from llmspell.runtime import Runtime

TRACER = "llmspell"
_ENDS = ("agent.execution_completed", "agent.execution_failed", "tool.started",
         "tool.completed", "tool.failed", "workflow.started", "workflow.completed",
         "workflow.failed", "workflow.cancelled")


class Instrumentation:
    """The spans of one runtime's agent, tool and workflow calls (see the module docstring).

    Args:
        runtime: the Runtime to trace.
        tracer_provider: where spans go (the global provider when None).
    """

    def __init__(self, runtime: Runtime, tracer_provider: TracerProvider | None = None) -> None:
        if tracer_provider is not None and not isinstance(tracer_provider, TracerProvider):
            raise ValidationError("tracer_provider", "must be an OpenTelemetry TracerProvider "
                                  "or None", got=tracer_provider)
        from llmspell import __version__

        self.runtime = runtime
        self.tracer = trace.get_tracer(TRACER, __version__, tracer_provider=tracer_provider)
        # (kind, correlation id) -> the open span and the stack of the thread that opened it
        self._open: dict[tuple[str, str], tuple[Span, list[tuple[str, str]]]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._hook = runtime.hooks.register("agent:before_execution", self._agent_started,
                                            priority="highest", name="otel")
        self._subscriptions = [runtime.events.subscribe(pattern, self._on_event)
                               for pattern in _ENDS]

    def close(self) -> None:
        """Stop tracing; spans still open end with status ERROR (``cancelled``)."""
        self._hook.unregister()
        for subscription in self._subscriptions:
            self.runtime.events.unsubscribe(subscription.id)
        with self._lock:
            left, self._open = [span for span, _ in self._open.values()], {}
        for span in left:
            span.set_status(Status(StatusCode.ERROR, "tracing stopped before the call ended"))
            span.set_attribute("error.type", "cancelled")
            span.end()

    # -- starts ---------------------------------------------------------------------------

    def _agent_started(self, ctx: HookContext) -> None:
        name = ctx.component or "agent"
        agent = self.runtime.agents.get(name)
        attributes: dict[str, str] = {"gen_ai.operation.name": "invoke_agent",
                                      "gen_ai.agent.name": name}
        if agent is not None:
            attributes["gen_ai.request.model"] = agent.config.model_name
            attributes["gen_ai.provider.name"] = agent.config.provider
        self._start("agent", ctx.correlation_id, ctx.session_id, f"invoke_agent {name}",
                    SpanKind.CLIENT, attributes)

    def _start(self, kind: str, cid: str | None, sid: str | None, name: str,
               span_kind: SpanKind, attributes: dict[str, str]) -> None:
        if cid is None:
            return
        stack: list[tuple[str, str]] = self._local.__dict__.setdefault("stack", [])
        with self._lock:
            opened = self._open.get(stack[-1]) if stack else None
        context = trace.set_span_in_context(opened[0]) if opened is not None else None
        span = self.tracer.start_span(name, context=context, kind=span_kind,
                                      attributes=attributes, start_time=time.time_ns())
        span.set_attribute("llmspell.correlation_id", cid)
        if sid is not None:
            span.set_attribute("llmspell.session_id", sid)
        with self._lock:
            self._open[(kind, cid)] = (span, stack)
            stack.append((kind, cid))

    # -- ends (and the tool and workflow starts) ------------------------------------------

    def _on_event(self, event: Event) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        kind, _, outcome = event.type.partition(".")
        cid = event.correlation_id
        if outcome == "started":
            if kind == "tool":
                self._start("tool", cid, event.session_id, f"execute_tool {data.get('tool')}",
                            SpanKind.INTERNAL, {"gen_ai.operation.name": "execute_tool",
                                                "gen_ai.tool.name": str(data.get("tool"))})
            else:
                self._start("workflow", cid, event.session_id,
                            f"workflow {data.get('workflow')}", SpanKind.INTERNAL,
                            {"llmspell.workflow.name": str(data.get("workflow")),
                             "llmspell.workflow.type": str(data.get("workflow_type", "")),
                             "llmspell.workflow.run_id": str(data.get("run_id"))})
            return
        if cid is None:
            return
        with self._lock:
            found = self._open.pop((kind, cid), None)
            if found is None:
                return
            span, stack = found
            stack.remove((kind, cid))
        if kind == "agent" and outcome == "execution_completed":
            usage = data.get("usage") or {}
            span.set_attribute("gen_ai.usage.input_tokens", int(usage.get("input_tokens", 0)))
            span.set_attribute("gen_ai.usage.output_tokens",
                               int(usage.get("output_tokens", 0)))
            if data.get("model"):
                span.set_attribute("gen_ai.response.model", str(data["model"]))
            if data.get("finish_reason"):
                span.set_attribute("gen_ai.response.finish_reasons",
                                   [str(data["finish_reason"])])
        if kind == "workflow":
            span.set_attribute("llmspell.workflow.status", str(data.get("status", outcome)))
        if outcome in ("execution_failed", "failed", "cancelled"):
            error_type = str(data.get("error_type") or outcome)
            span.set_status(Status(StatusCode.ERROR, str(data.get("error") or outcome)))
            span.set_attribute("error.type", error_type)
        span.end()


def instrument(runtime: Runtime, *, tracer_provider: TracerProvider | None = None,
               ) -> Instrumentation:
    """Trace ``runtime``'s agent, tool and workflow calls; see :class:`Instrumentation`."""
    return Instrumentation(runtime, tracer_provider)
