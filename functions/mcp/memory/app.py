"""POST /api/v1/mcp/memory/{operation}: a tool of the caller's Memory server (knowledge graph)."""

from __future__ import annotations

from typing import Literal

from auralink.http import api_base_url, current_identity, lambda_handler_for, make_resolver, remaining_ms
from auralink.mcp import tools
from auralink.mcp.models import HostedToolRequest, ToolCallResponse

MemoryOperation = Literal[
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
]

app = make_resolver()


@app.post("/api/v1/mcp/memory/<operation>", summary="Use the Memory server", tags=["mcp shortcuts"])
def memory(operation: MemoryOperation, request: HostedToolRequest) -> ToolCallResponse:
    return tools.call_server_tool(
        current_identity(app),
        "memory",
        request.connection_id,
        operation,
        request.arguments,
        api_base_url=api_base_url(app),
        remaining_ms=remaining_ms(app),
    )


lambda_handler = lambda_handler_for(app)
