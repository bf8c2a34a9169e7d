"""Traces on OpenTelemetry: a span for each invocation, database transaction, MCP call, LLM call and
agent tool call, with one run's steps in the trace of the request that started it.

Instrumented code speaks only the OpenTelemetry API (`span`, `invocation`), which records nothing
and costs next to nothing until a provider is installed. `configure`, at a container's first
invocation, installs our own provider (`auralink.tracing_recorder`, on the API alone: the SDK's
import cost 11 to 17 ms of every cold start) with the exporter that ``OTEL_TRACES_EXPORTER`` names
(`auralink.tracing_exporters`):

- ``xray``, the default on Lambda: each span is sent as an X-Ray subsegment over UDP to the daemon
  that Lambda runs beside a function with active tracing (``AWS_XRAY_DAEMON_ADDRESS``). No
  collector extension, no HTTP request, no botocore: a span costs one local datagram
  (docs/benchmarks.md, "Tracing exporters", gives the figures this was chosen on);
- ``otlp``: OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a local Jaeger, an ADOT collector);
  the default where that variable is set and the function is not on Lambda. Development only: it
  needs OpenTelemetry's SDK and OTLP exporter, which the layer does not ship;
- ``console``: one JSON document per span on standard error;
- ``none``: nothing is recorded (the default elsewhere).

Span attributes are names, ids, counts and codes, never content: a span takes only the keys of
`ATTRIBUTES`, and failures are recorded by their error code or exception class, never by their
message (which may quote a user's input). No prompt, argument, result, URL, credential or token
can reach a span.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from auralink.snapstart import before_snapshot

if TYPE_CHECKING:
    from auralink.tracing_recorder import Exporter, OwnSpansProvider

__all__ = [
    "ATTRIBUTES",
    "SpanKind",
    "configure",
    "current_header",
    "handler",
    "install",
    "invocation",
    "span",
]

# Every attribute a span may carry. A key not listed here is dropped: an attribute is added on
# purpose, after asking whether its value could be a user's content.
ATTRIBUTES = frozenset(
    {
        "faas.name",
        "faas.coldstart",
        "faas.trigger",
        "http.request.method",
        "http.route",
        "http.response.status_code",
        "db.system.name",
        "mcp.server",
        "mcp.tool",
        "mcp.operation",
        "mcp.protocol",
        "mcp.attempts",
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cost_usd",
        "agent.tool.name",
        "run.id",
        "error.code",
        "error.type",
    }
)
Attribute = str | bool | int | float

OWN_TRACER = "auralink"
# The variable Lambda sets for each invocation of a function with active tracing.
_LAMBDA_TRACE_VARIABLE = "_X_AMZN_TRACE_ID"
_DEFAULT_DAEMON = "127.0.0.1:2000"

# A proxy until a provider is installed, then the provider's tracer.
_tracer = trace.get_tracer(OWN_TRACER)


class _State:
    """The container's tracing state: its provider, once installed, and whether it is cold."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.provider: OwnSpansProvider | None = None
        self.configured = False
        self.cold = True


_state = _State()


# ----------------------------------------------------------------------------- recording


@contextmanager
def span(
    name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Attribute | None] | None = None
) -> Iterator[trace.Span]:
    """A span around the block, child of the current one. A `DomainError`-like exception (one with
    a ``code``) marks it failed with that code; any other, with its class name."""
    with _tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=_allowed(attributes),
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
        try:
            yield current
        except BaseException as exc:
            fail(current, exc)
            raise


def set_attributes(current: trace.Span, attributes: Mapping[str, Attribute | None]) -> None:
    """Add attributes to ``current``, under the same rule as `span`'s."""
    if current.is_recording():
        current.set_attributes(_allowed(attributes))


def fail(current: trace.Span, error: BaseException | str) -> None:
    """Mark ``current`` failed by an error code or an exception's code or class: never a message."""
    code: str | None
    kind: str | None
    if isinstance(error, str):
        code, kind = error, None
    else:
        found = getattr(error, "code", None)
        code, kind = (found if isinstance(found, str) else None), type(error).__name__
    set_attributes(current, {"error.code": code, "error.type": kind})
    current.set_status(Status(StatusCode.ERROR, code or kind))


def _allowed(attributes: Mapping[str, Attribute | None] | None) -> dict[str, Attribute]:
    if not attributes:
        return {}
    return {key: value for key, value in attributes.items() if key in ATTRIBUTES and value is not None}


# ----------------------------------------------------------------------------- invocations


@contextmanager
def invocation(
    name: str,
    *,
    kind: SpanKind = SpanKind.SERVER,
    attributes: Mapping[str, Attribute | None] | None = None,
    carried: str | None = None,
) -> Iterator[trace.Span]:
    """The root span of one invocation, in the trace Lambda gives it (``_X_AMZN_TRACE_ID``), or in
    the ``carried`` X-Ray trace header's trace when Lambda's is another (a run's step when the
    state machine is not traced, or runs locally). Spans are flushed before the block returns."""
    configure()
    parent = parent_context(os.environ.get(_LAMBDA_TRACE_VARIABLE), carried)
    base = trace.set_span_in_context(NonRecordingSpan(parent)) if parent else otel_context.Context()
    cold, _state.cold = _state.cold, False
    token = otel_context.attach(base)
    try:
        with span(name, kind=kind, attributes={**(attributes or {}), "faas.coldstart": cold}) as current:
            yield current
    finally:
        otel_context.detach(token)
        _flush()


