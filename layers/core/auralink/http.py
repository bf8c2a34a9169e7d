"""The HTTP layer shared by every API function: resolver factory, error answers, auth, the body.

Handlers stay thin: they build their resolver with `make_resolver()`, declare one route and call
one service. Everything an HTTP API needs around that lives here, once (what the hosted MCP
servers share with it lives in `auralink.edge`):

- every error answered as JSON with a stable ``error.code`` and a safe message, never a stack,
  SQL or secret; a domain error's status is `auralink.edge.status_for`'s; the body's shape is
  the product's (`product_error_body`) unless a resolver is given another (`ErrorFormat`: the
  OpenAI-compatible routes answer OpenAI's), with the same status and code either way;
- the body read once: at most ``MAX_BODY_BYTES`` (413), JSON only (415), UTF-8 text holding one
  JSON value the service can store (400 ``invalid_json``, `auralink.request_json`), then
  validated against the route's model (422 with field paths only);
- the caller's identity, verified from the bearer token even though API Gateway's authorizer
  checked it already (defence in depth, and the only check where no issuer is configured);
- a route asked with a method it does not have is 405 with ``Allow``, an unknown route 404;
- CORS from the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from auralink import edge, errors, run_tokens
from auralink.auth import Identity, identity_from_authorization_header
from auralink.edge import LambdaHandler
from auralink.model import DeferredModel
from auralink.observability import MetricName, MetricUnit, logger, metrics
from auralink.request_json import parse_json
from auralink.settings import get_settings

_IDENTITY_KEY = "identity"


class ErrorDetail(DeferredModel):
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorResponse(DeferredModel):
    """The body of every error answer of the product's own routes (documented in the OpenAPI document)."""

    error: ErrorDetail


@dataclass(frozen=True)
class ErrorAnswer:
    """What an error answer says, before it takes a route's shape."""

    status: HTTPStatus
    code: str
    message: str
    details: Any = None
    request_id: str | None = None
    # Whether the same request may succeed later; None where the error does not say.
    retryable: bool | None = None


# The body and the headers of an error answer (besides those every error answer gets).
ErrorFormat = Callable[[ErrorAnswer], tuple[dict[str, Any], dict[str, str]]]


def product_error_body(answer: ErrorAnswer) -> tuple[dict[str, Any], dict[str, str]]:
    """`ErrorResponse`: the shape of every error answer of the product's own routes."""
    body: dict[str, Any] = {"code": answer.code, "message": answer.message}
    if answer.details is not None:
        body["details"] = answer.details
    if answer.request_id:
        body["request_id"] = answer.request_id
    return {"error": body}, {}


def error_response(
    status: HTTPStatus,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
    retryable: bool | None = None,
    error_format: ErrorFormat = product_error_body,
) -> Response[dict[str, Any]]:
    answer = ErrorAnswer(
        status=status,
        code=code,
        message=message,
        details=details,
        request_id=logger.get_correlation_id() or None,
        retryable=retryable,
    )
    body, extra_headers = error_format(answer)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={**(headers or {}), **extra_headers} or None,
    )


def _domain_error(error: errors.DomainError, *, error_format: ErrorFormat) -> Response[dict[str, Any]]:
    status = edge.status_for(type(error))
    headers = edge.retry_after_header(error)
    if isinstance(error, errors.Unauthorized):
        headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{error.code}"'
        metrics.add_metric(name=MetricName.AUTH_FAILURES, unit=MetricUnit.Count, value=1)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.error("request failed", extra={"error_code": error.code, "status": int(status)})
        message = error.message if status != HTTPStatus.INTERNAL_SERVER_ERROR else "Internal error"
    else:
        logger.info("request rejected", extra={"error_code": error.code, "status": int(status)})
        message = error.message
    retryable = getattr(error, "retryable", None)
    return error_response(
        status,
        error.code,
        message,
        details=error.details,
        headers=headers or None,
        retryable=retryable if isinstance(retryable, bool) else None,
        error_format=error_format,
    )


def _validation_error(
    error: RequestValidationError, *, error_format: ErrorFormat
) -> Response[dict[str, Any]]:
    # Field paths and messages only: never echo the input, which may hold a credential.
    details = [
        {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in error.errors()
    ]
    return error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "validation_failed",
        "Request validation failed",
        details=details,
        error_format=error_format,
    )


def _unhandled_error(error: Exception, *, error_format: ErrorFormat) -> Response[dict[str, Any]]:
    logger.exception("unhandled error")
    metrics.add_metric(name=MetricName.UNHANDLED_ERRORS, unit=MetricUnit.Count, value=1)
    return error_response(
        HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Internal error", error_format=error_format
    )


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


