"""Latency of a tool call through the whole gateway, over HTTP against the local runtime.

A user connects an MCP server on loopback (both protocol revisions) and calls one of its tools
repeatedly through `POST /api/v1/mcp/connections/{id}/tools/{tool}/call`: authentication, the
database transactions of admission and record, the rate limits, the breaker, the SSRF-guarded
client, and the server itself. Reported against the same tool called with the client alone (a
fresh client per call, as outside a kept session) and against the open-session floor (the SDK's
client alone, opened once). The local runtime runs the functions with the template's environment,
so API containers keep their MCP sessions warm (MCP_WARM_SESSIONS) as in AWS.

The three are measured in ROUNDS alternating rounds of CALLS_PER_ROUND calls each (the floor's
session opened once a round), so that the machine's state affects them alike.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from auralink.mcp import client
from auralink.mcp.results import McpTarget
from bench.mcp_sessions import open_session_floor
from infra.local.runtime import LocalRuntime
from infra.local.token import mint_dev_token
from tests.fakes.mcp_servers import LoopbackServer, tools_app

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 10
CALLS_PER_ROUND = 10
CALLS = ROUNDS * CALLS_PER_ROUND


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms"


@contextmanager
def _reported(function_id: str) -> Iterator[list[float]]:
    """The durations of the function's invocations in their environment, from the local runtime's
    REPORT lines (the HTTP hop and the wait for an environment not included)."""
    durations: list[float] = []

    class Reports(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "function_id", None) == function_id:
                durations.append(record.duration_ms)  # type: ignore[attr-defined]

    logger = logging.getLogger("infra.local.lambdas")
    handler, level, propagate = Reports(logging.DEBUG), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # the lines are read here, not printed: printing would be timed too
    try:
        yield durations
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def _connect(api: httpx.Client, url: str, token: str) -> str:
    """The path of the server's ``add`` tool on a new connection of the token's user."""
    body = {"server_type": "custom", "endpoint": url}
    connected = api.post("/api/v1/mcp/connect", headers={"Authorization": f"Bearer {token}"}, json=body)
    connected.raise_for_status()
    return f"/api/v1/mcp/connections/{connected.json()['connection_id']}/tools/add/call"


def _through_gateway(api: httpx.Client, path: str, token: str) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for _ in range(CALLS_PER_ROUND):
        started = time.perf_counter()
        api.post(path, headers=headers, json={"arguments": {"a": 1, "b": 2}}).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _client_alone(url: str, protocol: str) -> list[float]:
    target = McpTarget(url=url, headers={}, protocol=protocol)  # type: ignore[arg-type]
    samples = []
    for _ in range(CALLS_PER_ROUND):
        started = time.perf_counter()
        client.call_tool(target, "add", {"a": 1, "b": 2}, deadline_s=10)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _measure(runtime: LocalRuntime, api: httpx.Client, protocol: str, *, stateless: bool) -> None:
    with LoopbackServer(tools_app(stateless=stateless), name=protocol) as server:
        token = mint_dev_token(f"bench-{protocol}")
        path = _connect(api, server.url, token)
        gateway: list[float] = []
        alone: list[float] = []
        floor: list[float] = []
        with _reported("McpCallToolFunction") as invocations:
            _through_gateway(api, path, token)  # not counted: its first call opens the session
            del invocations[:]
            for _ in range(ROUNDS):
                gateway += _through_gateway(api, path, token)
                alone += _client_alone(server.url, protocol)
                # The first call on the floor's new session is left out, as the gateway's is.
                floor += open_session_floor(
                    server.url,
                    legacy=not stateless,
                    calls=CALLS_PER_ROUND + 1,
                    tool="add",
                    arguments={"a": 1, "b": 2},
                )[1:]
        in_function = list(invocations)
        # The environments that spoke to the server end (their kept sessions with them) while it
        # still listens: a server stopped under an open session reports it as an error.
        for function_id in ("McpConnectFunction", "McpCallToolFunction"):
            runtime.functions.update_environment(function_id, {})
    ratio = statistics.median(gateway) / statistics.median(floor)
    print(f"tool call, {protocol}, {CALLS} calls in {ROUNDS} alternating rounds:")
    print(f"  through the gateway (HTTP, local runtime): {_percentiles(gateway)} ({ratio:.2f}x floor)")
    in_ratio = statistics.median(in_function) / statistics.median(floor)
    print(f"  the function in its environment:           {_percentiles(in_function)} ({in_ratio:.2f}x floor)")
    hop = statistics.median(gateway) - statistics.median(in_function)
    print(f"  the local runtime's HTTP hop (medians):    {hop:6.1f} ms")
    print(f"  client alone, a fresh client per call:     {_percentiles(alone)}")
    print(f"  open-session floor (the SDK's client):     {_percentiles(floor)}")


def main() -> None:
    # The AWS emulation's access log would bury the figures, as `make dev` keeps it out of its log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as data:
        runtime = LocalRuntime(ROOT, port=0, schedules=False, data_dir=Path(data))
        runtime.start()
        try:
            with httpx.Client(base_url=runtime.url, timeout=30) as api:
                for stateless, protocol in ((True, "2026-07-28"), (False, "2025-11-25")):
                    _measure(runtime, api, protocol, stateless=stateless)
        finally:
            runtime.stop()


if __name__ == "__main__":
    main()