F = TypeVar("F", bound=Callable[..., Any])


def handler(
    name: str, *, carried: Callable[[dict[str, Any]], str | None] = lambda _: None
) -> Callable[[F], F]:
    """Decorate a Lambda handler that is not behind API Gateway (a run step, a scheduled task):
    each invocation is one root span; ``carried`` picks an X-Ray trace header out of the event."""

    def decorate(function: F) -> F:
        @wraps(function)
        def traced(event: dict[str, Any], context: Any) -> Any:
            header = carried(event) if isinstance(event, dict) else None
            with invocation(name, kind=SpanKind.CONSUMER, attributes=_function_attributes(), carried=header):
                return function(event, context)

        return traced  # type: ignore[return-value]

    return decorate


def _function_attributes() -> dict[str, Attribute | None]:
    return {"faas.name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME")}


def parent_context(lambda_header: str | None, carried: str | None) -> SpanContext | None:
    """The parent of an invocation's root span: Lambda's, unless a header carried in the event
    belongs to another trace (then that one, so that a run stays one trace)."""
    from_lambda = _parse_header(lambda_header)
    from_event = _parse_header(carried)
    if from_event is not None and (from_lambda is None or from_lambda.trace_id != from_event.trace_id):
        return from_event
    return from_lambda


def current_header() -> str | None:
    """The X-Ray trace header of the current span (``Root=...;Parent=...;Sampled=...``), to carry
    into Step Functions and the run's steps; None outside any traced invocation."""
    current = trace.get_current_span().get_span_context()
    if not current.is_valid:
        return None
    sampled = "1" if current.trace_flags.sampled else "0"
    return f"Root={xray_trace_id(current.trace_id)};Parent={current.span_id:016x};Sampled={sampled}"


def xray_trace_id(trace_id: int) -> str:
    """An OpenTelemetry trace id as X-Ray writes it: ``1-<8 hex: epoch seconds>-<24 hex>``."""
    digits = f"{trace_id:032x}"
    return f"1-{digits[:8]}-{digits[8:]}"


def _parse_header(header: str | None) -> SpanContext | None:
    if not header or len(header) > 256:
        return None
    fields = dict(part.strip().partition("=")[::2] for part in header.split(";") if "=" in part)
    root, parent = fields.get("Root", ""), fields.get("Parent", "")
    pieces = root.split("-")
    if (
        len(pieces) != 3
        or pieces[0] != "1"
        or len(pieces[1]) != 8
        or len(pieces[2]) != 24
        or len(parent) != 16
    ):
        return None
    try:
        trace_id, span_id = int(pieces[1] + pieces[2], 16), int(parent, 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    # Lambda samples before the function runs; "Sampled=?" (a decision left to us) is taken as yes.
    flags = TraceFlags(TraceFlags.DEFAULT if fields.get("Sampled") == "0" else TraceFlags.SAMPLED)
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags)


# ----------------------------------------------------------------------------- configuration


def configure() -> None:
    """Install the provider with the environment's exporter, once per container (its first
    invocation)."""
    if _state.configured:
        return
    with _state.lock:
        if _state.configured:
            return
        # No trace context leaves with a request: the MCP SDK would put ours in the `_meta` of
        # every request to a server, whoever's server it is. A run's context travels in the run's
        # own records instead (`current_header`).
        from opentelemetry.propagate import set_global_textmap  # noqa: PLC0415
        from opentelemetry.propagators.composite import CompositePropagator  # noqa: PLC0415

        set_global_textmap(CompositePropagator([]))
        choice = _exporter_choice()
        if choice != "none":
            _add(_exporter(choice))
        _state.configured = True


def install(exporter: Exporter) -> None:
    """Send every span to ``exporter`` as it ends, besides the configured exporter (tests)."""
    with _state.lock:
        _add(exporter)


def _exporter_choice() -> str:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return "none"
    named = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        if named not in {"xray", "otlp", "console", "none"}:
            from auralink.errors import ConfigurationError  # noqa: PLC0415

            raise ConfigurationError("OTEL_TRACES_EXPORTER must be one of xray, otlp, console, none")
        return named
    on_lambda = "AWS_LAMBDA_FUNCTION_NAME" in os.environ and os.environ.get("AWS_SAM_LOCAL") != "true"
    if on_lambda:
        return "xray"
    otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    return "otlp" if otlp else "none"


def _exporter(choice: str) -> Exporter:
    from auralink import tracing_exporters  # noqa: PLC0415

    if choice == "xray":
        return tracing_exporters.XRayUdpExporter(os.environ.get("AWS_XRAY_DAEMON_ADDRESS") or _DEFAULT_DAEMON)
    if choice == "console":
        return tracing_exporters.ConsoleExporter()
    return tracing_exporters.OtlpExporter()


def _add(exporter: Exporter) -> None:
    if _state.provider is None:
        from auralink.tracing_recorder import OwnSpansProvider  # noqa: PLC0415

        _state.provider = OwnSpansProvider()
        trace.set_tracer_provider(_state.provider)
    _state.provider.add_exporter(exporter)


def _load_recorder() -> None:
    # Before a SnapStart snapshot: restored containers then find the recorder and the exporters
    # imported. Nothing is configured yet, so no socket is cloned into them.
    from auralink import tracing_exporters, tracing_recorder  # noqa: F401, PLC0415


before_snapshot(_load_recorder)


def _flush() -> None:
    if _state.provider is not None:
        _state.provider.force_flush()
