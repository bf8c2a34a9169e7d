"""Targets whose requests a test can find on a shared server: each carries a header of its own."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from auralink.mcp.client import McpTarget, Protocol
from tests.fakes.mcp_servers import LoopbackServer

TAG = "X-Test-Request"


@dataclass
class Tagged:
    """A target on `server` and the requests that carried its tag."""

    server: LoopbackServer
    target: McpTarget
    tag: str = field(default="")

    def seen(self) -> list[tuple[str, str | None]]:
        """(HTTP method, JSON-RPC method) of each request the server received from this target."""
        return [(seen.http_method, seen.rpc_method) for seen in self.server.log.tagged(TAG, self.tag)]

    def rpc_methods(self) -> list[str]:
        return [method for _, method in self.seen() if method is not None]


@pytest.fixture
def tagged() -> Callable[..., Tagged]:
    def make(
        server: LoopbackServer,
        protocol: Protocol = "auto",
        *,
        discover_result: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
    ) -> Tagged:
        tag = uuid.uuid4().hex
        url = server.url if path is None else server.url_for(path)
        target = McpTarget(url, {TAG: tag, **(headers or {})}, protocol, discover_result)
        return Tagged(server, target, tag)

    return make
