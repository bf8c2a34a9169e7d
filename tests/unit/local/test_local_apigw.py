"""API Gateway emulation without a server: route selection, payload 2.0 events, responses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from auralink.errors import Unauthorized
from infra.local.apigw import (
    MAX_BODY_BYTES,
    Gateway,
    IncomingRequest,
    bearer_token,
    build_event,
    response_from_result,
)
from infra.local.lambdas import FunctionError, TooManyRequests
from infra.local.routes import RouteMatch, RouteTable
from infra.template import HttpRoute


def route(method: str, path: str, function_id: str = "Fn", *, public: bool = False) -> HttpRoute:
    return HttpRoute(function_id=function_id, event_name="Api", method=method, path=path, public=public)


TABLE = RouteTable(
    [
        route("GET", "/pets/dog", "Exact"),
        route("GET", "/pets/{id}", "Param"),
        route("ANY", "/pets/{id}", "AnyParam"),
        route("GET", "/pets/{proxy+}", "Greedy"),
        route("ANY", "/{proxy+}", "Catchall"),
        route("GET", "/owners/{owner}/pets/{pet}", "Nested"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function_id", "parameters"),
    [
        ("GET", "/pets/dog", "Exact", {}),
        ("GET", "/pets/cat", "Param", {"id": "cat"}),
        ("DELETE", "/pets/cat", "AnyParam", {"id": "cat"}),
        ("GET", "/pets/cat/toys", "Greedy", {"proxy": "cat/toys"}),
        ("POST", "/pets/cat/toys", "Catchall", {"proxy": "pets/cat/toys"}),
        ("GET", "/owners/ann/pets/rex", "Nested", {"owner": "ann", "pet": "rex"}),
        ("GET", "/pets/two%20words", "Param", {"id": "two words"}),
    ],
)
def test_most_specific_route_wins(
    method: str, path: str, function_id: str, parameters: dict[str, str]
) -> None:
    match = TABLE.match(method, path)

    assert match is not None
    assert match.route.function_id == function_id
    assert match.path_parameters == parameters


def test_no_route_for_unknown_path_or_method() -> None:
    table = RouteTable([route("GET", "/health"), route("POST", "/items/{id}")])

    assert table.match("GET", "/nope") is None
    assert table.match("POST", "/health") is None
    assert table.match("POST", "/items/") is None  # a path parameter is never empty
    assert table.match("POST", "/items/1/extra") is None


def test_greedy_parameter_needs_a_segment() -> None:
    table = RouteTable([route("ANY", "/files/{proxy+}")])

    assert table.match("GET", "/files/") is None
    assert table.match("GET", "/files") is None


def test_default_route_catches_what_nothing_else_matches() -> None:
    table = RouteTable([route("GET", "/health", "Health"), route("ANY", "$default", "Default")])

    assert table.match("GET", "/health").route.function_id == "Health"  # type: ignore[union-attr]
    fallback = table.match("PUT", "/anything/at/all")
    assert fallback is not None
    assert fallback.route_key == "$default"


def test_payload_format_1_routes_are_skipped() -> None:
    old = HttpRoute("Fn", "Api", "GET", "/old", public=True, payload_format_version="1.0")

    assert RouteTable([old]).match("GET", "/old") is None


def make_request(**overrides: Any) -> IncomingRequest:
    values: dict[str, Any] = {
        "method": "POST",
        "target": "/pets/cat?color=black&tag=a&tag=b&empty=",
        "headers": [
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "pytest"),
            ("Content-Type", "application/json"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "session=abc; theme=dark"),
        ],
        "body": b'{"name": "Tom"}',
        "source_ip": "127.0.0.1",
    }
    values.update(overrides)
    return IncomingRequest(**values)


def test_event_has_the_payload_2_shape() -> None:
    request = make_request()
    match = RouteMatch(route("POST", "/pets/{id}"), {"id": "cat"})

    event = build_event(request, match, claims={"sub": "alice", "exp": 123, "scope": "read write"})

    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /pets/{id}"
    assert event["rawPath"] == "/pets/cat"
    assert event["rawQueryString"] == "color=black&tag=a&tag=b&empty="
    assert event["queryStringParameters"] == {"color": "black", "tag": "a,b", "empty": ""}
    assert event["pathParameters"] == {"id": "cat"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"name": "Tom"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["routeKey"] == "POST /pets/{id}"
    assert context["http"] == {
        "method": "POST",
        "path": "/pets/cat",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "pytest",
    }
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["accountId"] and context["apiId"] and context["requestId"]
    assert isinstance(context["timeEpoch"], int)
    assert context["authorizer"]["jwt"] == {
        "claims": {"sub": "alice", "exp": "123", "scope": "read write"},
        "scopes": ["read", "write"],
    }


def test_event_without_body_query_or_parameters_omits_them() -> None:
    request = make_request(method="GET", target="/health", headers=[("Host", "h")], body=b"")

    event = build_event(request, RouteMatch(route("GET", "/health", public=True), {}))

    for key in ("body", "queryStringParameters", "pathParameters", "cookies"):
        assert key not in event
    assert event["isBase64Encoded"] is False
    assert "authorizer" not in event["requestContext"]


def test_binary_body_is_base64_encoded() -> None:
    payload = bytes(range(256))
    request = make_request(headers=[("Content-Type", "application/octet-stream")], body=payload)

    event = build_event(request, RouteMatch(route("POST", "/pets/{id}"), {"id": "cat"}))

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_structured_result_becomes_the_response() -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-One": "1"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": '{"ok": true}',
        "isBase64Encoded": False,
    }

    response = response_from_result(result)

    assert response.status == 201
    assert ("X-One", "1") in response.headers
    assert [value for name, value in response.headers if name == "X-Many"] == ["a", "b"]
    assert [value for name, value in response.headers if name == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    assert json.loads(response.body) == {"ok": True}


def test_base64_result_is_decoded() -> None:
    response = response_from_result(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    )

    assert response.body == b"\x00\x01"


@pytest.mark.parametrize(
    ("result", "body"),
    [({"hello": "world"}, b'{"hello": "world"}'), ("plain", b"plain"), ([1, 2], b"[1, 2]")],
)
def test_bare_result_is_200_json(result: Any, body: bytes) -> None:
    response = response_from_result(result)

    assert response.status == 200
    assert ("Content-Type", "application/json") in response.headers
    assert response.body == body


@pytest.mark.parametrize(
    "header", ["Bearer abc.def.ghi", "bearer abc.def.ghi", "abc.def.ghi", "  Bearer   abc.def.ghi "]
)
def test_bearer_prefix_is_optional(header: str) -> None:
    assert bearer_token(header) == "abc.def.ghi"


@pytest.mark.parametrize("header", [None, "", "Bearer ", "   "])
def test_missing_token_is_unauthorized(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        bearer_token(header)


class Recorder:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.result = result if result is not None else {"statusCode": 200, "body": "ok"}
        self.error = error

    def __call__(self, function_id: str, event: dict[str, Any]) -> Any:
        self.calls.append((function_id, event))
        if self.error is not None:
            raise self.error
        return self.result


def refuse_everything(header: str | None) -> dict[str, Any]:
    raise Unauthorized("no", code="token_invalid_signature")


def accept_alice(header: str | None) -> dict[str, Any]:
    return {"sub": "alice"}


def gateway(invoke: Recorder, authorizer: Any = accept_alice) -> Gateway:
    routes = RouteTable([route("GET", "/health", "Health", public=True), route("GET", "/api/v1/me", "Me")])
    return Gateway(routes, invoke, authorizer, cors_origins=["http://localhost:3000"])


def test_private_route_refused_before_the_function_runs() -> None:
    invoke = Recorder()

    response = gateway(invoke, refuse_everything).handle(make_request(method="GET", target="/api/v1/me"))

    assert response.status == 401
    assert json.loads(response.body) == {"message": "Unauthorized"}
    assert invoke.calls == []


def test_public_route_skips_the_authorizer() -> None:
    invoke = Recorder()

    response = gateway(invoke, refuse_everything).handle(make_request(method="GET", target="/health"))

    assert response.status == 200
    assert invoke.calls[0][0] == "Health"


def test_authorized_event_carries_the_claims() -> None:
    invoke = Recorder()

    gateway(invoke).handle(make_request(method="GET", target="/api/v1/me"))

    assert invoke.calls[0][1]["requestContext"]["authorizer"]["jwt"]["claims"] == {"sub": "alice"}


def test_unknown_route_and_failing_function_answer_like_api_gateway() -> None:
    invoke = Recorder(error=FunctionError({"errorType": "Sandbox.Timedout", "errorMessage": "late"}))
    api = gateway(invoke)

    missing = api.handle(make_request(method="GET", target="/nowhere"))
    unknown_method = api.handle(make_request(method="TRACE", target="/health"))
    failing = api.handle(make_request(method="GET", target="/health"))

    assert (missing.status, json.loads(missing.body)) == (404, {"message": "Not Found"})
    assert (unknown_method.status, json.loads(unknown_method.body)) == (404, {"message": "Not Found"})
    assert (failing.status, json.loads(failing.body)) == (500, {"message": "Internal Server Error"})


def test_a_throttled_function_answers_429() -> None:
    api = gateway(Recorder(error=TooManyRequests("at its limit")))

    response = api.handle(make_request(method="GET", target="/health"))

    assert (response.status, json.loads(response.body)) == (429, {"message": "Too Many Requests"})


@pytest.mark.parametrize(
    "result", [{"statusCode": "two hundred"}, {"statusCode": 200, "body": "%%", "isBase64Encoded": True}]
)
def test_a_result_api_gateway_cannot_read_answers_500(result: dict[str, Any]) -> None:
    response = gateway(Recorder(result=result)).handle(make_request(method="GET", target="/health"))

    assert (response.status, json.loads(response.body)) == (500, {"message": "Internal Server Error"})


def test_preflight_is_answered_for_allowed_origins_only() -> None:
    invoke = Recorder()
    api = gateway(invoke)
    headers = [("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "GET")]

    allowed = api.handle(make_request(method="OPTIONS", target="/api/v1/me", headers=headers))
    other = api.handle(
        make_request(method="OPTIONS", target="/api/v1/me", headers=[("Origin", "http://evil.test")])
    )

    assert allowed.status == 204
    assert ("Access-Control-Allow-Origin", "http://localhost:3000") in allowed.headers
    assert other.status == 204
    assert not any(name.startswith("Access-Control") for name, _ in other.headers)
    assert invoke.calls == []


def test_body_limit_is_api_gateways() -> None:
    assert MAX_BODY_BYTES == 10 * 1024 * 1024
