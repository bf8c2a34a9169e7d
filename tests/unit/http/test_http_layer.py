"""The shared HTTP layer: error map, validation, auth, body limit and CORS, through a real resolver."""

import base64
import json
import time
from datetime import UTC, datetime

import boto3
import jwt
import pytest
from moto import mock_aws
from pydantic import BaseModel

from auralink import errors
from auralink.http import current_identity, make_resolver
from auralink.llm.errors import LlmUpstreamError
from auralink.llm.providers.http import retry_after_seconds
from auralink.request_json import parse_json
from tests.support import environment

SECRET = "unit-test-jwt-secret-0123456789-0123456789-0123456789-0123456789"
ISSUER = "https://issuer.example"
AUDIENCE = "auralink-api"


@pytest.fixture
def env(service_environment):
    environment.apply(
        service_environment,
        AUTH_ISSUER=ISSUER,
        AUTH_AUDIENCE=AUDIENCE,
        AUTH_JWT_SECRET_ID="jwt-secret",
        MAX_BODY_BYTES="2048",
        CORS_ALLOW_ORIGINS="https://app.example,https://admin.example",
    )
    with mock_aws():
        boto3.client("secretsmanager").create_secret(Name="jwt-secret", SecretString=SECRET)
        yield


class Greeting(BaseModel):
    name: str
    times: int = 1


@pytest.fixture
def app(env):
    app = make_resolver()

    @app.post("/greet")
    def greet(body: Greeting) -> dict:
        return {"hello": body.name, "by": current_identity(app).sub}

    @app.get("/missing")
    def missing() -> dict:
        raise errors.NotFound("Connection not found", code="connection_not_found")

    @app.get("/limited")
    def limited() -> dict:
        raise errors.RateLimited("Slow down", retry_after_seconds=7)

    @app.get("/llm-limited")
    def llm_limited() -> dict:
        hint = retry_after_seconds({"retry-after-ms": "1500"}, None, now=datetime.now(UTC))
        raise LlmUpstreamError("429", code="llm_rate_limited", retry_after_seconds=hint)

    @app.get("/crash")
    def crash() -> dict:
        raise RuntimeError("password=hunter2 in a stack")

    @app.get("/broken-config")
    def broken_config() -> dict:
        raise errors.ConfigurationError("secret db-owner is unavailable")

    return app


def token(**overrides):
    claims = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 3600,
        "email": "a@x.io",
    }
    claims.update(overrides)
    return jwt.encode(claims, SECRET, algorithm="HS256")


def event(method, path, *, body=None, headers=None):
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "authorization": f"Bearer {token()}",
            "content-type": "application/json",
            **(headers or {}),
        },
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def call(app, *args, **kwargs):
    response = app.resolve(event(*args, **kwargs), None)
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def test_a_valid_request_reaches_the_route_with_the_identity(app):
    status, body, _ = call(app, "POST", "/greet", body=json.dumps({"name": "Ada"}))
    assert status == 200
    assert body == {"hello": "Ada", "by": "alice"}


def test_validation_errors_are_422_with_field_paths_and_no_input_echo(app):
    status, body, _ = call(app, "POST", "/greet", body=json.dumps({"times": "x", "secret": "sk-live-1"}))
    assert status == 422
    assert body["error"]["code"] == "validation_failed"
    fields = {item["field"] for item in body["error"]["details"]}
    assert fields == {"body.name", "body.times"}
    assert "sk-live-1" not in json.dumps(body)


