"""The caller's own MCP endpoint, spoken to with the official SDK client over real HTTP.

The template's HTTP API runs on a loopback port (routes, JWT authorizer, payload 2.0 events, as
API Gateway serves them); users connect the gateway tests' loopback MCP servers
(`tests/integration/mcp/conftest.py`) and then use `/mcp/gateway` as any MCP client would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from auralink import auth
from auralink.auth import Identity
from auralink.mcp import connect
from auralink.mcp.models import Connection, ConnectRequest
from infra.local.apigw import Gateway, LocalApiServer, jwt_authorizer
from infra.local.routes import RouteTable
from tests.integration.mcp.conftest import legacy_mcp, protected_mcp, stateless_mcp  # noqa: F401  # fixtures
from tests.integration.mcp.gateway.conftest import gateway  # noqa: F401  # a fixture
from tests.integration.mcp.hosted.conftest import GATEWAY, Endpoint, logged  # noqa: F401  # a fixture
from tests.support import handlers
from tests.support.environment import forget_caches

CALL_BUDGET_MS = 20_000


@pytest.fixture
def api_url(gateway: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811  # the imported fixture
    """The template's HTTP API on a loopback port, which is also the API's public URL (so that
    the hosted servers are reached through it)."""
    functions = handlers.local_functions()
    routes = RouteTable(route for spec in functions.specs.values() for route in spec.routes)
    server = LocalApiServer(Gateway(routes, handlers.invoke, jwt_authorizer(auth.verify_token)), port=0)
    server.start()
    try:
        gateway.setenv("PUBLIC_API_URL", server.url)
        forget_caches()
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def endpoint(api_url: str) -> Endpoint:
    """The federated endpoint over HTTP, behind the API's authorizer."""
    return Endpoint(GATEWAY, api_url)


@pytest.fixture
def in_process(api_url: str) -> Endpoint:
    """The federated endpoint's function invoked directly: what it answers without the authorizer."""
    return Endpoint(GATEWAY)


@pytest.fixture
def user() -> str:
    return f"federated-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def connect_server(api_url: str) -> Callable[..., Connection]:
    """connect_server(user, name, endpoint=url) for a server of one's own, or server_type=... ."""

    def make(user: str, name: str, *, server_type: str = "custom", **fields: Any) -> Connection:
        return connect.connect(
            Identity(sub=user),
            ConnectRequest(server_type=server_type, name=name, **fields),
            api_base_url=api_url,
            remaining_ms=CALL_BUDGET_MS,
        )

    return make
