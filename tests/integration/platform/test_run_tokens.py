"""Run-scoped tokens: accepted where a run's framework calls the gateways, refused by name on every
other route of the template, and refused by every surface once expired or forged."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest

from auralink import auth, run_tokens
from auralink.errors import Unauthorized
from infra.template import functions, load_template
from tests.integration.mcp.gateway.conftest import gateway  # noqa: F401  # a fixture
from tests.support.handlers import ROOT, http_event, invoke

# The surfaces a run's framework calls with its token (none but these may accept one).
RUN_TOKEN_SURFACES = frozenset({"AgentsCallToolFunction", "LlmOpenAIChatFunction", "LlmOpenAIModelsFunction"})
# Serves the same public document to everyone: it reads no token.
# Open routes that read no token: metadata for clients, and the end of a sign-in to an MCP server.
TOKENLESS = frozenset(
    {"McpResourceMetadataFunction", "McpOAuthClientMetadataFunction", "McpOAuthCallbackFunction"}
)


@pytest.fixture(autouse=True)
def _service(gateway):  # noqa: F811  # the service with its service-token secret
    return gateway


def _http_functions() -> list[str]:
    template = load_template(ROOT / "template.yaml")
    return sorted(spec.logical_id for spec in functions(template) if spec.routes)


def test_a_run_token_names_its_user_and_run(make_user_id):
    user, run_id = make_user_id(), uuid.uuid4()

    identity = run_tokens.verify(run_tokens.mint(user, run_id, ttl_s=60))

    assert identity.sub == user and identity.run_id == str(run_id)


def test_an_expired_or_forged_run_token_is_refused(make_user_id):
    user, run_id = make_user_id(), uuid.uuid4()
    expired = run_tokens.mint(user, run_id, ttl_s=1)
    time.sleep(2.1)
    forged = jwt.encode(
        {
            "iss": auth.RUN_TOKEN_ISSUER,
            "aud": run_tokens.AUDIENCE,
            "sub": user,
            "run_id": str(run_id),
            "exp": int(time.time()) + 60,
        },
        "not-the-service-secret-0123456789abcdef",
        algorithm="HS256",
    )

    for token, code in ((expired, "token_expired"), (forged, "token_invalid_signature")):
        with pytest.raises(Unauthorized) as refused:
            run_tokens.verify(token)
        assert refused.value.code == code


def test_a_run_token_lives_no_longer_than_a_step(make_user_id):
    token = run_tokens.mint(make_user_id(), uuid.uuid4(), ttl_s=86_400)
    claims = jwt.decode(token, options={"verify_signature": False})

    assert claims["exp"] - claims["iat"] == run_tokens.MAX_TTL_S


@pytest.mark.parametrize(
    "function_id", [f for f in _http_functions() if f not in RUN_TOKEN_SURFACES | TOKENLESS]
)
def test_every_other_route_refuses_a_run_token_by_name(function_id, make_user_id):
    token = run_tokens.mint(make_user_id(), uuid.uuid4(), ttl_s=60)

    answer = invoke(function_id, http_event(function_id, token=token))

    assert answer["statusCode"] == 401, (function_id, answer)
    assert "run_token_refused" in answer["body"], (function_id, answer["body"])
    assert token not in json.dumps(answer)


@pytest.mark.parametrize("function_id", sorted(TOKENLESS))
def test_a_route_that_reads_no_token_answers_as_to_anyone(function_id, make_user_id):
    token = run_tokens.mint(make_user_id(), uuid.uuid4(), ttl_s=60)

    with_token = invoke(function_id, http_event(function_id, token=token))
    without = invoke(function_id, http_event(function_id))

    assert with_token["statusCode"] == without["statusCode"]
    assert with_token["body"] == without["body"]
    assert token not in json.dumps(with_token)
