"""The tools of a connection: the cached list, and calls with arguments checked first."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from auralink.auth import Identity
from auralink.clock import SYSTEM_CLOCK, Clock
from auralink.db import Statement, tenant_statements, tenant_transaction
from auralink.errors import DomainError, NotFound, ValidationFailed
from auralink.mcp import arguments, calls, client, repository
from auralink.mcp.connections import CUSTOM
from auralink.mcp.models import (
    DeepWikiAnswer,
    DeepWikiAsk,
    Tool,
    ToolCallResponse,
    ToolCallResult,
    ToolList,
)
from auralink.mcp.oplog import OperationRecord
from auralink.observability import logger

# A cached list older than this is refreshed when a call names a tool it does not know.
_STALE_AFTER = timedelta(minutes=5)


def _connection(identity: Identity, connection_id: UUID, *, tool: str | None = None) -> dict[str, Any]:
    """The caller's connection, read in one round trip; with ``tool``, that tool in place of the
    whole list (`repository.get_with_tool_statement`)."""
    statement = (
        repository.get_statement(connection_id)
        if tool is None
        else repository.get_with_tool_statement(connection_id, tool)
    )
    (rows,) = tenant_statements(identity.sub, [statement])
    return repository.found(rows)


def _tools(row: dict[str, Any]) -> list[dict[str, Any]]:
    return list(row["tools"] or [])


def _refresh(
    identity: Identity, row: dict[str, Any], *, api_base_url: str | None, remaining_ms: int, clock: Clock
) -> list[dict[str, Any]]:
    outcome = calls.execute(
        row,
        lambda server_name: OperationRecord(
            user_id=identity.sub, server_name=server_name, operation="list_tools", connection_id=row["id"]
        ),
        lambda target, deadline_s: client.list_tools(target, deadline_s=deadline_s),
        api_base_url=api_base_url,
        remaining_ms=remaining_ms,
        clock=clock,
    )
    tools = [tool.document() for tool in outcome.value[1]]
    with tenant_transaction(identity.sub) as conn:
        repository.store_tools(conn, row["id"], tools, clock.now())
    return tools


def list_tools(
    identity: Identity,
    connection_id: UUID,
    *,
    refresh: bool,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock = SYSTEM_CLOCK,
) -> ToolList:
    row = _connection(identity, connection_id)
    tools, fetched_at = _tools(row), row["tools_fetched_at"]
    if refresh or row["tools"] is None:
        tools = _refresh(identity, row, api_base_url=api_base_url, remaining_ms=remaining_ms, clock=clock)
        fetched_at = clock.now()
    return ToolList(
        tools=[
            Tool(
                name=tool["name"],
                description=tool.get("description"),
                input_schema=tool.get("input_schema") or {},
            )
            for tool in tools
        ],
        fetched_at=fetched_at,
    )


@dataclass(frozen=True)
class ConnectionTools:
    """A connection and its cached tools, as the server described them (MCP's fields, snake_case)."""

    connection_id: UUID
    name: str
    endpoint: str | None
    tools: list[dict[str, Any]]


def tools_of_all_connections(
    identity: Identity,
    *,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock = SYSTEM_CLOCK,
) -> list[ConnectionTools]:
    """Every enabled connection of the caller with its cached tools, oldest connection first.

    A list never fetched is fetched now; when that fails (server down, limits, no time left) the
    connection is listed without tools and the failure logged, so one server cannot hide the
    others.
    """
    started = time.monotonic()
    listed: list[ConnectionTools] = []
    for row in _enabled(identity, repository.list_all_statement()):
        tools = row["tools"]
        if tools is None:
            left_ms = remaining_ms - int((time.monotonic() - started) * 1000)
            try:
                tools = _refresh(identity, row, api_base_url=api_base_url, remaining_ms=left_ms, clock=clock)
            except DomainError as exc:
                logger.warning(
                    "Tools of a connection could not be fetched",
                    extra={"connection_id": str(row["id"]), "error_code": exc.code},
                )
                tools = []
        listed.append(ConnectionTools(row["id"], row["name"], row["endpoint"], list(tools)))
    return listed


def tool_names_of_all_connections(identity: Identity) -> list[ConnectionTools]:
    """`tools_of_all_connections` as cached, each tool by its name alone (``{"name": ...}``), and
    nothing fetched: enough to tell which connection's tool a name stands for, without reading
    every tool's description and schema."""
    return [
        ConnectionTools(row["id"], row["name"], row["endpoint"], list(row["tools"] or []))
        for row in _enabled(identity, repository.list_all_statement(tool_names_only=True))
    ]


def _enabled(identity: Identity, statement: Statement) -> list[dict[str, Any]]:
    (every,) = tenant_statements(identity.sub, [statement])
    # A connection waiting for its user to sign in has no tools to offer yet.
    return [row for row in every if row["status"] not in ("disabled", "authorization_required")]


def tools_of_named_connection(identity: Identity, name: str) -> tuple[UUID, list[dict[str, Any]]] | None:
    """The id and cached tools (name, description, input_schema) of the caller's connection ``name``."""
    (rows,) = tenant_statements(identity.sub, [repository.find_by_name_statement(name)])
    row = next(iter(rows), None)
    if row is None:
        return None
    return row["id"], _tools(row)


def _find_tool(
    identity: Identity,
    row: dict[str, Any],
    name: str,
    *,
    api_base_url: str | None,
    remaining_ms: int,
    clock: Clock,
) -> dict[str, Any]:
    """The tool ``name`` of the connection ``row`` (as `repository.get_with_tool_statement` reads
    it), fetched anew when the cached list does not have it and is old enough to be wrong."""
    found: dict[str, Any] | None = row["tool"]
    stale = row["tools_fetched_at"] is None or clock.now() - row["tools_fetched_at"] > _STALE_AFTER
    if found is None and stale:
        tools = _refresh(identity, row, api_base_url=api_base_url, remaining_ms=remaining_ms, clock=clock)
        found = next((tool for tool in tools if tool["name"] == name), None)
    if found is None:
        raise NotFound(f"The server of this connection has no tool named {name!r}", code="tool_not_found")
    return found


def call_tool(
    identity: Identity,
    connection_id: UUID,
    tool: str,
    tool_arguments: dict[str, Any],
    *,
    api_base_url: str | None,
    remaining_ms: int,
    expected_server: str | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> ToolCallResponse:
    row = _connection(identity, connection_id, tool=tool)
    if expected_server is not None and (row["server_name"] or CUSTOM) != expected_server:
        raise ValidationFailed(
            f"Connection {connection_id} is not a {expected_server} connection",
            code="connection_server_mismatch",
        )
    definition = _find_tool(
        identity, row, tool, api_base_url=api_base_url, remaining_ms=remaining_ms, clock=clock
    )
    arguments.check(tool_arguments, definition.get("input_schema") or {}, tool=tool)
    request_bytes = len(json.dumps(tool_arguments).encode())
    outcome = calls.execute(
        row,
        lambda server_name: OperationRecord(
            user_id=identity.sub,
            server_name=server_name,
            operation="call_tool",
            connection_id=connection_id,
            tool=tool,
            request_bytes=request_bytes,
        ),
        lambda target, deadline_s: client.call_tool(target, tool, tool_arguments, deadline_s=deadline_s),
        api_base_url=api_base_url,
        remaining_ms=remaining_ms,
        response_size=lambda result: len(result.model_dump_json().encode()),
        clock=clock,
    )
    result = outcome.value
    return ToolCallResponse(
        operation_id=outcome.operation_id,
        latency_ms=outcome.latency_ms,
        result=ToolCallResult(
            content=result.content, structured_content=result.structured_content, is_error=result.is_error
        ),
    )


def call_server_tool(
    identity: Identity,
    server_name: str,
    connection_id: UUID | None,
    tool: str,
    tool_arguments: dict[str, Any],
    *,
    api_base_url: str | None,
    remaining_ms: int,
) -> ToolCallResponse:
    """A tool of a given registry server, on the named connection or the caller's first one to it."""
    if connection_id is None:
        with tenant_transaction(identity.sub) as conn:
            row = repository.find_by_server(conn, server_name)
        if row is None:
            raise NotFound(
                f"No {server_name} connection: connect one with POST /api/v1/mcp/connect",
                code="connection_not_found",
            )
        connection_id = row["id"]
    assert connection_id is not None
    return call_tool(
        identity,
        connection_id,
        tool,
        tool_arguments,
        api_base_url=api_base_url,
        remaining_ms=remaining_ms,
        expected_server=server_name,
    )


def ask_deepwiki(
    identity: Identity, request: DeepWikiAsk, *, api_base_url: str | None, remaining_ms: int
) -> DeepWikiAnswer:
    """DeepWiki's `ask_question` on the caller's connection: the question and the server's answer."""
    response = call_server_tool(
        identity,
        "deepwiki",
        request.connection_id,
        "ask_question",
        {"repoName": request.repo_name, "question": request.question},
        api_base_url=api_base_url,
        remaining_ms=remaining_ms,
    )
    texts = [block["text"] for block in response.result.content if block.get("type") == "text"]
    return DeepWikiAnswer(
        **response.model_dump(),
        repo_name=request.repo_name,
        question=request.question,
        answer="\n\n".join(str(text) for text in texts),
    )
