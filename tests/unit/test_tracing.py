"""`auralink.tracing`: X-Ray trace headers, the parent an invocation takes, the sampling decision a
span follows, what a span may carry, which library's spans are recorded, and the documents the
X-Ray and console exporters write."""

from __future__ import annotations

import io
import json
import socket
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanKind, StatusCode

from auralink import errors, tracing
from auralink.tracing_exporters import ConsoleExporter, XRayUdpExporter
from auralink.tracing_recorder import FinishedSpan, OwnSpansProvider

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
    assert tool.status.description == "ValueError"
    # Nothing of the messages anywhere in the finished spans: they may quote a user's input.
    assert "secret" not in repr(call) and "user text" not in repr(tool)


def test_an_exception_recorded_on_a_span_leaves_no_message(spans: Any) -> None:
    tracer = trace.get_tracer(tracing.OWN_TRACER)

    with tracing.span("agent tool") as current:
        current.record_exception(ValueError("user text"), attributes={"exception.message": "user text"})
        current.add_event("exception", {"exception.message": "user text"})
    # The API's defaults: record the exception and set the status when the block raises.
    with pytest.raises(KeyError), tracer.start_as_current_span("agent tool"):
        raise KeyError("user text")

    recorded, failed = spans.get_finished_spans()
    assert "user text" not in repr(recorded) + repr(failed)
    assert (failed.status.status_code, failed.status.description) == (StatusCode.ERROR, "KeyError")


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

    for each in finished:
        exporter.export(each)
    received = [daemon.recvfrom(65_535)[0] for _ in finished]
    daemon.close()
    exporter.close()
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


def test_a_new_trace_starts_with_its_time_as_x_ray_requires(
    spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)

    with tracing.invocation("migrate", kind=SpanKind.CONSUMER):
        pass

    (root,) = spans.get_finished_spans()
    assert root.parent is None and root.context.trace_flags.sampled
    assert abs(int(tracing.xray_trace_id(root.context.trace_id)[2:10], 16) - time.time()) < 5


def test_a_parent_that_is_not_sampled_keeps_its_trace_and_records_nothing(spans: Any) -> None:
    tracer = trace.get_tracer(tracing.OWN_TRACER)
    sampled = tracing.parent_context(LAMBDA, None)
    unsampled = tracing.parent_context(LAMBDA.replace("Sampled=1", "Sampled=0"), None)
    assert sampled is not None and unsampled is not None

    skipped = tracer.start_span("run step", context=trace.set_span_in_context(NonRecordingSpan(unsampled)))
    skipped.set_attribute("run.id", "run-1")
    skipped.end()
    with tracer.start_as_current_span(
        "run step", context=trace.set_span_in_context(NonRecordingSpan(sampled))
    ) as recorded:
        pass

    assert not skipped.is_recording()
    assert skipped.get_span_context().trace_id == unsampled.trace_id
    assert not skipped.get_span_context().trace_flags.sampled
    (finished,) = spans.get_finished_spans()
    assert finished.context == recorded.get_span_context() and finished.parent == sampled


def test_another_librarys_spans_are_not_recorded_but_ours_inside_them_nest_under_ours(spans: Any) -> None:
    # The MCP SDK traces itself under its own name: its spans name users' tools.
    theirs = trace.get_tracer("mcp-python-sdk")

    with tracing.span("mcp call_tool", kind=SpanKind.CLIENT) as outer:
        with theirs.start_as_current_span("tools/call my-secret-tool") as foreign:
            assert not foreign.is_recording()
            with tracing.span("db transaction", kind=SpanKind.CLIENT):
                pass
        assert trace.get_current_span() is outer

    inner, call = spans.get_finished_spans()
    assert [inner.name, call.name] == ["db transaction", "mcp call_tool"]
    assert inner.parent.span_id == call.context.span_id
    assert inner.context.trace_id == call.context.trace_id


class _Broken:
    def export(self, finished: FinishedSpan) -> None:
        raise RuntimeError("the collector is gone")

    def force_flush(self) -> None:
        raise RuntimeError("the collector is gone")


class _Kept:
    def __init__(self) -> None:
        self.finished: list[FinishedSpan] = []

    def export(self, finished: FinishedSpan) -> None:
        self.finished.append(finished)

    def force_flush(self) -> None:
        pass


def test_a_failing_exporter_loses_its_spans_not_the_request_nor_the_other_exporters() -> None:
    provider = OwnSpansProvider()
    kept = _Kept()
    provider.add_exporter(_Broken())
    provider.add_exporter(kept)

    with provider.get_tracer(tracing.OWN_TRACER).start_as_current_span("run step"):
        answer = "done"
    provider.force_flush()

    assert answer == "done"
    assert [finished.name for finished in kept.finished] == ["run step"]


def test_the_console_exporter_writes_one_document_per_span_without_unlisted_attributes(
    spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA)
    with (
        tracing.invocation("POST /api/v1/mcp/call"),
        tracing.span(
            "mcp call_tool",
            kind=SpanKind.CLIENT,
            attributes={"mcp.server": "deepwiki", "mcp.arguments": "secret-args"},
        ) as current,
    ):
        # Past `tracing.span`'s filter, straight through the API: still dropped.
        current.set_attribute("url.full", "https://secret.example/")
        tracing.fail(current, "mcp_http_error")
    out = io.StringIO()
    exporter = ConsoleExporter(out)

    for each in spans.get_finished_spans():
        exporter.export(each)

    text = out.getvalue()
    call, root = (json.loads(line) for line in text.splitlines())
    assert all(set(document["attributes"]) <= tracing.ATTRIBUTES for document in (call, root))
    assert call["attributes"] == {"mcp.server": "deepwiki", "error.code": "mcp_http_error"}
    assert "secret" not in text
    assert (call["kind"], call["status"], call["parent_id"]) == ("CLIENT", "ERROR", root["span_id"])
    assert root["parent_id"] == "53995c3f42cd8ad8"
    assert call["trace_id"] == root["trace_id"] == "6750a3c10123456789abcdef01234567"
    assert root["start_time"] <= call["start_time"] <= call["end_time"] <= root["end_time"]


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
