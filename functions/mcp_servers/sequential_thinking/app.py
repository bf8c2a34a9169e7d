"""ANY /mcp/sequential-thinking: the hosted Sequential Thinking MCP server."""

from __future__ import annotations

from auralink.mcp.hosted.app import lambda_handler_for
from auralink.mcp.hosted.thinking import server

lambda_handler = lambda_handler_for(server)
