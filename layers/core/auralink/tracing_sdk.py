"""The SDK's side of `auralink.tracing`: the provider that records the service's own spans only,
trace ids X-Ray accepts, and the exporter that sends each span as an X-Ray document to the daemon
Lambda runs beside a traced function.

Imported when tracing is configured, not before: it needs OpenTelemetry's SDK.
"""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, StatusCode

from auralink.tracing import OWN_TRACER, xray_trace_id

_HEADER = b'{"format": "json", "version": 1}\n'


class OwnSpansProvider(TracerProvider):
    """Records the spans of `auralink.tracing` alone.

    Libraries that instrument themselves get a tracer that records nothing. The MCP SDK does
    this, and its spans name a user's own tools and record exceptions' messages. The context
    still flows through: a span of ours opened inside theirs is a child of our enclosing span.
    """

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        if instrumenting_module_name != OWN_TRACER:
            return trace.NoOpTracer()
        return super().get_tracer(instrumenting_module_name, *args, **kwargs)


class XRayIdGenerator(IdGenerator):
    """Trace ids X-Ray accepts: the first 32 bits are the trace's start in epoch seconds."""

    def __init__(self) -> None:
        self._random = random.SystemRandom()

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return (int(time.time()) << 96) | self._random.getrandbits(96)

    def is_trace_id_random(self) -> bool:
        # W3C's "random trace id" flag: not so here, the first 32 bits are a time.
        return False


class XRayUdpExporter(SpanExporter):
    """Spans as X-Ray subsegment documents, one UDP datagram each, to the X-Ray daemon.

    A span whose parent is remote (Lambda's function segment, or another function's span) names
    it as ``parent_id``; the trace's documents assemble into one tree in X-Ray. Attributes become
    annotations (indexed, searchable), their dots turned into underscores as X-Ray requires.
    """

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._address = (host or "127.0.0.1", int(port))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for finished in spans:
            try:
                self._socket.sendto(_HEADER + json.dumps(subsegment(finished)).encode(), self._address)
            except OSError:
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._socket.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def subsegment(finished: ReadableSpan) -> dict[str, Any]:
    """The X-Ray document of one finished span."""
    context = finished.get_span_context()
    assert context is not None  # a finished span always has one
    document: dict[str, Any] = {
        "name": _xray_name(finished.name),
        "id": f"{context.span_id:016x}",
        "trace_id": xray_trace_id(context.trace_id),
        "start_time": (finished.start_time or 0) / 1e9,
        "end_time": (finished.end_time or 0) / 1e9,
    }
    if finished.parent is not None:
        document["type"] = "subsegment"
        document["parent_id"] = f"{finished.parent.span_id:016x}"
    else:
        document["origin"] = "AWS::Lambda::Function"
    if finished.kind is SpanKind.CLIENT:
        document["namespace"] = "remote"
    annotations = {key.replace(".", "_"): value for key, value in (finished.attributes or {}).items()}
    if annotations:
        document["annotations"] = annotations
    if finished.status.status_code is StatusCode.ERROR:
        document["fault"] = True
    return document


def _xray_name(name: str) -> str:
    # X-Ray names: up to 200 of letters, digits, spaces and _.:/%&#=+\-@
    allowed = "".join(c if c.isalnum() or c in " _.:/%&#=+\\-@" else "_" for c in name)
    return allowed[:200] or "span"
