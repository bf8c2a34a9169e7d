"""The HTTP layer shared by every API function: resolver factory, error map, auth, body limit.

Handlers stay thin: they build their resolver with `make_resolver()`, declare one route and call
one service. Everything an HTTP API needs around that lives here, once:

- one error map from domain exceptions to status codes (bodies carry a stable ``error.code`` and a
  safe message, never a stack, SQL or secret);
- validation errors as 422 with field paths only;
- the caller's identity, verified from the bearer token even though API Gateway's authorizer
  checked it already (defence in depth, and the only check where no issuer is configured);
- a request body size limit and CORS from the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from auralink import errors
from auralink.auth import Identity, identity_from_authorization_header
from auralink.observability import MetricName, MetricUnit, logger, metrics, tracer
from auralink.settings import get_settings

# Most specific class first: the first isinstance match wins.
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

_IDENTITY_KEY = "identity"
_API_GATEWAY_LIMIT_MS = 29_000


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error answer (documented in the OpenAPI document)."""

    error: ErrorDetail


def status_for(error: errors.DomainError) -> HTTPStatus:
    for error_class, status in _STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    request_id = logger.get_correlation_id()
    if request_id:
        body["request_id"] = request_id
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": body},
        headers=headers,
    )


def _domain_error(error: errors.DomainError) -> Response[dict[str, Any]]:
    status = status_for(error)
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(error, errors.Unauthorized):
        headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{error.code}"'
        metrics.add_metric(name=MetricName.AUTH_FAILURES, unit=MetricUnit.Count, value=1)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.error("request failed", extra={"error_code": error.code, "status": int(status)})
        message = error.message if status != HTTPStatus.INTERNAL_SERVER_ERROR else "Internal error"
    else:
        logger.info("request rejected", extra={"error_code": error.code, "status": int(status)})
        message = error.message
    return error_response(status, error.code, message, details=error.details, headers=headers or None)


def _validation_error(error: RequestValidationError) -> Response[dict[str, Any]]:
    # Field paths and messages only: never echo the input, which may hold a credential.
    details = [
        {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY, "validation_failed", "Request validation failed", details=details
    )


def _unhandled_error(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    metrics.add_metric(name=MetricName.UNHANDLED_ERRORS, unit=MetricUnit.Count, value=1)
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Internal error")


def _cors() -> CORSConfig | None:
    origins = get_settings().cors_allow_origins
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        max_age=600,
    )


def _check_body(app: APIGatewayHttpResolver) -> None:
    body = app.current_event.body
    limit = get_settings().max_body_bytes
    if body is not None and len(body) > limit:
        raise errors.PayloadTooLarge(f"Request body exceeds {limit} bytes")
    if body:
        # The API speaks JSON only; a form body would otherwise be parsed into nonsense fields.
        media_type = (app.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise errors.UnsupportedMediaType(
                "Send the request body as JSON with Content-Type: application/json"
            )


def _checks_first(app: APIGatewayHttpResolver, *, public: bool) -> None:
    """Run the body checks and authentication before Powertools' request validation.

    Powertools puts its validation first in every route's middleware stack; a stranger would then
    learn the shape of a route's body (422) before being told to authenticate (401), and a form
    body would be parsed before being refused. The checks wrap the validation middleware instead.
    """
    validation = app._request_validation_middleware

    def checked(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        _check_body(app)
        if public:
            return validation(app, next_middleware)
        identity = identity_from_authorization_header(app.current_event.headers.get("authorization"))
        logger.append_keys(user_id=identity.sub)
        app.append_context(**{_IDENTITY_KEY: identity})  # type: ignore[no-untyped-call]
        try:
            return validation(app, next_middleware)
        finally:
            logger.remove_keys(["user_id"])

    app._request_validation_middleware = checked  # type: ignore[assignment]  # any middleware callable


def make_resolver(*, public: bool = False) -> APIGatewayHttpResolver:
    """A resolver for one API function; ``public`` routes skip authentication (only /health)."""
    app = APIGatewayHttpResolver(enable_validation=True, cors=_cors())
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(errors.DomainError)(_domain_error)
    app.exception_handler(Exception)(_unhandled_error)

    @app.not_found
    def _not_found(_: Exception) -> Response[dict[str, Any]]:
        return error_response(HTTPStatus.NOT_FOUND, "route_not_found", "No such route")

    _checks_first(app, public=public)
    return app


def api_base_url(app: APIGatewayHttpResolver) -> str | None:
    """The API's own public URL: configured, else the domain the request came in on."""
    configured = get_settings().public_api_url
    if configured:
        return configured
    domain = app.current_event.request_context.domain_name
    return f"https://{domain}" if domain else None


def remaining_ms(app: APIGatewayHttpResolver) -> int:
    """What is left of the invocation's time (API Gateway itself gives up at 30 s)."""
    context = app.lambda_context
    return int(context.get_remaining_time_in_millis()) if context is not None else _API_GATEWAY_LIMIT_MS


def current_identity(app: APIGatewayHttpResolver) -> Identity:
    """The verified caller of the request being handled."""
    identity = app.context.get(_IDENTITY_KEY)
    if not isinstance(identity, Identity):
        raise errors.Unauthorized("Authentication required", code="token_missing")
    return identity


LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_handler_for(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The entry point of an API function: its resolver under the service's one decorator stack."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    handler: LambdaHandler = lambda_handler
    return handler
