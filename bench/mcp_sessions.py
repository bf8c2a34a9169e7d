"""Tool calls of one agent node against a server on the 2025-11-25 handshake, with and without
the run step's kept session, against the open-session floor.

- floor: the SDK's client alone, opened once, 20 `tools/call` on its open session (the least a
  call can cost on this machine);
- kept: `auralink.mcp.client.call_tool` inside `session_pool.scope()`, as a run step calls tools
  (the first call opens the session);
- fresh: the same calls outside a scope: a handshake, the call and the session's DELETE each.

Each variant runs ROUNDS times, alternating, 20 calls each; reported: the per-call median over
all calls of the variant, and its ratio to the floor.
"""

from __future__ import annotations

import statistics
import time

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from auralink.mcp import client, session_pool
from auralink.mcp.results import McpTarget
from tests.fakes.mcp_servers import LoopbackServer, tools_app

CALLS = 20
ROUNDS = 5


def open_session_floor(
    url: str, *, legacy: bool = True, calls: int = CALLS, tool: str = "echo", arguments: dict | None = None
) -> list[float]:
    """The SDK's client alone, opened once: the time of each call on its open session."""
    samples: list[float] = []

    async def main() -> None:
        mode = "legacy" if legacy else "auto"
        async with (
            httpx2.AsyncClient(follow_redirects=False) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as sdk,
        ):
            for n in range(calls):
                started = time.perf_counter()
                await sdk.call_tool(tool, arguments or {"text": str(n)})
                samples.append((time.perf_counter() - started) * 1000)

    anyio.run(main)
    return samples


def _gateway_client(url: str, *, kept: bool) -> list[float]:
    target = McpTarget(url=url, headers={}, protocol="2025-11-25")
    samples: list[float] = []

    def calls() -> None:
        for n in range(CALLS):
            started = time.perf_counter()
            client.call_tool(target, "echo", {"text": str(n)}, deadline_s=10)
            samples.append((time.perf_counter() - started) * 1000)

    if kept:
        with session_pool.scope():
            calls()
    else:
        calls()
    return samples


def main() -> None:
    with LoopbackServer(tools_app(stateless=False), name="bench-legacy") as server:
        variants: dict[str, list[float]] = {"floor": [], "kept": [], "fresh": []}
        open_session_floor(server.url)  # warm the server and the imports
        for _ in range(ROUNDS):
            variants["floor"] += open_session_floor(server.url)
            variants["kept"] += _gateway_client(server.url, kept=True)
            variants["fresh"] += _gateway_client(server.url, kept=False)
    floor = statistics.median(variants["floor"])
    print(f"MCP sessions: {CALLS} calls x {ROUNDS} rounds against a 2025-11-25 server")
    for name, samples in variants.items():
        median = statistics.median(samples)
        print(f"  {name:6s} per-call median {median:6.1f} ms ({median / floor:4.2f}x the floor)")


if __name__ == "__main__":
    main()
