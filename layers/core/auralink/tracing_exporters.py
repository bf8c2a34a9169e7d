"""Where `auralink.tracing_recorder`'s finished spans go, as ``OTEL_TRACES_EXPORTER`` names it:

- `XRayUdpExporter` (``xray``, the default on Lambda): each span as an X-Ray document, one UDP
  datagram to the daemon Lambda runs beside a traced function;
- `ConsoleExporter` (``console``): one JSON document per span on standard error;
- `OtlpExporter` (``otlp``, development only): OTLP over HTTP to a local Jaeger or a collector.
  It alone needs OpenTelemetry's SDK and OTLP exporter, which the development environment has and
  the layer does not; it imports them when it is created.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from opentelemetry.trace import SpanKind, StatusCode

from auralink.tracing import OWN_TRACER, xray_trace_id

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from auralink.tracing_recorder import FinishedSpan

_HEADER = b'{"format": "json", "version": 1}\n'
# Spans an OTLP exporter holds before it sends them without waiting for the invocation's end.
_OTLP_BATCH = 512
# The longest an invocation waits for a collector, retries included (the exporter's default is
# 10 s: a local collector that is not running would hold every invocation that long).
_OTLP_TIMEOUT_S = 2.0


class XRayUdpExporter:
    """Spans as X-Ray subsegment documents, one UDP datagram each, to the X-Ray daemon.

    A span whose parent is remote (Lambda's function segment, or another function's span) names
    it as ``parent_id``; the trace's documents assemble into one tree in X-Ray. Attributes become
    annotations (indexed, searchable), their dots turned into underscores as X-Ray requires.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._address = (host or "127.0.0.1", int(port))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def export(self, finished: FinishedSpan) -> None:
        # A datagram that cannot leave loses one span, as UDP may anyway: never the request.
        with contextlib.suppress(OSError):
            self._socket.sendto(_HEADER + json.dumps(subsegment(finished)).encode(), self._address)

    def force_flush(self) -> None:
        """Nothing is held: each span left as it ended."""

    def close(self) -> None:
        self._socket.close()


def subsegment(finished: FinishedSpan) -> dict[str, Any]:
    """The X-Ray document of one finished span."""
    context = finished.context
    document: dict[str, Any] = {
        "name": _xray_name(finished.name),
        "id": f"{context.span_id:016x}",
        "trace_id": xray_trace_id(context.trace_id),
        "start_time": finished.start_time / 1e9,
        "end_time": finished.end_time / 1e9,
    }
    if finished.parent is not None:
        document["type"] = "subsegment"
        document["parent_id"] = f"{finished.parent.span_id:016x}"
    else:
        document["origin"] = "AWS::Lambda::Function"
    if finished.kind is SpanKind.CLIENT:
        document["namespace"] = "remote"
    annotations = {key.replace(".", "_"): value for key, value in finished.attributes.items()}
    if annotations:
        document["annotations"] = annotations
    if finished.status.status_code is StatusCode.ERROR:
        document["fault"] = True
    return document


def _xray_name(name: str) -> str:
    # X-Ray names: up to 200 of letters, digits, spaces and _.:/%&#=+\-@
    allowed = "".join(c if c.isalnum() or c in " _.:/%&#=+\\-@" else "_" for c in name)
    return allowed[:200] or "span"


class ConsoleExporter:
    """One JSON document per span, on one line, to ``out`` (standard error unless given)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out

    def export(self, finished: FinishedSpan) -> None:
        out = self._out or sys.stderr
        out.write(json.dumps(readable(finished)) + "\n")

    def force_flush(self) -> None:
        (self._out or sys.stderr).flush()


def readable(finished: FinishedSpan) -> dict[str, Any]:
    """A finished span as a reader of logs wants it: OpenTelemetry's ids in hex, times in epoch
    seconds, the status by name."""
    document: dict[str, Any] = {
        "name": finished.name,
        "trace_id": f"{finished.context.trace_id:032x}",
        "span_id": f"{finished.context.span_id:016x}",
        "parent_id": f"{finished.parent.span_id:016x}" if finished.parent is not None else None,
        "kind": finished.kind.name,
        "start_time": finished.start_time / 1e9,
        "end_time": finished.end_time / 1e9,
        "attributes": dict(finished.attributes),
        "status": finished.status.status_code.name,
    }
    if finished.status.description:
        document["status_description"] = finished.status.description
    return document


class OtlpExporter:
    """OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (development only).

    Spans are held and sent together when the invocation ends (`force_flush`), or when
    `_OTLP_BATCH` of them wait: one HTTP request per invocation, and no background thread, whose
    spans a frozen container would hold until its next invocation.
    """

    def __init__(self) -> None:
        # Not in the layer: the development environment's (pyproject.toml, the `dev` extra).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import ReadableSpan  # noqa: PLC0415
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope  # noqa: PLC0415

        attributes = {
            "service.name": os.environ.get("POWERTOOLS_SERVICE_NAME", "auralink"),
            "cloud.provider": "aws",
        }
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if function:
            attributes["faas.name"] = function
        # `Resource(...)`, not `Resource.create()`: no resource detectors loaded from entry points.
        self._resource = Resource(attributes)
        self._scope = InstrumentationScope(OWN_TRACER)
        self._readable = ReadableSpan
        self._exporter = OTLPSpanExporter(timeout=_OTLP_TIMEOUT_S)
        self._pending: list[FinishedSpan] = []
        self._lock = threading.Lock()

    def export(self, finished: FinishedSpan) -> None:
        with self._lock:
            self._pending.append(finished)
            full = len(self._pending) >= _OTLP_BATCH
        if full:
            self.force_flush()

    def force_flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            self._exporter.export([self._sdk_span(finished) for finished in batch])

    def _sdk_span(self, finished: FinishedSpan) -> ReadableSpan:
        return self._readable(
            name=finished.name,
            context=finished.context,
            parent=finished.parent,
            resource=self._resource,
            attributes=finished.attributes,
            links=finished.links,
            kind=finished.kind,
            status=finished.status,
            start_time=finished.start_time,
            end_time=finished.end_time,
            instrumentation_scope=self._scope,
        )