def encoded(raw: bytes) -> dict:
    """How API Gateway hands over a body it does not take for text: base64."""
    return {"body": base64.b64encode(raw).decode("ascii"), "isBase64Encoded": True}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"body": "{not json"}, "Expecting property name"),
        ({"body": '{"name": "Ada"} trailing'}, "Extra data"),
        ({"body": '{"name": "Ada", "times": NaN}'}, "NaN is not a JSON number"),
        ({"body": '{"times": -Infinity}'}, "-Infinity is not a JSON number"),
        ({"body": '{"name": "Ada", "x": 1e400}'}, "the number 1e400 is out of range"),
        ({"body": '{"name": "\\ud800"}'}, "lone surrogate"),
        ({"body": "[" * 65 + "]" * 65}, "nested deeper than 64 levels"),
        (encoded(b'{"name": "\xff\xfe"}'), "not UTF-8 text (byte 10)"),
        (encoded('{"name": "Ada"}'.encode("utf-16")), "not UTF-8 text (byte 0)"),
        (encoded(b"\x00\x01\x02binary"), "Expecting value"),
    ],
)
def test_a_body_that_is_not_json_text_is_400_invalid_json(app, changes, reason):
    request = event("POST", "/greet")
    request.update(changes)
    response = app.resolve(request, None)
    body = json.loads(response["body"])
    assert (response["statusCode"], body["error"]["code"]) == (400, "invalid_json")
    assert reason in body["error"]["message"]


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"name": "Ada\u0000"}, "body.name", "holds the NUL character"),
        ({"name": "Ada", "tags": [{"x": ["ok", "\u0000"]}]}, "body.tags.0.x.1", "holds the NUL character"),
        ({"name": "Ada", "extra": {"k\u0000": 1}}, "body.extra", "a key holds the NUL character"),
        ({"name": "Zoë\u0000"}, "body.name", "holds the NUL character"),
    ],
)
def test_a_nul_character_in_a_string_is_422_naming_the_field(app, document, field, message):
    # Postgres stores no text (and no JSON) holding U+0000: refused before anything is stored.
    status, body, _ = call(app, "POST", "/greet", body=json.dumps(document))
    assert (status, body["error"]["code"]) == (422, "validation_failed")
    (detail,) = body["error"]["details"]
    assert (detail["field"], detail["type"]) == (field, "string_nul_character")
    assert message in detail["message"]


def test_an_integer_beyond_what_python_reads_is_invalid_json():
    with pytest.raises(errors.BadRequest, match="Exceeds the limit") as raised:
        parse_json(b'{"x": ' + b"9" * 5000 + b"}")
    assert raised.value.code == "invalid_json"


def test_nesting_beyond_what_the_parser_takes_is_invalid_json_too():
    with pytest.raises(errors.BadRequest, match="nested deeper than 64 levels") as raised:
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    assert raised.value.code == "invalid_json"


def test_nesting_up_to_the_limit_is_read(app):
    # The object is the first level, its "x" the second: 64 in all.
    deep = json.dumps({"name": "Ada", "x": json.loads("[" * 63 + "]" * 63)})
    assert call(app, "POST", "/greet", body=deep)[0] == 200


def test_a_base64_body_is_read_as_the_json_it_carries(app):
    request = event("POST", "/greet")
    request.update(encoded(json.dumps({"name": "Zoë"}).encode()))
    assert json.loads(app.resolve(request, None)["body"]) == {"hello": "Zoë", "by": "alice"}


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/merge-patch+json; charset=utf-8"])
def test_every_spelling_of_a_json_media_type_is_read_as_json(app, content_type):
    status, body, _ = call(
        app, "POST", "/greet", body=json.dumps({"name": "Ada"}), headers={"content-type": content_type}
    )
    assert (status, body) == (200, {"hello": "Ada", "by": "alice"})


def test_a_body_that_is_not_base64_although_flagged_so_is_400(app):
    request = event("POST", "/greet", body="not base64!")
    request["isBase64Encoded"] = True
    response = app.resolve(request, None)
    assert (response["statusCode"], json.loads(response["body"])["error"]["code"]) == (400, "invalid_body")


def test_domain_errors_map_to_their_status_and_stable_code(app):
    assert call(app, "GET", "/missing")[:2] == (
        404,
        {"error": {"code": "connection_not_found", "message": "Connection not found"}},
    )
    status, body, headers = call(app, "GET", "/limited")
    assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "rate_limited", "7")


def test_retry_after_is_whole_seconds(app):
    _, body, headers = call(app, "GET", "/llm-limited")
    assert (body["error"]["code"], headers["Retry-After"]) == ("llm_rate_limited", "2")


def test_internal_errors_leak_nothing(app):
    for path in ("/crash", "/broken-config"):
        status, body, _ = call(app, "GET", path)
        assert status == 500
        assert body["error"]["message"] == "Internal error"
        assert "hunter2" not in json.dumps(body) and "db-owner" not in json.dumps(body)


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "token_missing"),
        ("Basic abc", "token_malformed"),
        ("Bearer not-a-jwt", "token_malformed"),
        (f"Bearer {token(exp=int(time.time()) - 3600)}", "token_expired"),
        (f"Bearer {token(aud='someone-else')}", "token_invalid_audience"),
        (f"Bearer {token(iss='https://evil.example')}", "token_invalid_issuer"),
    ],
)
def test_every_auth_failure_is_a_401_with_a_stable_code(app, authorization, code):
    request = event("GET", "/missing")
    if authorization is None:
        del request["headers"]["authorization"]
    else:
        request["headers"]["authorization"] = authorization
    response = app.resolve(request, None)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == code
    assert "Bearer" in response["headers"]["WWW-Authenticate"]


