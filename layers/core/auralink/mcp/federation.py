"""One MCP endpoint per user: the tools of all their connections, in one name space.

A tool is published as ``<connection name>__<tool name>`` and a call under that name goes to
the tool of that connection through the gateway's `call_tool` (arguments checked, limits,
breaker, retries, operation log). Names keep to what MCP recommends for tool names
(``[A-Za-z0-9_.-]``, at most 128 characters); a tool whose published name would not, or that
would repeat a name already published, is left out and logged.

This module does not import the MCP SDK: `auralink.mcp.hosted.federated` turns its answers into
the protocol's shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from auralink.auth import Identity
from auralink.errors import DomainError, NotFound
from auralink.mcp import tools
from auralink.mcp.models import ToolCallResult
from auralink.mcp.tools import ConnectionTools
from auralink.observability import logger

SEPARATOR = "__"
GATEWAY_PATH = "/mcp/gateway"
_PUBLISHABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
# How much of a name that cannot be published goes into the log line.
_LOGGED_NAME_CHARS = 200


class UnknownTool(NotFound):
    """The name is not one the caller's endpoint publishes."""

    code = "tool_not_found"


@dataclass(frozen=True)
class FederatedTool:
    """A connection's tool as the endpoint publishes it; ``definition`` is the cached document."""

    name: str
    connection_id: UUID
    connection_name: str
    tool: str
    definition: dict[str, Any]

    @property
    def description(self) -> str:
        own = self.definition.get("description")
        return f"{self.connection_name}: {own}" if own else self.connection_name


def _is_this_endpoint(endpoint: str | None, api_base_url: str | None) -> bool:
    """A connection to this very endpoint would make every listing and call go round in a loop."""
    if endpoint is None or api_base_url is None:
        return False
    target, own = urlsplit(endpoint), urlsplit(api_base_url)
    own_path = own.path.rstrip("/") + GATEWAY_PATH
    return target.netloc.lower() == own.netloc.lower() and target.path.rstrip("/") == own_path


def _skipped(connection: ConnectionTools, name: str, reason: str) -> None:
    logger.warning(
        "A tool is left out of the federated endpoint",
        extra={
            "connection_id": str(connection.connection_id),
            "tool": name[:_LOGGED_NAME_CHARS],
            "reason": reason,
        },
    )


def federate(connections: list[ConnectionTools], api_base_url: str | None) -> Iterator[FederatedTool]:
    """The tools the endpoint publishes for these connections, in the connections' order."""
    published: set[str] = set()
    for connection in connections:
        if _is_this_endpoint(connection.endpoint, api_base_url):
            logger.warning(
                "A connection to the federated endpoint itself is left out",
                extra={"connection_id": str(connection.connection_id)},
            )
            continue
        for definition in connection.tools:
            tool = str(definition.get("name") or "")
            name = f"{connection.name}{SEPARATOR}{tool}"
            if not tool or not _PUBLISHABLE_NAME.match(name):
                _skipped(connection, tool, "name_not_allowed")
            elif name in published:
                _skipped(connection, tool, "duplicate_name")
            else:
                published.add(name)
                yield FederatedTool(name, connection.connection_id, connection.name, tool, definition)


def catalog(identity: Identity, *, api_base_url: str | None, remaining_ms: int) -> list[FederatedTool]:
    """Every tool the caller's endpoint publishes; lists never fetched are fetched now."""
    connections = tools.tools_of_all_connections(
        identity, api_base_url=api_base_url, remaining_ms=remaining_ms
    )
    return list(federate(connections, api_base_url))


def _resolve(identity: Identity, name: str, *, api_base_url: str | None) -> FederatedTool:
    # The cached lists are at least as recent as the listing the client saw: nothing is fetched.
    connections = tools.tool_names_of_all_connections(identity)
    found = next((tool for tool in federate(connections, api_base_url) if tool.name == name), None)
    if found is None:
        raise UnknownTool(f"Unknown tool: {name[:_LOGGED_NAME_CHARS]}")
    return found


def call(
    identity: Identity,
    name: str,
    arguments: dict[str, Any],
    *,
    api_base_url: str | None,
    remaining_ms: int,
) -> ToolCallResult:
    """Call a published tool. A failure of the gateway (limits, breaker, timeout, upstream,
    invalid arguments) comes back as a tool error reading ``<error code>: <message>``; a name
    that is not published, or whose connection or tool has gone since, raises `UnknownTool`."""
    target = _resolve(identity, name, api_base_url=api_base_url)
    try:
        response = tools.call_tool(
            identity,
            target.connection_id,
            target.tool,
            arguments,
            api_base_url=api_base_url,
            remaining_ms=remaining_ms,
        )
    except NotFound as exc:
        raise UnknownTool(f"Unknown tool: {name}") from exc
    except DomainError as exc:
        # Domain messages are written for the caller; the operation log has the rest.
        logger.info(
            "A federated tool call failed",
            extra={"connection_id": str(target.connection_id), "tool": target.tool, "error_code": exc.code},
        )
        text = f"{exc.code}: {exc.message}"
        return ToolCallResult(
            content=[{"type": "text", "text": text}], structured_content=None, is_error=True
        )
    return response.result
