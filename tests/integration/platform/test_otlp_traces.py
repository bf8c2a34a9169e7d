"""The OTLP exporter (``OTEL_TRACES_EXPORTER=otlp``, development only): an invocation's spans reach
an OTLP/HTTP receiver on loopback in one request when the invocation ends, in the service's
resource and scope, nested as they were recorded."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from auralink import tracing
from auralink.tracing_exporters import OtlpExporter

LAMBDA = "Root=1-6750a3c1-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"


class _Receiver(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # the standard library's name
        self.server.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_invocations_spans_are_sent_together_when_it_ends(
    receiver: _Receiver, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"http://127.0.0.1:{receiver.server_port}/v1/traces"
    )
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "HealthFunction")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", LAMBDA)
    exporter = OtlpExporter()
    with (
        tracing.invocation("GET /health", attributes={"http.route": "/health"}),
        tracing.span(
            "db transaction", kind=tracing.SpanKind.CLIENT, attributes={"db.system.name": "postgresql"}
        ),
    ):
        pass

    for finished in spans.get_finished_spans():
        exporter.export(finished)
    held = list(receiver.bodies)
    exporter.force_flush()

    assert held == []
    (body,) = receiver.bodies
    (resource_spans,) = ExportTraceServiceRequest.FromString(body).resource_spans
    resource = {
        attribute.key: attribute.value.string_value for attribute in resource_spans.resource.attributes
    }
    assert resource["faas.name"] == "HealthFunction"
    (scope_spans,) = resource_spans.scope_spans
    assert scope_spans.scope.name == tracing.OWN_TRACER
    transaction, request = scope_spans.spans
    assert (transaction.name, request.name) == ("db transaction", "GET /health")
    assert transaction.parent_span_id == request.span_id
    assert request.parent_span_id == bytes.fromhex("53995c3f42cd8ad8")
    assert request.trace_id.hex() == "6750a3c10123456789abcdef01234567" == transaction.trace_id.hex()
    assert {attribute.key for attribute in request.attributes} == {"http.route", "faas.coldstart"}