def _media_type(app: APIGatewayHttpResolver) -> str:
    return (app.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()


def _read_body(app: APIGatewayHttpResolver) -> None:
    """Read the body once, before anything else looks at it, and hand Powertools its JSON value.

    Powertools would decode a base64 body without a size check and with an unchecked UTF-8
    decode (a body that is not UTF-8 would be a 500), and would parse what the service cannot
    hold (see `auralink.request_json`).
    """
    body = edge.request_body(app.current_event.raw_event)
    if not body:
        return
    # The API speaks JSON only; a form body would otherwise be parsed into nonsense fields.
    media_type = _media_type(app)
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise errors.UnsupportedMediaType("Send the request body as JSON with Content-Type: application/json")
    # Set where Powertools' cached property would keep what it parsed: it reads this value.
    app.current_event.json_body = parse_json(body)


class _RequestChecks(OpenAPIRequestValidationMiddleware):
    """The body and the caller checked first, then Powertools' validation of the route's input.

    Powertools puts its validation first in every route's middleware stack; a stranger would then
    learn the shape of a route's body (422) before being told to authenticate (401), and a form
    body would be parsed before being refused. This middleware takes its place in the stack.
    """

    def __init__(self, *, public: bool, run_tokens: bool) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
        self._public = public
        self._run_tokens = run_tokens

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        assert isinstance(app, APIGatewayHttpResolver)
        _read_body(app)
        if self._public:
            return super().handler(app, next_middleware)
        header = app.current_event.headers.get("authorization")
        if self._run_tokens:
            identity = run_tokens.identity_from_authorization_header(header)
        else:
            identity = identity_from_authorization_header(header)
        logger.append_keys(user_id=identity.sub)
        app.append_context(**{_IDENTITY_KEY: identity})  # type: ignore[no-untyped-call]
        try:
            return super().handler(app, next_middleware)
        finally:
            logger.remove_keys(["user_id"])

    def _get_body(self, app: EventHandlerInstance) -> Any:
        # Read and parsed by `_read_body`, whatever the JSON media type's spelling: Powertools'
        # own dispatch knows only "application/json" as written and fails on the others.
        return app.current_event.json_body


def make_resolver(
    *, public: bool = False, run_tokens: bool = False, error_format: ErrorFormat = product_error_body
) -> APIGatewayHttpResolver:
    """A resolver for one API function; ``public`` routes skip authentication (only /health);
    ``run_tokens`` routes also accept a run-scoped token (the surfaces a run's framework calls).
    ``error_format`` shapes the body of its error answers; statuses and codes stay the product's."""
    app = APIGatewayHttpResolver(enable_validation=True, cors=_cors())
    app.exception_handler(RequestValidationError)(partial(_validation_error, error_format=error_format))
    app.exception_handler(errors.DomainError)(partial(_domain_error, error_format=error_format))
    app.exception_handler(Exception)(partial(_unhandled_error, error_format=error_format))

    @app.not_found
    def _not_found(_: Exception) -> Response[dict[str, Any]]:
        return _no_route(app, error_format)

    # Where Powertools looks for its request validation when it builds each route's stack.
    app._request_validation_middleware = _RequestChecks(public=public, run_tokens=run_tokens)
    return app


def _no_route(app: APIGatewayHttpResolver, error_format: ErrorFormat) -> Response[dict[str, Any]]:
    # Powertools answers every miss through its not-found handler, a known path asked with
    # another method included; HTTP's answer to that is 405 with the methods the path has.
    path = app.current_event.path
    routes = [*app._static_routes, *app._dynamic_routes]
    allowed = sorted({route.method for route in routes if route.rule.match(path)})
    if allowed:
        method = app.current_event.http_method.upper()
        return error_response(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            f"{path} does not answer {method}",
            headers={"Allow": ", ".join(allowed)},
            error_format=error_format,
        )
    return error_response(HTTPStatus.NOT_FOUND, "route_not_found", "No such route", error_format=error_format)


def api_base_url(app: APIGatewayHttpResolver) -> str | None:
    """The API's own public URL: configured, else the domain the request came in on."""
    return edge.api_base_url(app.current_event.raw_event)


def remaining_ms(app: APIGatewayHttpResolver) -> int:
    """What is left of the invocation's time."""
    return edge.remaining_ms(app.lambda_context)


def current_identity(app: APIGatewayHttpResolver) -> Identity:
    """The verified caller of the request being handled."""
    identity = app.context.get(_IDENTITY_KEY)
    if not isinstance(identity, Identity):
        raise errors.Unauthorized("Authentication required", code="token_missing")
    return identity


def caller_if_any(app: APIGatewayHttpResolver) -> Identity | None:
    """On a public route: the verified caller when the request carries a token, None when it
    carries none. A token that does not verify is refused (401), never read as "no caller"."""
    header = app.current_event.headers.get("authorization")
    return None if header is None else identity_from_authorization_header(header)


def lambda_handler_for(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The entry point of an API function: its resolver under the service's one decorator stack."""
    return edge.entry_point(app.resolve)