def test_a_public_resolver_needs_no_token(env):
    public = make_resolver(public=True)

    @public.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    request = event("GET", "/health")
    del request["headers"]["authorization"]
    assert public.resolve(request, None)["statusCode"] == 200


def test_bodies_over_the_limit_are_413(app):
    status, body, _ = call(app, "POST", "/greet", body=json.dumps({"name": "x" * 4096}))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize(
    ("size", "status"),
    [(2048, 200), (2049, 413), (4096, 413)],
)
def test_the_limit_counts_the_bytes_sent_not_their_base64_encoding(app, size, status):
    # Base64 is 4/3 of the body: a body just under the limit must not be refused for its encoding.
    padded = json.dumps({"name": "Ada", "times": 1}).encode()
    raw = padded[:-1] + b" " * (size - len(padded)) + b"}"
    request = event("POST", "/greet")
    request.update(encoded(raw))
    assert app.resolve(request, None)["statusCode"] == status


def test_the_limit_counts_bytes_not_characters(app):
    # 1,500 characters of two bytes each: 3,000 bytes, over the limit of 2,048.
    status, body, _ = call(app, "POST", "/greet", body=json.dumps({"name": "é" * 1500}, ensure_ascii=False))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_unknown_routes_are_404_with_a_code(app):
    status, body, _ = call(app, "GET", "/nowhere")
    assert (status, body["error"]["code"]) == (404, "route_not_found")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "TRACE"])
def test_a_route_asked_with_a_method_it_does_not_have_is_405_in_json(app, method):
    status, body, headers = call(app, method, "/greet")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    assert headers["Allow"] == "POST"


def test_cors_allows_only_the_configured_origins(app):
    _, _, allowed = call(app, "GET", "/missing", headers={"origin": "https://admin.example"})
    assert allowed["Access-Control-Allow-Origin"] == "https://admin.example"
    _, _, refused = call(app, "GET", "/missing", headers={"origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused


def test_bodies_that_are_not_json_are_415(app):
    status, body, _ = call(
        app, "POST", "/greet", body="name=Ada", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    assert "application/json" in body["error"]["message"]


def test_strangers_are_told_to_authenticate_before_anything_about_the_body(app):
    request = event("POST", "/greet", body=json.dumps({"wrong": "shape"}))
    del request["headers"]["authorization"]
    response = app.resolve(request, None)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "token_missing"


def plain_error(answer):
    """An error format of another family of routes: its own body, a header of its own."""
    return {"problem": answer.code, "status": int(answer.status)}, {"x-format": "plain"}


@pytest.fixture
def plain_app(env):
    app = make_resolver(error_format=plain_error)

    @app.post("/greet")
    def greet(body: Greeting) -> dict:
        return {"hello": body.name}

    @app.get("/limited")
    def limited() -> dict:
        raise errors.RateLimited("Slow down", retry_after_seconds=7)

    @app.get("/crash")
    def crash() -> dict:
        raise RuntimeError("password=hunter2 in a stack")

    return app


@pytest.mark.parametrize(
    ("method", "path", "changes", "expected"),
    [
        ("GET", "/limited", {}, (429, "rate_limited")),
        ("POST", "/greet", {"body": json.dumps({"times": 1})}, (422, "validation_failed")),
        ("POST", "/greet", {"body": "{not json"}, (400, "invalid_json")),
        ("GET", "/crash", {}, (500, "internal_error")),
        ("GET", "/nowhere", {}, (404, "route_not_found")),
        ("GET", "/greet", {}, (405, "method_not_allowed")),
        ("GET", "/limited", {"headers": {"authorization": "Bearer nope"}}, (401, "token_malformed")),
    ],
)
def test_a_resolvers_error_format_shapes_every_error_with_the_same_status_and_code(
    plain_app, method, path, changes, expected
):
    request = event(method, path)
    headers = changes.pop("headers", {})
    request["headers"].update(headers)
    request.update(changes)

    response = plain_app.resolve(request, None)

    status, code = expected
    assert response["statusCode"] == status
    assert json.loads(response["body"]) == {"problem": code, "status": status}
    assert response["headers"]["x-format"] == "plain"
    if status == 429:
        assert response["headers"]["Retry-After"] == "7"
    if status == 405:
        assert response["headers"]["Allow"] == "POST"
    if status == 401:
        assert response["headers"]["WWW-Authenticate"].startswith("Bearer")
