"""OpenTelemetry spans for agent, tool and workflow calls, read back from the SDK's in-memory
exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from llmspell import Runtime
from llmspell.errors import ProviderScriptExhausted, ValidationError
from llmspell.integrations.otel import instrument


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_agent_tool_and_workflow_calls_become_genai_spans(
        mem: Runtime, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    tracing = instrument(mem, tracer_provider=provider)
    session = mem.sessions.create("traced")
    with mem.sessions.current(session):
        agent = mem.agents.create("helper", "scripted/test-model",
                                  replies=[{"text": "hi there",
                                            "usage": {"input_tokens": 7, "output_tokens": 2}}])
        agent.invoke("hello")
    mem.tools.invoke("calculator", {"input": "6*7"})
    mem.workflows.sequential({"name": "sum", "steps": [
        {"name": "add", "type": "tool", "tool": "calculator",
         "input": {"input": "1+1"}}]}).execute(None)
    with pytest.raises(ProviderScriptExhausted, match="no canned reply left"):
        agent.invoke("again")  # the script has no reply left
    tracing.close()

    by_name = {s.name: s for s in exporter.get_finished_spans()}
    call = next(s for s in exporter.get_finished_spans() if s.name == "invoke_agent helper"
                and s.status.status_code != StatusCode.ERROR)
    assert call.attributes is not None
    assert call.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert call.attributes["gen_ai.request.model"] == "test-model"
    assert call.attributes["gen_ai.provider.name"] == "scripted"
    assert call.attributes["gen_ai.usage.input_tokens"] == 7
    assert call.attributes["gen_ai.usage.output_tokens"] == 2
    assert call.attributes["llmspell.session_id"] == session.id
    assert call.end_time is not None and call.start_time is not None
    assert call.end_time >= call.start_time

    tool = next(s for s in exporter.get_finished_spans()
                if s.name == "execute_tool calculator" and s.parent is None)
    assert tool.attributes is not None and tool.attributes["gen_ai.tool.name"] == "calculator"
    flow = by_name["workflow sum"]
    assert flow.attributes is not None
    assert flow.attributes["llmspell.workflow.status"] == "completed"
    inner = [s for s in exporter.get_finished_spans() if s.name == "execute_tool calculator"
             and s.parent is not None]
    assert inner and all(s.parent is not None and s.parent.span_id == flow.context.span_id
               for s in inner)

    failed = [s for s in exporter.get_finished_spans() if s.name == "invoke_agent helper"
              and s.status.status_code == StatusCode.ERROR]
    assert len(failed) == 1 and failed[0].attributes is not None
    assert failed[0].attributes["error.type"] == "ProviderScriptExhausted"

    count = len(exporter.get_finished_spans())
    mem.tools.invoke("calculator", {"input": "1+1"})  # after close: nothing traced
    assert len(exporter.get_finished_spans()) == count


def test_a_bad_tracer_provider_is_refused(mem: Runtime) -> None:
    with pytest.raises(ValidationError, match="argument 'tracer_provider'"):
        instrument(mem, tracer_provider="stdout")  # type: ignore[arg-type]

