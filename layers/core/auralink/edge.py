"""The HTTP edge every function behind API Gateway shares, whoever answers the request.

The API functions answer through Powertools' resolver (`auralink.http`), the hosted MCP servers
through the MCP SDK (`auralink.mcp.hosted.app`). Both read the same payload format 2.0 events
under the same limits, so what does not depend on who answers lives here, once:

- the status of each domain error (a code has one status, whichever edge answers it);
- the request body as sent (base64-decoded when API Gateway encoded it) and its size limit;
- the API's own public URL and the time left to answer;
- the decorator stack of every entry point (logger with correlation id, metrics, a trace span).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from auralink import errors, tracing
from auralink.mcp import session_pool
from auralink.observability import logger, metrics
from auralink.settings import get_settings

LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# The functions' Timeout in the template: one second under HTTP API's 30 s integration limit, so
# that a function gives its own answer before API Gateway gives up. A request served without a
# Lambda context (a test, a direct call) gets as much.
API_GATEWAY_LIMIT_MS = 29_000

# Most specific class first: the first match wins.
_STATUS_BY_ERROR: tuple[tuple[type[errors.DomainError], HTTPStatus], ...] = (
    (errors.BadRequest, HTTPStatus.BAD_REQUEST),
    (errors.Unauthorized, HTTPStatus.UNAUTHORIZED),
    (errors.Forbidden, HTTPStatus.FORBIDDEN),
    (errors.NotFound, HTTPStatus.NOT_FOUND),
    (errors.Conflict, HTTPStatus.CONFLICT),
    (errors.PayloadTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (errors.UnsupportedMediaType, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (errors.ValidationFailed, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.RateLimited, HTTPStatus.TOO_MANY_REQUESTS),
    (errors.UpstreamTimeout, HTTPStatus.GATEWAY_TIMEOUT),
    (errors.UpstreamError, HTTPStatus.BAD_GATEWAY),
    (errors.ServiceUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
    (errors.DecryptionError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.ConfigurationError, HTTPStatus.INTERNAL_SERVER_ERROR),
)


def status_for(error_class: type[errors.DomainError]) -> HTTPStatus:
    """The one HTTP status of a domain error class."""
    for domain_class, status in _STATUS_BY_ERROR:
        if issubclass(error_class, domain_class):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def retry_after_header(error: errors.DomainError) -> dict[str, str]:
    """``Retry-After`` in whole seconds, for the errors that know when to retry."""
    seconds = getattr(error, "retry_after_seconds", None)
    return {"Retry-After": str(seconds)} if isinstance(seconds, int) else {}


def request_body(event: Mapping[str, Any]) -> bytes:
    """The request body as the client sent it: `PayloadTooLarge` past ``MAX_BODY_BYTES``.

    API Gateway sends a body whose content type is not text base64-encoded; the limit applies to
    the body, not to its encoding. A body that is neither (a malformed event) is a `BadRequest`.
    """
    raw = event.get("body") or ""
    if not isinstance(raw, str):
        raise errors.BadRequest("The request body cannot be read", code="invalid_body")
    limit = get_settings().max_body_bytes
    if event.get("isBase64Encoded"):
        # Refused before decoding: 4 characters of base64 carry 3 bytes.
        if (len(raw) - raw.count("=")) * 3 // 4 > limit:
            raise _too_large(limit)
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise errors.BadRequest("The request body cannot be read", code="invalid_body") from None
    else:
        if len(raw) > limit:  # at least one byte per character: no need to encode to know
            raise _too_large(limit)
        # A lone surrogate cannot be UTF-8: kept as is, it fails the UTF-8 check of whoever reads it.
        body = raw.encode("utf-8", "surrogatepass")
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> errors.PayloadTooLarge:
    return errors.PayloadTooLarge(f"The request body exceeds {limit} bytes")


def api_base_url(event: Mapping[str, Any]) -> str | None:
    """The API's own public URL: configured, else the domain the request came in on."""
    configured = get_settings().public_api_url
    if configured:
        return configured
    domain = (event.get("requestContext") or {}).get("domainName")
    return f"https://{domain}" if domain else None


def remaining_ms(context: LambdaContext | None) -> int:
    """What is left of the invocation's time."""
    if context is None:
        return API_GATEWAY_LIMIT_MS
    return max(0, int(context.get_remaining_time_in_millis()))


def entry_point(serve: LambdaHandler) -> LambdaHandler:
    """The Lambda entry point of a function behind API Gateway: ``serve`` under the service's one
    decorator stack (logs with the request's correlation id, metrics flushed, one span)."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        method, declared = route_of(event)
        route = declared or "$default"
        attributes = {
            "faas.name": getattr(context, "function_name", None),
            "faas.trigger": "http",
            "http.request.method": method,
            "http.route": route,
        }
        with tracing.invocation(f"{method} {route}", attributes=attributes) as span:
            with session_pool.kept_warm():
                response = serve(event, context)
            status = response.get("statusCode") if isinstance(response, dict) else None
            if isinstance(status, int):
                tracing.set_attributes(span, {"http.response.status_code": status})
                if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
                    tracing.fail(span, f"http_{status}")
            return response

    handler: LambdaHandler = lambda_handler
    return handler


def route_of(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """The request's method and its route's path as the template declares it (``/connections/{id}``,
    never the ids in the path, whatever base path a custom domain maps it under); None for the
    ``$default`` route or a malformed event."""
    method, _, route = str(event.get("routeKey") or "").partition(" ")
    if route:
        return method, route
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or "UNKNOWN"), None
