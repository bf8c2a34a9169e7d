"""`auralink.tracing`: X-Ray trace headers, the parent an invocation takes, what a span may carry,
and the documents the X-Ray exporter sends."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from auralink import errors, tracing
from auralink.tracing_sdk import XRayIdGenerator, XRayUdpExporter

LAMBDA = "Root=1-6750a3c1-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
CARRIED = "Root=1-6750a000-fedcba9876543210fedcba98;Parent=1111222233334444;Sampled=1"


def test_a_header_names_the_trace_and_parent_and_a_malformed_one_is_ignored() -> None:
    parent = tracing.parent_context(LAMBDA, None)

    assert parent is not None and parent.is_remote and parent.trace_flags.sampled
    assert tracing.xray_trace_id(parent.trace_id) == "1-6750a3c1-0123456789abcdef01234567"
    assert parent.span_id == 0x53995C3F42CD8AD8
    for malformed in (
        "",
        "Root=1-abc;Parent=53995c3f42cd8ad8",
        "Root=1-6750a3c1-0123456789abcdef01234567",
        "x" * 300,
    ):
        assert tracing.parent_context(malformed, None) is None
    unsampled = tracing.parent_context(LAMBDA.replace("Sampled=1", "Sampled=0"), None)
    assert unsampled is not None and not unsampled.trace_flags.sampled


def test_a_run_step_keeps_its_runs_trace_unless_lambda_already_put_it_there() -> None:
    carried = tracing.parent_context(None, CARRIED)
    # Another trace from Lambda (the state machine is not traced, or a local run): the run's wins.
    assert tracing.parent_context(LAMBDA, CARRIED) == carried
    # The same trace (Step Functions carried it): Lambda's own segment is the finer parent.
    same_trace = CARRIED.replace("Parent=1111222233334444", "Parent=9999888877776666")
    assert tracing.parent_context(same_trace, CARRIED).span_id == 0x9999888877776666
    assert tracing.parent_context(LAMBDA, "garbage") == tracing.parent_context(LAMBDA, None)


def test_an_invocation_is_a_child_of_lambdas_segment_and_hands_its_header_on(
    spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA)

    with tracing.invocation("GET /health", attributes={"http.route": "/health"}):
        header = tracing.current_header()
        with tracing.span("db transaction", kind=SpanKind.CLIENT):
            pass

    inner, root = spans.get_finished_spans()
    assert tracing.xray_trace_id(root.context.trace_id) == "1-6750a3c1-0123456789abcdef01234567"
    assert root.parent.span_id == 0x53995C3F42CD8AD8 and inner.parent.span_id == root.context.span_id
    assert header == f"Root=1-6750a3c1-0123456789abcdef01234567;Parent={root.context.span_id:016x};Sampled=1"
    assert tracing.current_header() is None  # nothing is left current after the invocation


def test_an_unsampled_invocation_records_nothing(spans: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA.replace("Sampled=1", "Sampled=0"))

    with tracing.invocation("GET /health"), tracing.span("db transaction"):
        header = tracing.current_header()

    assert spans.get_finished_spans() == ()
    assert header is not None and header.endswith("Sampled=0")  # the steps of its runs neither


def test_a_span_keeps_only_listed_attributes_and_names_a_failure_by_its_code(spans: Any) -> None:
    error = errors.UpstreamError("the server said: secret-answer-42", code="mcp_http_error")
    with (
        pytest.raises(errors.UpstreamError),
        tracing.span("mcp call_tool", attributes={"mcp.server": "deepwiki", "mcp.arguments": "secret-args"}),
    ):
        raise error
    with pytest.raises(ValueError, match="user text"), tracing.span("agent tool"):
        raise ValueError("user text")

    call, tool = spans.get_finished_spans()
    assert dict(call.attributes) == {
        "mcp.server": "deepwiki",
        "error.code": "mcp_http_error",
        "error.type": "UpstreamError",
    }
    assert (call.status.status_code.name, call.status.description) == ("ERROR", "mcp_http_error")
    assert not call.events and not tool.events  # no exception event: its message may quote input
    assert tool.status.description == "ValueError"
    assert "secret" not in repr(call.attributes) + repr(call.status)


def test_the_exporter_sends_each_span_as_an_x_ray_document(
    spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA)
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(2)
    exporter = XRayUdpExporter(f"127.0.0.1:{daemon.getsockname()[1]}")
    started = time.time()
    with (
        tracing.invocation("POST /api/v1/mcp/connections/{id}/tools/{tool}/call"),
        tracing.span("llm chat openai", kind=SpanKind.CLIENT, attributes={"gen_ai.usage.input_tokens": 12}),
    ):
        pass
    finished = spans.get_finished_spans()

    assert exporter.export(finished).name == "SUCCESS"
    received = [daemon.recvfrom(65_535)[0] for _ in finished]
    daemon.close()
    exporter.shutdown()
    header = received[0].partition(b"\n")[0]
    assert json.loads(header) == {"format": "json", "version": 1}
    child, root = (json.loads(data.partition(b"\n")[2]) for data in received)
    # X-Ray's names take no braces: the route, whole, is the span's `http.route`.
    assert root["name"] == "POST /api/v1/mcp/connections/_id_/tools/_tool_/call"
    assert root["trace_id"] == "1-6750a3c1-0123456789abcdef01234567" == child["trace_id"]
    assert (root["type"], root["parent_id"]) == ("subsegment", "53995c3f42cd8ad8")
    assert child["parent_id"] == root["id"] and child["namespace"] == "remote"
    assert child["annotations"] == {"gen_ai_usage_input_tokens": 12}
    assert root["annotations"]["faas_coldstart"] in (True, False)
    assert (
        started - 1
        <= root["start_time"]
        <= child["start_time"]
        <= child["end_time"]
        <= root["end_time"]
        <= time.time() + 1
    )


def test_trace_ids_start_with_their_time_as_x_ray_requires() -> None:
    trace_id = XRayIdGenerator().generate_trace_id()

    assert abs(int(tracing.xray_trace_id(trace_id)[2:10], 16) - time.time()) < 5


def test_an_unknown_exporter_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")

    with pytest.raises(errors.ConfigurationError, match="OTEL_TRACES_EXPORTER"):
        tracing._exporter_choice()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "HealthFunction")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    assert tracing._exporter_choice() == "xray"
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing._exporter_choice() == "otlp"
