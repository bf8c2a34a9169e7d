"""Agent tools against real servers on loopback: a search engine, the MCP gateway's test servers,
and the hosted Memory server served over HTTP the way API Gateway serves it.

The MCP fixtures are the gateway tests' own (`tests/integration/mcp/`), imported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auralink import auth
from auralink.agents.tools.base import ToolContext
from auralink.auth import Identity
from auralink.mcp import connect
from auralink.mcp.models import Connection, ConnectRequest
from auralink.settings import reset_settings
from infra.local.apigw import Gateway, LocalApiServer, jwt_authorizer
from infra.local.routes import RouteTable
from tests.fakes.mcp_servers import LoopbackServer, deepwiki_app
from tests.fakes.search_server import SearchApp
from tests.integration.mcp.conftest import stateless_mcp  # noqa: F401  # a fixture
from tests.integration.mcp.gateway.conftest import gateway, write_config  # noqa: F401  # a fixture
from tests.support import handlers
from tests.support.environment import forget_caches
from tests.support.runs import create_run

CALL_BUDGET_S = 20.0


@pytest.fixture(scope="session")
def search_engine() -> Iterator[tuple[LoopbackServer, SearchApp]]:
    app = SearchApp()
    with LoopbackServer(app, name="search") as server:
        yield server, app


@pytest.fixture
def use_search(search_engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    """Point the settings at the loopback engine: use_search("duckduckgo" | "searxng", mode)."""
    server, _ = search_engine

    def use(provider: str, mode: str) -> None:
        url = f"{server.base_url}/{mode}/html/" if provider == "duckduckgo" else f"{server.base_url}/{mode}"
        monkeypatch.setenv("WEB_SEARCH_PROVIDER", provider)
        monkeypatch.setenv("WEB_SEARCH_URL", url)
        reset_settings()

    yield use
    reset_settings()


@pytest.fixture(scope="session")
def deepwiki_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(deepwiki_app(), name="deepwiki") as server:
        yield server


@pytest.fixture
def tools_env(gateway, deepwiki_server, tmp_path: Path) -> pytest.MonkeyPatch:  # noqa: F811  # the fixture
    """The gateway's environment, with DeepWiki's registry entry pointing at the loopback server."""
    config = write_config(tmp_path / "tools.yaml", deepwiki_endpoint=deepwiki_server.url)
    gateway.setenv("MCP_CONFIG_PATH", str(config))
    forget_caches()
    return gateway


@pytest.fixture
def hosted_api(tools_env) -> Iterator[str]:
    """The template's HTTP API on a loopback port (so the hosted MCP servers are reachable)."""
    functions = handlers.local_functions()
    routes = RouteTable(route for spec in functions.specs.values() for route in spec.routes)
    server = LocalApiServer(Gateway(routes, handlers.invoke, jwt_authorizer(auth.verify_token)), port=0)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def make_context(hosted_api: str) -> Callable[..., ToolContext]:
    def make(user: str, *, run_id: str | None = None, budget_s: float = CALL_BUDGET_S) -> ToolContext:
        return ToolContext(
            identity=Identity(sub=user),
            run_id=run_id,
            deadline=time.monotonic() + budget_s,
            api_base_url=hosted_api,
        )

    return make


@pytest.fixture
def connect_server(hosted_api: str) -> Callable[..., Connection]:
    """connect_server(user, "memory" | "deepwiki" | "custom", endpoint=..., name=...)."""

    def make(user: str, server_type: str, **fields: Any) -> Connection:
        return connect.connect(
            Identity(sub=user),
            ConnectRequest(server_type=server_type, **fields),
            api_base_url=hosted_api,
            remaining_ms=int(CALL_BUDGET_S * 1000),
        )

    return make


@pytest.fixture
def new_run() -> Callable[[str], str]:
    return lambda user: create_run(user, framework="langgraph")
