"""The hosted servers as MCP endpoints: listings, both protocol revisions, authentication, HTTP rules."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import anyio
import jwt
import pytest

from auralink.mcp import service_token
from tests.integration.mcp.hosted.conftest import (
    API_HOST,
    MEMORY,
    PATHS,
    SERVICE_TOKEN_SECRET,
    THINKING,
    Endpoint,
    parsed,
)
from tests.support import environment
from tests.support.handlers import invoke, sample_event

REFERENCE = json.loads((Path(__file__).parent / "reference_tools.json").read_text())
LISTED = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
TOOLS_LIST = {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}


@pytest.fixture
def alice_id(make_user_id):
    return make_user_id("alice")


@pytest.fixture
def alice(token_for, alice_id):
    return token_for(alice_id)


@pytest.mark.parametrize(
    ("function_id", "reference"), [(MEMORY, "memory"), (THINKING, "sequential-thinking")]
)
def test_tools_list_shows_the_reference_servers_tools(hosted, mode, alice, function_id, reference):
    async def listing(client):
        return await client.list_tools()

    tools = Endpoint(function_id).session(alice, mode, listing).tools

    listed = [
        {key: tool.model_dump(by_alias=True, exclude_none=True).get(key) for key in LISTED} for tool in tools
    ]
    assert listed == REFERENCE[reference]


def test_auto_mode_discovers_the_stateless_revision(memory, alice):
    async def discovered(client):
        return client.protocol_version, client.server_info.name

    assert memory.session(alice, "auto", discovered) == ("2026-07-28", "memory-server")


def test_the_legacy_handshake_names_the_server(thinking, alice):
    async def handshake(client):
        return client.protocol_version, client.server_info.name, client.server_info.version

    assert thinking.session(alice, "legacy", handshake) == (
        "2025-11-25",
        "sequential-thinking-server",
        "2026.8.31",
    )


def test_a_gateway_service_token_acts_for_its_user(memory, alice, alice_id):
    gateway_token = service_token.mint(alice_id)
    memory.call(
        gateway_token,
        "2026-07-28",
        "create_entities",
        {"entities": [{"name": "Ada", "entityType": "person", "observations": []}]},
    )

    graph = parsed(memory.call(alice, "legacy", "read_graph", {}))

    assert [entity["name"] for entity in graph["entities"]] == ["Ada"]


def _expired_user_token(sub):
    now = int(time.time())
    claims = {
        "sub": sub,
        "iss": "https://issuer.test",
        "aud": "auralink-test",
        "iat": now - 600,
        "exp": now - 300,
    }
    return jwt.encode(
        claims, "integration-tests-jwt-secret-0123456789abcdef0123456789abcdef", algorithm="HS256"
    )


def _foreign_service_token(sub):
    now = int(time.time())
    claims = {
        "sub": sub,
        "iss": service_token.ISSUER,
        "aud": service_token.AUDIENCE,
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode(
        claims, "not-the-service-token-secret-0123456789abcdef0123456789abcdef", algorithm="HS256"
    )


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "token_missing"),
        ("Basic YWxpY2U6c2VjcmV0", "token_malformed"),
        ("Bearer not-a-jwt", "token_malformed"),
        ("expired", "token_expired"),
        ("foreign-service", "token_invalid_signature"),
        ("expired-service", "token_expired"),
    ],
)
def test_a_request_without_a_valid_token_is_refused_with_401(memory, alice_id, authorization, code, logged):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    tokens = {
        "expired": _expired_user_token(alice_id),
        "foreign-service": _foreign_service_token(alice_id),
        "expired-service": service_token.mint(alice_id, ttl_s=-10),
    }
    if authorization in tokens:
        authorization = f"Bearer {tokens[authorization]}"
    if authorization is not None:
        headers["Authorization"] = authorization

    response = memory.post(None, "POST", TOOLS_LIST, **headers)

    # RFC 6750 §3.1: no error code when no token came; both point to the resource's metadata.
    metadata = f"https://{API_HOST}/.well-known/oauth-protected-resource/mcp/memory"
    error = "" if authorization is None else f'error="invalid_token", error_description="{code}", '
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Bearer {error}resource_metadata="{metadata}"'
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] == 7
    assert body["error"]["code"] == -32600 and body["error"]["data"] == {"code": code}
    assert body["error"]["message"].startswith("Unauthorized: ")
    for token in tokens.values():
        assert token not in logged() and token not in response.text


def test_a_token_that_cannot_be_checked_is_a_server_error_not_a_401(memory, alice_id, hosted, logged):
    gateway_token = service_token.mint(alice_id)
    hosted.delenv("SERVICE_TOKEN_SECRET_ID")
    environment.forget_caches()

    response = memory.post(gateway_token, "POST", TOOLS_LIST, **{"Content-Type": "application/json"})

    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": -32603,
        "message": "Internal error",
        "data": {"code": "service_token_unconfigured"},
    }
    assert '"error_code":"service_token_unconfigured"' in logged()


def test_the_sdk_client_without_a_token_cannot_connect(memory, mode):
    async def listing(client):
        return await client.list_tools()

    with pytest.raises(Exception) as raised:
        memory.session(None, mode, listing)

    assert "401" in str(raised.value) or "Unauthorized" in str(raised.value)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_answer_405(memory, alice, method):
    response = memory.post(alice, method, Accept="application/json, text/event-stream")

    assert response.status_code == 405
    assert "POST" in response.headers.get("allow", "POST")
    if method == "GET":
        assert response.json()["error"]["data"] == {"code": "method_not_allowed"}


def test_get_without_a_token_is_refused_before_anything_else(memory):
    assert memory.post(None, "GET").status_code == 401


def test_a_body_over_the_limit_answers_413(memory, alice, hosted):
    hosted.setenv("MAX_BODY_BYTES", "2048")
    environment.forget_caches()
    big = {**TOOLS_LIST, "params": {"padding": "x" * 4096}}

    response = memory.post(alice, "POST", big, **{"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json()["error"]["data"] == {"code": "payload_too_large"}


def test_a_body_that_is_not_json_is_a_parse_error(memory, alice):
    async def send():
        async with memory.http_client(alice) as http:
            return await http.post(
                memory.url,
                content=b"{not json",
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2026-07-28",
                },
            )

    response = anyio.run(send)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32700


def test_a_browser_origin_outside_the_cors_list_is_refused(memory, alice):
    response = memory.post(
        alice,
        "POST",
        TOOLS_LIST,
        **{
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Origin": "https://evil.example",
        },
    )

    assert response.status_code == 403


@pytest.mark.parametrize("function_id", [MEMORY, THINKING])
def test_the_sample_event_is_answered(hosted, alice, function_id):
    event = sample_event(function_id)
    event["headers"]["authorization"] = f"Bearer {alice}"

    response = invoke(function_id, event)

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert event["rawPath"] == PATHS[function_id]
    names = [tool["name"] for tool in json.loads(response["body"])["result"]["tools"]]
    assert names == [
        tool["name"] for tool in REFERENCE["memory" if function_id == MEMORY else "sequential-thinking"]
    ]


def test_a_base64_body_on_a_custom_domain_is_answered(hosted, alice):
    event = sample_event(MEMORY)
    event["headers"] |= {"authorization": f"Bearer {alice}", "host": "api.auralink.example"}
    event["requestContext"]["domainName"] = "api.auralink.example"
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    response = invoke(MEMORY, event)

    assert response["statusCode"] == 200
    assert len(json.loads(response["body"])["result"]["tools"]) == 9


def base64_event(alice, body: bytes):
    event = sample_event(MEMORY)
    event["headers"]["authorization"] = f"Bearer {alice}"
    event["body"] = base64.b64encode(body).decode()
    event["isBase64Encoded"] = True
    return event


@pytest.mark.parametrize(("size", "status"), [(2048, 200), (2049, 413)])
def test_the_body_limit_counts_the_bytes_sent_not_their_base64(hosted, alice, size, status):
    hosted.setenv("MAX_BODY_BYTES", "2048")
    environment.forget_caches()
    body = sample_event(MEMORY)["body"].encode()
    body = body[:-1] + b" " * (size - len(body)) + b"}"

    response = invoke(MEMORY, base64_event(alice, body))

    assert response["statusCode"] == status


def test_a_body_flagged_base64_that_is_not_is_400_in_json_rpc(hosted, alice):
    event = base64_event(alice, b"")
    event["body"] = "not base64!"

    response = invoke(MEMORY, event)

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"]["data"] == {"code": "invalid_body"}


def test_tokens_are_never_logged(memory, alice, alice_id, logged):
    gateway_token = service_token.mint(alice_id)

    memory.call(gateway_token, "2026-07-28", "read_graph", {})
    memory.call(alice, "legacy", "read_graph", {})

    assert f'"user_id":"{alice_id}"' in logged()  # the caller is named...
    for secret in (gateway_token, alice, SERVICE_TOKEN_SECRET):
        assert secret not in logged()  # ...never a token or a key
