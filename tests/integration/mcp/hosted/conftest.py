"""The hosted MCP servers, spoken to with the official SDK client.

`Endpoint` is where a client connects: in process (each HTTP request the client makes becomes a
payload 2.0 event for the template's function, through `tests.support.handlers.invoke`) or over
real HTTP (the local runtime). Either way the client is `mcp.Client` on its own transport, in
legacy (``initialize``) or 2026-07-28 (stateless) mode.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import boto3
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from auralink.observability import logger
from infra.local.apigw import IncomingRequest, build_event, response_from_result
from infra.local.routes import RouteTable
from infra.template import functions, load_template
from tests.support import environment, handlers

MEMORY = "McpMemoryServerFunction"
THINKING = "McpSequentialThinkingFunction"
GATEWAY = "McpGatewayServerFunction"
# Each server's route, as the template declares it.
_SPECS = {spec.logical_id: spec for spec in functions(load_template(handlers.ROOT / "template.yaml"))}
PATHS = {function_id: _SPECS[function_id].routes[0].path for function_id in (MEMORY, THINKING, GATEWAY)}
MODES = ["2026-07-28", "legacy"]
SERVICE_TOKEN_SECRET_ID = "auralink/test/service-token"
SERVICE_TOKEN_SECRET = "hosted-mcp-tests-service-token-secret-0123456789abcdef0123456789"
# API Gateway's domain in the sample events.
API_HOST = "k3x9q2w7e1.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def hosted(service: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The environment of the hosted servers' functions: the service's, plus the gateway's token key."""
    service.setenv("SERVICE_TOKEN_SECRET_ID", SERVICE_TOKEN_SECRET_ID)
    boto3.client("secretsmanager").create_secret(
        Name=SERVICE_TOKEN_SECRET_ID, SecretString=SERVICE_TOKEN_SECRET
    )
    environment.forget_caches()
    yield service


def _in_process(function_id: str) -> httpx2.MockTransport:
    routes = RouteTable(handlers.local_functions().specs[function_id].routes)

    def exchange(request: httpx2.Request) -> httpx2.Response:
        match = routes.match(request.method, request.url.path)
        assert match is not None, f"{function_id} has no route for {request.method} {request.url.path}"
        incoming = IncomingRequest(
            method=request.method,
            target=request.url.raw_path.decode("ascii"),
            headers=list(request.headers.multi_items()),
            body=request.content,
            source_ip="203.0.113.10",
        )
        event = build_event(incoming, match, server_port=443)
        event["headers"]["x-forwarded-proto"] = "https"
        reply = response_from_result(handlers.invoke(function_id, event))
        return httpx2.Response(reply.status, headers=reply.headers, content=reply.body)

    async def handle(request: httpx2.Request) -> httpx2.Response:
        # The handler runs its own event loop, as Lambda does: not on this one.
        return await anyio.to_thread.run_sync(exchange, request)

    return httpx2.MockTransport(handle)


@dataclass(frozen=True)
class Endpoint:
    """One hosted server as a client reaches it: in process (``base_url`` None) or over HTTP."""

    function_id: str
    base_url: str | None = None

    @property
    def url(self) -> str:
        return (self.base_url or f"https://{API_HOST}") + PATHS[self.function_id]

    def http_client(self, token: str | None, headers: dict[str, str] | None = None) -> httpx2.AsyncClient:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        transport = _in_process(self.function_id) if self.base_url is None else None
        return httpx2.AsyncClient(headers=sent, transport=transport, timeout=httpx2.Timeout(30.0))

    def session[T](self, token: str | None, mode: str, work: Callable[[Client], Awaitable[T]]) -> T:
        """Run ``work`` on a client connected in ``mode`` (a fresh event loop, as a test is sync)."""

        async def run() -> T:
            async with self.http_client(token) as http:
                transport = streamable_http_client(self.url, http_client=http)
                async with Client(transport, mode=mode) as client:
                    return await work(client)

        try:
            return anyio.run(run)
        except BaseExceptionGroup as group:
            # The client's task groups wrap what the work raised: a test wants the error itself.
            raise _only_leaf(group) from None

    def calls(
        self, token: str, mode: str, steps: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[CallToolResult]:
        """Call the tools in order, on one client."""

        async def work(client: Client) -> list[CallToolResult]:
            return [await client.call_tool(name, arguments) for name, arguments in steps]

        return self.session(token, mode, work)

    def call(self, token: str, mode: str, name: str, arguments: dict[str, Any]) -> CallToolResult:
        return self.calls(token, mode, [(name, arguments)])[0]

    def post(
        self, token: str | None, method: str = "POST", body: Any = None, **headers: str
    ) -> httpx2.Response:
        """One raw HTTP request, outside any client."""

        async def run() -> httpx2.Response:
            async with self.http_client(token, headers) as http:
                content = None if body is None else json.dumps(body).encode()
                response = await http.request(method, self.url, content=content)
                await response.aread()
                return response

        return anyio.run(run)


def _only_leaf(group: BaseExceptionGroup) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop()
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
        else:
            leaves.append(error)
    return leaves[0] if len(leaves) == 1 else group


def text(result: CallToolResult) -> str:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return result.content[0].text


def parsed(result: CallToolResult) -> Any:
    assert not result.is_error, text(result)
    return json.loads(text(result))


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    """Everything logged while the test runs: the service's lines as Lambda would print them
    (with the keys of the invocation, such as the caller), and every other logger's records."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    service_logger = logging.getLogger(logger.name)
    service_logger.addHandler(handler)
    try:
        yield lambda: stream.getvalue() + "\n".join(str(vars(record)) for record in caplog.records)
    finally:
        service_logger.removeHandler(handler)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def memory(hosted: pytest.MonkeyPatch) -> Endpoint:
    return Endpoint(MEMORY)


@pytest.fixture
def thinking(hosted: pytest.MonkeyPatch) -> Endpoint:
    return Endpoint(THINKING)
