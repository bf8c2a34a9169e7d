"""The recording side of `auralink.tracing`: an implementation of the OpenTelemetry API that records
the service's own spans, with trace ids X-Ray accepts, and hands each one, as it ends, to the
installed exporters (`auralink.tracing_exporters`).

OpenTelemetry's SDK does this too, but importing it (its tracer, resources, semantic conventions
and metrics API) cost 11 to 17 ms of every cold start of every function (docs/benchmarks.md,
"Tracing without OpenTelemetry's SDK"). What the service needs of it is small: spans that follow
their parent's sampling decision, ids, attributes, a status, and a synchronous hand-over. The
development exporter that wants the SDK's span objects (OTLP) imports it itself.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple, Protocol, override

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util._decorator import _agnosticcontextmanager
from opentelemetry.util.types import Attributes, AttributeValue

from auralink.tracing import ATTRIBUTES, OWN_TRACER

_SCALARS = (str, bool, int, float)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


# A named tuple rather than a frozen dataclass: as immutable, and about 1 ms less at a cold start
# (a dataclass compiles its methods when its module is imported).
class FinishedSpan(NamedTuple):
    """One ended span, as the exporters receive it. Times are nanoseconds since the epoch; a
    ``parent`` is None for the root of a trace."""

    name: str
    context: SpanContext
    parent: SpanContext | None
    kind: SpanKind
    attributes: Mapping[str, AttributeValue]
    links: tuple[Link, ...]
    status: Status
    start_time: int
    end_time: int

    def get_span_context(self) -> SpanContext:
        return self.context


class Exporter(Protocol):
    """Where finished spans go. ``export`` runs in the thread that ended the span, before `end`
    returns; ``force_flush`` at the end of every invocation."""

    def export(self, finished: FinishedSpan) -> None: ...

    def force_flush(self) -> None: ...


class XRayIds:
    """Trace ids X-Ray accepts: the first 32 bits are the trace's start in epoch seconds.

    Drawn from the kernel (`random.SystemRandom`): containers restored from one SnapStart snapshot
    draw different ids without reseeding anything.
    """

    def __init__(self) -> None:
        self._random = random.SystemRandom()

    def span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def trace_id(self) -> int:
        return (int(time.time()) << 96) | self._random.getrandbits(96)


class OwnSpansProvider(trace.TracerProvider):
    """Records the spans of `auralink.tracing` alone.

    Libraries that instrument themselves get a tracer that records nothing. The MCP SDK does
    this, and its spans name a user's own tools and record exceptions' messages. The context
    still flows through: a span of ours opened inside theirs is a child of our enclosing span.
    """

    def __init__(self) -> None:
        self._exporters: tuple[Exporter, ...] = ()
        self._lock = threading.Lock()
        self._tracer = _OwnTracer(self)
        self._foreign = trace.NoOpTracer()

    @override
    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return self._tracer if instrumenting_module_name == OWN_TRACER else self._foreign

    def add_exporter(self, exporter: Exporter) -> None:
        with self._lock:
            # A new tuple: spans ending meanwhile read the old one without taking the lock.
            self._exporters = (*self._exporters, exporter)

    def force_flush(self) -> None:
        for exporter in self._exporters:
            try:
                exporter.force_flush()
            except Exception as exc:
                _exporter_failed("trace exporter failed to flush", exc)

    def _export(self, finished: FinishedSpan) -> None:
        # A failing exporter loses spans, never a request.
        for exporter in self._exporters:
            try:
                exporter.export(finished)
            except Exception as exc:
                _exporter_failed("trace exporter failed", exc)


class _OwnTracer(trace.Tracer):
    def __init__(self, provider: OwnSpansProvider) -> None:
        self._provider = provider
        self._ids = XRayIds()

    @override
    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        found = trace.get_current_span(context).get_span_context()
        parent = found if found.is_valid else None
        if parent is None:
            trace_id, state = self._ids.trace_id(), None
        else:
            trace_id, state = parent.trace_id, parent.trace_state
            if not parent.trace_flags.sampled:
                # The parent's decision holds for the whole trace: nothing below it is recorded,
                # and the header handed on (`tracing.current_header`) still says Sampled=0.
                unsampled = SpanContext(trace_id, self._ids.span_id(), False, _UNSAMPLED, state)
                return trace.NonRecordingSpan(unsampled)
        own = SpanContext(trace_id, self._ids.span_id(), False, _SAMPLED, state)
        return _RecordingSpan(
            self._provider,
            name,
            own,
            parent,
            kind,
            attributes=attributes,
            links=links,
            start_time=start_time,
            on_exception=(record_exception, set_status_on_exception),
        )

    # The API's `Tracer` declares it with this decorator: a span may wrap a coroutine function too.
    @override
    @_agnosticcontextmanager
    def start_as_current_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )
        # `use_span` would describe a failure by the exception's message: the status is set here,
        # by the exception's class, and `use_span` only makes the span current and ends it.
        with trace.use_span(
            span, end_on_exit=end_on_exit, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield span
            except Exception as exc:
                if record_exception:
                    span.record_exception(exc)
                if set_status_on_exception:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise


class _RecordingSpan(trace.Span):
    """A sampled span of ours. Until it ends it takes attributes (only the keys of
    `tracing.ATTRIBUTES`), links, a name and a status; then it is exported once and ignores
    every later change."""

    def __init__(
        self,
        provider: OwnSpansProvider,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        *,
        attributes: Attributes,
        links: Sequence[Link] | None,
        start_time: int | None,
        on_exception: tuple[bool, bool],
    ) -> None:
        self._provider = provider
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes: dict[str, AttributeValue] = {}
        self._links = [link for link in links or () if link.context.is_valid]
        self._status = Status(StatusCode.UNSET)
        self._start_time = start_time if start_time is not None else time.time_ns()
        # As `start_span` was asked: record the exception, set the status, when the span is
        # used as a context manager and its block raises.
        self._record_exception, self._set_status_on_exception = on_exception
        self._lock = threading.Lock()
        self._ended = False
        if attributes:
            self.set_attributes(attributes)

    @override
    def get_span_context(self) -> SpanContext:
        return self._context

    @override
    def is_recording(self) -> bool:
        return not self._ended

    @override
    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    @override
    def set_attribute(self, key: str, value: Any) -> None:
        cleaned = _attribute_value(value)
        if key in ATTRIBUTES and cleaned is not None and not self._ended:
            self._attributes[key] = cleaned

    @override
    def add_event(self, name: str, attributes: Attributes = None, timestamp: int | None = None) -> None:
        """Dropped: the service records no events (an exception's would carry its message)."""

    @override
    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if context.is_valid and not self._ended:
            self._links.append(Link(context, attributes))

    @override
    def update_name(self, name: str) -> None:
        if not self._ended:
            self._name = name

    @override
    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: OK is final, and UNSET changes nothing.
        new = status if isinstance(status, Status) else Status(status, description)
        if self._ended or self._status.status_code is StatusCode.OK or new.status_code is StatusCode.UNSET:
            return
        self._status = new

    @override
    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Records nothing: an exception's message may quote a user's input. `tracing.fail` names
        a failure by its error code or class instead."""

    @override
    def end(self, end_time: int | None = None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        finished = FinishedSpan(
            name=self._name,
            context=self._context,
            parent=self._parent,
            kind=self._kind,
            attributes=MappingProxyType(self._attributes),
            links=tuple(self._links),
            status=self._status,
            start_time=self._start_time,
            end_time=end_time if end_time is not None else time.time_ns(),
        )
        self._provider._export(finished)

    @override
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if isinstance(exc_val, Exception):
            if self._record_exception:
                self.record_exception(exc_val, escaped=True)
            if self._set_status_on_exception:
                self.set_status(Status(StatusCode.ERROR, type(exc_val).__name__))
        self.end()

    def __repr__(self) -> str:
        return f"_RecordingSpan(name={self._name!r}, context={self._context!r})"


def _exporter_failed(message: str, error: Exception) -> None:
    # The service's logger, imported on failure only: recording needs nothing of Powertools.
    from auralink.observability import logger  # noqa: PLC0415

    logger.warning(message, extra={"error": type(error).__name__})


def _attribute_value(value: object) -> AttributeValue | None:
    # The API's attribute values: a scalar, or a sequence of scalars of one type (kept as a tuple,
    # so that the finished span's attributes cannot change).
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = tuple(value)
        if all(isinstance(item, _SCALARS) for item in items) and len({type(item) for item in items}) <= 1:
            return items
    return None
