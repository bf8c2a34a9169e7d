"""The API over real HTTP against the local runtime: health, identity, and the authorizer's refusals."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from infra.local.apigw import IncomingRequest, build_event
from infra.local.devsecrets import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_secrets
from infra.local.routes import RouteMatch
from infra.local.runtime import LocalRuntime
from infra.local.token import PROJECT_ROOT as ROOT
from infra.local.token import mint_dev_token
from infra.template import HttpRoute

pytestmark = pytest.mark.e2e

UNAUTHORIZED = {"message": "Unauthorized"}


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": DEV_AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return claims


def _dev_signed(**overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), ensure_dev_secrets(ROOT).jwt_secret, algorithm="HS256")


def _unsigned() -> str:
    def part(document: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(_claims())}."


def _expired() -> str:
    now = int(time.time())
    return _dev_signed(iat=now - 7200, exp=now - 3600)


# Case -> (the Authorization header, the error code the function answers with). Built when a
# test asks, so that collecting the tests never touches the development secrets.
BAD_TOKENS: dict[str, tuple[Callable[[], str], str]] = {
    "malformed": (lambda: "Bearer not-a-jwt", "token_malformed"),
    "expired": (lambda: f"Bearer {_expired()}", "token_expired"),
    "wrong audience": (lambda: f"Bearer {_dev_signed(aud='someone-else')}", "token_invalid_audience"),
    "wrong issuer": (lambda: f"Bearer {_dev_signed(iss='https://issuer.example')}", "token_invalid_issuer"),
    "alg none": (lambda: f"Bearer {_unsigned()}", "token_algorithm_not_allowed"),
    "badly signed": (
        lambda: f"Bearer {jwt.encode(_claims(), secrets.token_urlsafe(64), algorithm='HS256')}",
        "token_invalid_signature",
    ),
}


def test_health_is_open_and_reports_status_version_and_schema(api: httpx.Client) -> None:
    response = api.get("/health")
    detailed = api.get("/health", headers={"Authorization": f"Bearer {mint_dev_token('alice')}"})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["details"]) == ("ok", None)
    assert body["schema_version"]
    assert detailed.json()["details"]["database"]["schema_version"] == body["schema_version"]


def test_me_shows_the_tokens_subject(api: httpx.Client) -> None:
    token = mint_dev_token("alice", email="alice@example.com")

    response = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["sub"] == "alice"
    assert response.json()["email"] == "alice@example.com"


def test_me_without_a_token_is_401(api: httpx.Client) -> None:
    response = api.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_authorizer_refuses_bad_tokens_with_a_stable_body(api: httpx.Client, case: str) -> None:
    make_header, _ = BAD_TOKENS[case]

    response = api.get("/api/v1/me", headers={"Authorization": make_header()})

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize("case", ["missing", *BAD_TOKENS])
def test_function_refuses_bad_tokens_itself(local_runtime: LocalRuntime, case: str) -> None:
    """Behind the authorizer the handler verifies again, each failure with its own stable code."""
    make_header, code = BAD_TOKENS.get(case, (lambda: "", "token_missing"))
    header = make_header()
    headers = [("Host", "127.0.0.1")] + ([("Authorization", header)] if header else [])
    route = HttpRoute("MeFunction", "Me", "GET", "/api/v1/me", public=False)
    event = build_event(IncomingRequest("GET", "/api/v1/me", headers), RouteMatch(route, {}))

    result = local_runtime.invoke("MeFunction", event)

    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["code"] == code


def test_unknown_route_is_404(api: httpx.Client) -> None:
    for response in (api.get("/api/v1/nothing-here"), api.post("/health")):
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}


def test_swagger_page_and_openapi_document_are_served(api: httpx.Client) -> None:
    page = api.get("/docs")
    document = api.get("/openapi.json")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in page.text
    assert "/openapi.json" in page.text
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert {"/health", "/api/v1/me"} <= set(document.json()["paths"])


def test_swagger_page_works_offline(api: httpx.Client) -> None:
    # The page's script and stylesheet are served locally, not from a CDN.
    page = api.get("/docs").text
    assert "https://" not in page
    script, stylesheet = api.get("/docs/swagger-ui-bundle.js"), api.get("/docs/swagger-ui.css")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")


def test_oversized_body_is_refused_like_api_gateway(api: httpx.Client) -> None:
    response = api.post("/health", content=b"x" * (10 * 1024 * 1024 + 1))

    assert response.status_code == 413
