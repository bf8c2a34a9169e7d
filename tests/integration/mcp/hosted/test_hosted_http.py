"""The hosted servers over real HTTP, served by the local runtime from the template's routes.

The callers are those of production: a user's own JWT (any MCP client) and the gateway's
short-lived service token.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from auralink.mcp import service_token
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.e2e.conftest import local_runtime  # noqa: F401  # the fixture, shared with the e2e tests
from tests.integration.mcp.hosted.conftest import MEMORY, THINKING, Endpoint, parsed

pytestmark = pytest.mark.e2e

ADA = {"name": "Ada Lovelace", "entityType": "person", "observations": ["wrote the first program"]}


@pytest.fixture
def user() -> str:
    return f"http-user-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def memory_http(local_runtime: LocalRuntime) -> Endpoint:  # noqa: F811  # the imported fixture
    return Endpoint(MEMORY, local_runtime.url)


@pytest.fixture
def thinking_http(local_runtime: LocalRuntime) -> Endpoint:  # noqa: F811
    return Endpoint(THINKING, local_runtime.url)


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
def test_a_user_token_creates_and_searches_entities(memory_http, user, mode):
    token = mint_dev_token(user)

    created, found = memory_http.calls(
        token,
        mode,
        [("create_entities", {"entities": [ADA]}), ("search_nodes", {"query": "first program"})],
    )

    assert parsed(created) == [ADA]
    assert parsed(found) == {"entities": [ADA], "relations": []}


def test_a_gateway_token_acts_for_its_user(memory_http, user):
    memory_http.call(service_token.mint(user), "2026-07-28", "create_entities", {"entities": [ADA]})

    graph = parsed(memory_http.call(mint_dev_token(user), "legacy", "read_graph", {}))
    other = parsed(memory_http.call(mint_dev_token(f"{user}-other"), "legacy", "read_graph", {}))

    assert graph["entities"] == [ADA]
    assert other["entities"] == []


def test_thoughts_are_recorded_across_requests(thinking_http, user):
    token = service_token.mint(user)
    step = {"thought": "t", "totalThoughts": 2, "nextThoughtNeeded": True}

    first = thinking_http.call(token, "2026-07-28", "sequentialthinking", {**step, "thoughtNumber": 1})
    second = thinking_http.call(token, "legacy", "sequentialthinking", {**step, "thoughtNumber": 2})

    assert parsed(first)["thoughtHistoryLength"] == 1
    assert parsed(second)["thoughtHistoryLength"] == 2


def test_without_a_token_the_answer_is_401_and_get_is_405(memory_http, user):
    refused = memory_http.post(None, "POST", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    not_allowed = memory_http.post(mint_dev_token(user), "GET", Accept="text/event-stream")

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    assert refused.json()["error"]["data"] == {"code": "token_missing"}
    assert not_allowed.status_code == 405


def test_concurrent_callers_each_get_their_own_answer(memory_http, user):
    users = [f"{user}-{index}" for index in range(16)]

    def create_and_read(sub: str) -> list[str]:
        entity = {**ADA, "name": sub}
        results = memory_http.calls(
            mint_dev_token(sub),
            "2026-07-28",
            [("create_entities", {"entities": [entity]}), ("read_graph", {})],
        )
        return [item["name"] for item in parsed(results[1])["entities"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        graphs = list(pool.map(create_and_read, users))

    assert graphs == [[sub] for sub in users]
