"""Every call to an MCP server goes through here: admission, deadline, retries, record.

1. Admission, in one short transaction: the per-user and per-server rate limits, the server's
   circuit breaker, and the operation's `pending` row in the log — committed before the server is
   contacted. A rejection is logged as `rejected` and raised (429 / 503). The statements go with
   the transaction's BEGIN, in one round trip; what follows them (a breaker not closed, a new
   rate window) costs more only when it happens.
2. The call, outside any transaction, with a deadline shorter than the function's remaining
   time, retried (with jitter) only when the failure says it is safe to repeat.
3. The record, in a second transaction: the breaker learns the outcome and the log row is
   completed (one round trip when the circuit was closed and the call succeeded: nothing for the
   breaker to learn). Metrics per server and tool.

Whose breaker and server limit a call counts against (`Upstream.key`): a user's own server (a
custom endpoint, or a registry server reached with the user's own credentials) has its own,
keyed by the user; a registry server reached without them shares one among every user. A
shared breaker counts only the server's own failures (`Fault`), and those that one caller can
provoke only as seen by several users. The log and the statistics name the server as the user
knows it (`Upstream.server_name`).

Metric dimensions take values from finite sets only, whatever users send: a registry server's
name or `custom`; a registry server's tool, else the operation (`connect`...) or `other`.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar
from uuid import UUID

from auralink import config, rate_windows, retry, tracing
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.config import Limits
from auralink.db import tenant_batch, tenant_statements
from auralink.errors import DomainError, RateLimited, ServiceUnavailable
from auralink.mcp import breaker, limits, oplog
from auralink.mcp import errors as mcp_errors
from auralink.mcp.client import McpTarget
from auralink.mcp.errors import McpTimeout, McpUpstreamError
from auralink.mcp.oplog import OperationRecord
from auralink.observability import (
    MetricName,
    MetricPoint,
    MetricUnit,
    emit_with_dimensions,
    logger,
)

T = TypeVar("T")

# Time kept back from the function's remaining time to record the outcome and answer.
SAFETY_MARGIN_S = 1.5
# Failures that open the circuit of a user's own server (whoever caused them, only that user is
# refused); the others say the request was wrong.
_BREAKER_FAILURES = frozenset(
    {
        mcp_errors.UNREACHABLE,
        mcp_errors.OVERLOADED,
        mcp_errors.PROTOCOL_ERROR,
        mcp_errors.HTTP_ERROR,
        mcp_errors.RESPONSE_TOO_LARGE,
        "mcp_timeout",
    }
)


# The values of the `server` and `tool` dimensions that stand for every user-chosen one.
CUSTOM_DIMENSION = "custom"
OTHER_DIMENSION = "other"
# Bounds a breaker's key (its column takes 255 characters) whatever the host's length.
_MAX_KEY_NAME = 180


@dataclass(frozen=True)
class Upstream:
    """Where a call goes: the server's name (as logged and shown), how to reach it, its limits, and
    whose server it is: ``owner`` is the digest of the user whose own server it is, None for a
    server shared by every user."""

    server_name: str
    target: McpTarget
    limits: Limits
    owner: str | None = None

    @property
    def key(self) -> str:
        """What the breaker and the per-server rate limit count by."""
        if self.owner is None:
            return self.server_name
        name = self.server_name
        if len(name) > _MAX_KEY_NAME:
            name = name[: _MAX_KEY_NAME - 17] + "~" + hashlib.sha256(name.encode()).hexdigest()[:16]
        return f"user:{self.owner}/{name}"


@dataclass(frozen=True)
class Outcome[T]:
    value: T
    operation_id: UUID
    latency_ms: int
    attempts: int


def execute[T](
    upstream: Upstream,
    record: OperationRecord,
    action: Callable[[McpTarget, float], T],
    *,
    remaining_ms: int,
    response_size: Callable[[T], int] = lambda _: 0,
    clock: Clock = SYSTEM_CLOCK,
) -> Outcome[T]:
    # Named as the metrics name it: a user's own server and its tools are "custom" and "other".
    dimensions = _dimensions(record)
    attributes = {
        "mcp.server": dimensions["server"],
        "mcp.tool": dimensions["tool"] if record.tool else None,
        "mcp.operation": record.operation,
        "mcp.protocol": upstream.target.protocol,
    }
    with tracing.span(f"mcp {record.operation}", kind=tracing.SpanKind.CLIENT, attributes=attributes) as span:
        outcome = _execute(
            upstream, record, action, remaining_ms=remaining_ms, response_size=response_size, clock=clock
        )
        tracing.set_attributes(span, {"mcp.attempts": outcome.attempts})
        return outcome


def _execute[T](
    upstream: Upstream,
    record: OperationRecord,
    action: Callable[[McpTarget, float], T],
    *,
    remaining_ms: int,
    response_size: Callable[[T], int],
    clock: Clock,
) -> Outcome[T]:
    deadline_s = min(upstream.limits.timeout_seconds, remaining_ms / 1000 - SAFETY_MARGIN_S)
    if deadline_s <= 0:
        _reject(
            record, clock, ServiceUnavailable("Not enough time left for the call", code="deadline_exhausted")
        )
    operation_id, permit = _admit(upstream, record, clock, lease_s=deadline_s + SAFETY_MARGIN_S)
    started = clock.monotonic()
    deadline_at = started + deadline_s
    attempts = retry.Attempts()
    try:
        value = retry.call_with_retries(
            # Each attempt gets what is left of the one deadline, never a fresh one.
            lambda: action(upstream.target, max(deadline_at - clock.monotonic(), 0.01)),
            upstream.limits.retries,
            clock=clock,
            rng=random.Random(),  # noqa: S311  # jitter, not cryptography
            deadline_at=deadline_at,
            attempts=attempts,
        )
    except DomainError as exc:
        _record_failure(
            upstream,
            record=record,
            operation_id=operation_id,
            permit=permit,
            error=exc,
            latency_ms=round((clock.monotonic() - started) * 1000),
            attempts=attempts.count,
            clock=clock,
        )
        raise
    latency_ms = round((clock.monotonic() - started) * 1000)
    finished = oplog.finish_statement(
        operation_id,
        status="success",
        now=clock.now(),
        latency_ms=latency_ms,
        attempts=attempts.count,
        response_bytes=response_size(value),
    )
    if breaker.learns_from_success(permit):
        with tenant_batch(record.user_id, [finished]) as (conn, _):
            breaker.record_success(conn, permit, clock.now())
    else:
        tenant_statements(record.user_id, [finished])
    _emit(record, latency_ms, failed=False)
    return Outcome(value, operation_id, latency_ms, attempts.count)


def _admit(
    upstream: Upstream, record: OperationRecord, clock: Clock, *, lease_s: float
) -> tuple[UUID, breaker.Permit]:
    now = clock.now()
    operation_id = uuid.uuid4()
    call = limits.count(
        user_id=record.user_id,
        server=upstream.key,
        limits=upstream.limits.rate_limits,
        now=now,
        server_name=upstream.server_name,
    )
    statements = [
        call.statement,
        breaker.state_statement(upstream.key),
        # Rolled back with the rest if the call is refused.
        oplog.start_statement(record, now=now, operation_id=operation_id),
    ]
    try:
        with tenant_batch(record.user_id, statements) as (conn, (counted, circuit, _)):
            limits.settle(conn, call, counted)
            # A half-open trial slot is held no longer than the call can last.
            permit = breaker.before_call(
                conn,
                upstream.key,
                upstream.limits.circuit_breaker,
                now,
                trial_lease_seconds=lease_s,
                server_name=upstream.server_name,
                caller=None if upstream.owner is not None else rate_windows.subject_digest(record.user_id),
                read=circuit,
            )
    except (RateLimited, ServiceUnavailable) as exc:
        _reject(record, clock, exc)
    return operation_id, permit


def _reject(record: OperationRecord, clock: Clock, error: DomainError) -> NoReturn:
    """Log the refusal (its own transaction: the admission's was rolled back) and raise it."""
    operation_id = uuid.uuid4()
    now = clock.now()
    tenant_statements(
        record.user_id,
        [
            oplog.start_statement(record, now=now, operation_id=operation_id),
            oplog.finish_statement(operation_id, status="rejected", now=now, error_code=error.code),
        ],
    )
    logger.info("mcp operation rejected", extra={"server": record.server_name, "error_code": error.code})
    _emit(record, None, failed=True)
    raise error


def _record_failure(
    upstream: Upstream,
    *,
    record: OperationRecord,
    operation_id: UUID,
    permit: breaker.Permit,
    error: DomainError,
    latency_ms: int,
    attempts: int,
    clock: Clock,
) -> None:
    finished = oplog.finish_statement(
        operation_id,
        status="error",
        now=clock.now(),
        latency_ms=latency_ms,
        attempts=attempts,
        error_code=error.code,
        error_message=error.message,
    )
    with tenant_batch(record.user_id, [finished]) as (conn, _):
        counted, witness = _breaker_failure(upstream, record, error)
        if counted:
            breaker.record_failure(conn, permit, clock.now(), witness=witness)
        else:
            breaker.record_success(conn, permit, clock.now())
    logger.warning(
        "mcp operation failed",
        extra={
            "server": upstream.server_name,
            "tool": record.tool,
            "error_code": error.code,
            "attempts": attempts,
        },
    )
    _emit(record, latency_ms, failed=True)


def _breaker_failure(
    upstream: Upstream, record: OperationRecord, error: DomainError
) -> tuple[bool, str | None]:
    """Whether ``error`` counts against the call's breaker, and the witness it needs, if any."""
    if upstream.owner is not None:
        # The user's own breaker: their failures count as they always have, each on its own.
        return error.code in _BREAKER_FAILURES, None
    fault = error.fault if isinstance(error, McpUpstreamError | McpTimeout) else "request"
    if fault == "request":
        return False, None
    if fault == "unreachable":
        return True, None
    return True, rate_windows.subject_digest(record.user_id)


def _dimensions(record: OperationRecord) -> dict[str, str]:
    if record.server_name in config.get_mcp_config().servers:
        # A registry server's tools are its own, not its callers': a small set.
        return {"server": record.server_name, "tool": record.tool or record.operation}
    return {"server": CUSTOM_DIMENSION, "tool": OTHER_DIMENSION if record.tool else record.operation}


def _emit(record: OperationRecord, latency_ms: int | None, *, failed: bool) -> None:
    dimensions = _dimensions(record)
    points: list[MetricPoint] = [(MetricName.MCP_OPERATIONS, MetricUnit.Count, 1)]
    if latency_ms is not None:
        points.append((MetricName.MCP_OPERATION_DURATION, MetricUnit.Milliseconds, latency_ms))
    if failed:
        points.append((MetricName.MCP_ERRORS, MetricUnit.Count, 1))
    emit_with_dimensions(points, dimensions)
